"""``python -m server`` runs the textlens-server command line."""

import sys

from server.cli import main

sys.exit(main())
