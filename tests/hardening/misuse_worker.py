"""Runs misuse cases inside one process (python -m tests.hardening.misuse_worker CASES.json OUT.jsonl).

One process per environment instead of one per case: `vfio-tui` is started in-process through
tui.cli.main() for each case, so a table of thousands of cases takes a minute, not an hour. Each
result is appended to OUT.jsonl as soon as it is known, so a case that kills the worker is named
(the test restarts the worker after it). A case gets `limit` seconds (SIGALRM) before it counts as
a hang; the data segment is capped so that an endless input (/dev/zero) fails fast instead of
eating this shared machine's memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import signal
import sys
import tempfile
import threading
import time
import traceback
from types import FrameType
from typing import Any

MEMORY_CAP = 1 << 30
"""Bytes of data segment a worker may use: far above any sane input, far below the machine's RAM."""
OUTPUT_CAP = 20_000


class Hang(BaseException):
    """The case did not finish within its time limit (a BaseException: main() must not catch it)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


def _fed_fifo(scratch: str) -> str:
    """A new FIFO that a thread fills with 64 KiB of binary junk once it is opened: a pipe as the user
    gives one (`--host-snapshot <(cmd)`), with garbage in it. A FIFO nobody opens keeps its thread
    waiting (a daemon: it dies with the worker)."""
    fd, path = tempfile.mkstemp(prefix="fifo-", dir=scratch)
    os.close(fd)
    os.unlink(path)
    os.mkfifo(path, 0o600)

    def feed() -> None:
        with contextlib.suppress(OSError), open(path, "wb") as pipe:
            pipe.write(random.Random(path).randbytes(64 << 10))

    threading.Thread(target=feed, daemon=True).start()
    return path


def run_case(argv: list[str], limit: float, scratch: str = "/tmp") -> dict[str, Any]:
    from vfio_tui.tui.cli import main

    argv = [_fed_fifo(scratch) if word == "{FIFO}" else word for word in argv]

    out, err = io.StringIO(), io.StringIO()
    code: int | None = None
    escaped = ""
    hang = False
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, limit)
    saved_stdin = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))  # not a terminal: nothing is confirmed, `-` reads nothing
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Hang:
        hang = True
    except BaseException:  # noqa: BLE001 - what escaped main() is exactly what the table reports
        escaped = traceback.format_exc()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdin = saved_stdin
    return {"code": code, "out": out.getvalue()[:OUTPUT_CAP], "err": err.getvalue()[:OUTPUT_CAP],
            "escaped": escaped[-OUTPUT_CAP:], "hang": hang, "seconds": round(time.monotonic() - t0, 3)}


def main() -> int:
    cases_file, out_file = sys.argv[1], sys.argv[2]
    with open(cases_file) as f:
        spec = json.load(f)
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_CAP, MEMORY_CAP))
    signal.signal(signal.SIGALRM, _alarm)
    os.environ.pop("VFIO_TUI_DEBUG", None)
    with open(out_file, "a") as sink:
        for case in spec["cases"]:
            result = run_case(case["argv"], case.get("limit", spec.get("limit", 30.0)), spec["scratch"])
            sink.write(json.dumps({"id": case["id"], **result}) + "\n")
            sink.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
