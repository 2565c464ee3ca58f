"""Run `vfio-tui ARGS` with a fault at the Nth commit of a config-file write (python fault_after.py MODE N ROOT ARGS...).

A commit is a core.safefile.replace() onto, or a core.safefile.unlink() of, a file under ROOT/etc or
ROOT/var/lib/vfio-tui/config (the config files vfio-tui edits, their backups and the config journal): each is
one step of a config change (safefile is the one writer of every file vfio-tui writes).
MODE: eio (that commit fails with EIO), enospc-journal (the Nth commit of the config journal fails with
ENOSPC), kill-after (SIGKILL right after the commit), int-before / hup-before (SIGINT / SIGHUP right before
it). Prints "COMMITS <n>" to stderr at the end (N = 0: no fault, to count them).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    mode, n, root = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]).resolve()
    # Ctrl-C as a terminal delivers it, even when the tests run in a background job (a shell's `&` starts
    # its commands with SIGINT ignored, and Python then installs no handler: the fault would be lost).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    watched = (str(root / "etc") + "/", str(root / "var/lib/vfio-tui/config") + "/",
               str(root / "var/lib/vfio-tui/runs") + "/")  # the run records of SR-IOV changes
    seen = [0]

    def step(target: Any) -> bool:
        """Count a commit to a watched path; True when this is the one the fault is for."""
        path = os.fspath(target)
        if not path.startswith(watched):
            return False
        if mode == "enospc-journal" and not path.endswith("/config/journal.json"):
            return False
        seen[0] += 1
        return seen[0] == n

    def commit(real: Any, target: Any, *args: Any, **kw: Any) -> Any:
        hit = step(target)
        if hit and mode == "eio":
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(target))
        if hit and mode == "enospc-journal":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(target))
        if hit and mode in ("int-before", "hup-before"):
            os.kill(os.getpid(), signal.SIGINT if mode == "int-before" else signal.SIGHUP)
        result = real(*args, **kw)
        if hit and mode == "kill-after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    from vfio_tui.core import safefile

    real_replace, real_unlink = safefile.replace, safefile.unlink
    safefile.replace = lambda root_, path, data, **kw: commit(real_replace, path, root_, path, data, **kw)
    safefile.unlink = lambda root_, path, **kw: commit(real_unlink, path, root_, path, **kw)
    from vfio_tui.tui.cli import main as cli

    rc = cli(sys.argv[4:])
    print(f"COMMITS {seen[0]}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
