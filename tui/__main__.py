"""`python -m tui` runs the vfio-tui command line."""

import sys

from tui.cli import main

sys.exit(main())
