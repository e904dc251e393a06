"""reconscale.bridge — fits and figures joining theory and experiment (numpy/scipy/matplotlib).

Not built yet (issue "bridge"); today it holds the ``reconscale`` console entry point, which
dispatches lazily to each package's commands. Never imports torch.
"""

__all__: list[str] = []
