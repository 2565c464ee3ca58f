"""Run `vfio-tui ARGS` and send it SIGNAL right after the Nth step event of its passthrough run.

    python signal_after.py SIGNAL N ARGS...     (SIGNAL: INT or HUP; N = 0: never; prints "EVENTS <n>")

Ctrl-C at any point of a `pass`, or the SSH session dropping under it (SIGHUP): the CLI must roll back
or leave a record that `undo` finishes, and say which.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    sig, n = signal.Signals[f"SIG{sys.argv[1]}"], int(sys.argv[2])
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a terminal has it, even in a background job
    import vfio_tui.core.passthrough as passthrough
    import vfio_tui.core.passthrough.run as run_module
    from vfio_tui.core.steps import StepEvent

    real = run_module.run_passthrough
    seen = [0]

    def run_and_signal(plan: Any, on_step: Any = None, **kwargs: Any) -> Any:
        def step(event: StepEvent) -> None:
            if on_step is not None:
                on_step(event)
            seen[0] += 1
            if seen[0] == n:
                os.kill(os.getpid(), sig)

        return real(plan, step, **kwargs)

    passthrough.run_passthrough = run_and_signal
    from vfio_tui.tui.cli import main as cli

    rc = cli(sys.argv[3:])
    print(f"EVENTS {seen[0]}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
