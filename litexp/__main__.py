"""``python -m litexp``: the command line of :mod:`litexp.cli`."""

import sys

from .cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
