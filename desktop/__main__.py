"""``python -m desktop``: the desktop chat client."""

import sys

from .cli import main

sys.exit(main())
