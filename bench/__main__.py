"""``python -m fastffi.bench`` (same as ``python -m fastffi bench``)."""

import sys

from .run import main

sys.exit(main(sys.argv[1:]))
