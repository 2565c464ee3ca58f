"""Another checkout's vfio-tui for tests/lab/bench_bind.py --against: warm in its own process, one
bind + verify + restore round (as bench_bind.py's `vfio-tui` times it) per line read, the seconds
written back. An A/B in one guest: a TCG guest's speed moves from run to run, and the ratio with it.

    python bench_worker.py CHECKOUT ADDRESS GROUP     (started by bench_bind.py, never by hand)
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    checkout, address, group = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.path[:0] = [str(HERE), checkout]
    import kview

    from vfio_tui.tui.cli import main as cli

    if not cli.__code__.co_filename.startswith(checkout):
        print(f"bench_worker: vfio_tui came from {cli.__code__.co_filename}, not {checkout}", file=sys.stderr)
        return 2
    before = kview.bindings()[address]

    def one_round() -> None:
        sink = io.StringIO()
        for args in (["bind", address, "--yes"], ["restore", address]):
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                rc = cli(args)
            if rc != 0:
                raise RuntimeError(f"{checkout}: vfio-tui {' '.join(args)} -> {rc}: {sink.getvalue()[-300:]}")
            if args[0] == "bind":
                if not kview.wait_for(lambda: group in kview.dev_vfio_groups(), timeout=10) \
                        or kview.bindings()[address][0] != "vfio-pci":
                    raise RuntimeError(f"{checkout}: {address} not bound")
            elif not kview.wait_for(lambda: kview.bindings()[address] == before, timeout=10):
                raise RuntimeError(f"{checkout}: {address} not restored")

    one_round()  # warm-up: imports, page cache
    print("ready", flush=True)
    for _ in sys.stdin:
        t0 = time.perf_counter()
        one_round()
        print(time.perf_counter() - t0, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
