"""``python -m textlens``: the textlens command line."""

import sys

from textlens._cli import main

sys.exit(main())
