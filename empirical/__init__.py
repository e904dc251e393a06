"""reconscale.empirical — training reconstruction networks across N and width (torch).

Not built yet (issue "empirical"): nothing here is importable API so far.
"""

__all__: list[str] = []
