"""Run `vfio-tui ARGS` and SIGKILL it at its Nth sysfs write (lab guest only).

usage: python crash_after.py MODE N ARGS...
  MODE before  kill just before the Nth write under /sys (what was journalled is not yet done)
  MODE after   kill just after the Nth write returned (done, maybe not yet journalled as done)
  MODE count   kill nothing; print "SYSFS-WRITES <n>" and each write on stderr at exit

Every kernel change vfio-tui makes goes through core.kernel.LiveKernel, which writes with
os.write(); this wraps os.write in the process, so the kill lands exactly between steps, as
`kill -9`, a power cut or a dropped SSH session would.
"""

from __future__ import annotations

import atexit
import os
import runpy
import signal
import sys
import threading

_real_write = os.write
_count = 0
_log: list[str] = []
_lock = threading.Lock()


def _sysfs_path(fd: int) -> str | None:
    try:
        path = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return path if path.startswith("/sys/") else None


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    args = sys.argv[3:]

    def write(fd: int, data: bytes) -> int:
        global _count
        path = _sysfs_path(fd)
        if path is None:
            return _real_write(fd, data)
        with _lock:
            _count += 1
            k = _count
        _log.append(f"{k}: {path} <- {bytes(data)!r}")
        if mode == "before" and k == n:
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            return _real_write(fd, data)
        finally:
            if mode == "after" and k == n:
                os.kill(os.getpid(), signal.SIGKILL)

    os.write = write  # type: ignore[assignment]
    if mode == "count":
        def report() -> None:
            print(f"SYSFS-WRITES {_count}", file=sys.stderr)
            for line in _log:
                print(f"SYSFS-WRITE {line}", file=sys.stderr)
        atexit.register(report)
    sys.argv = ["vfio-tui", *args]
    try:
        runpy.run_module("vfio_tui", run_name="__main__", alter_sys=True)
    finally:
        if mode == "count":
            sys.stderr.flush()


if __name__ == "__main__":
    main()
