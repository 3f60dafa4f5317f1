"""``python -m ads_platform.sandbox``: see ``cli.py``."""

import sys

from .cli import main

sys.exit(main())
