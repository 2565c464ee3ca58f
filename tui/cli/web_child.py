"""Provides the entry point of an app process started by `vfio-tui web` (one per browser tab).

It asks the kernel to send it SIGTERM when the server process dies (prctl PR_SET_PDEATHSIG),
so that killing the server, even with SIGKILL, never leaves app processes behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""


def die_with_parent() -> None:
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    # The parent may have died before prctl took effect: then we were re-parented already.
    if os.getppid() != parent:
        sys.exit(0)


def main() -> int:
    die_with_parent()
    from vfio_tui.tui.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
