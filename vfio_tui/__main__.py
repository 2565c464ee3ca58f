"""`python -m vfio_tui` runs the vfio-tui command line."""

import sys

from vfio_tui.tui.cli import main

sys.exit(main())
