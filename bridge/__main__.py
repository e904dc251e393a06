"""``python -m bridge …`` is the same as ``reconscale …`` (the console script ``bridge.cli:main``).

Use it where the console script is not on PATH, e.g. ``python -m bridge --version`` or
``python -m bridge theory curve --n 100 --d 10``.
"""

import sys

from .cli import main

sys.exit(main())
