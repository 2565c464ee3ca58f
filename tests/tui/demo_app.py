"""Runs the app on the demo host (exactly `vfio-tui --demo`, with the real core) for the tmux test.

    python tests/tui/demo_app.py [--demo-pace S]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    from vfio_tui.core.host import HostOptions
    from vfio_tui.tui.app import run_app

    pace = float(sys.argv[sys.argv.index("--demo-pace") + 1]) if "--demo-pace" in sys.argv else None
    return run_app(HostOptions(demo=True, demo_pace=pace))


if __name__ == "__main__":
    sys.exit(main())
