"""The project's shared infrastructure: what every ``reconscale`` package leans on, and nothing of the science.

* :mod:`theory.infra.command` — the one command-line layer: one-line errors (exit 2), storage errors
  (exit 1), Ctrl-C / SIGTERM (exit 130 / 143);
* :mod:`theory.infra.io` — the one atomic write, JSON and the table formats every command shares;
* :mod:`theory.infra.validation` — one-line ``ValueError`` s for user-facing numbers (and N grids);
* :mod:`theory.infra.process` — child processes that die with their parent, and the memory a run may use.

It lives under ``theory`` because ``theory`` is the bottom of the import chain (``theory`` ←
``empirical``, ``theory`` ← ``bridge``) and these modules need only the standard library and numpy.
"""

__all__: list[str] = []
