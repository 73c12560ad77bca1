"""`python -m tui.cli`: the memtui command."""

import sys

from tui.cli import main

sys.exit(main())
