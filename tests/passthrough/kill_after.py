"""Run `vfio-tui ARGS` and SIGKILL it right after the Nth step event of its passthrough run.

    python kill_after.py N ARGS...      (N = 0: never; prints "EVENTS <n>" to stderr at the end)

The kill lands between two steps of the transaction — after a sysfs write, a libvirt call, a phase —
as `kill -9`, a power cut or a dropped SSH session would.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    n = int(sys.argv[1])
    import vfio_tui.core.passthrough as passthrough
    import vfio_tui.core.passthrough.run as run_module
    from vfio_tui.core.steps import StepEvent

    real = run_module.run_passthrough
    seen = [0]

    def run_and_kill(plan: Any, on_step: Any = None, **kwargs: Any) -> Any:
        def step(event: StepEvent) -> None:
            if on_step is not None:
                on_step(event)
            seen[0] += 1
            if seen[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)

        return real(plan, step, **kwargs)

    passthrough.run_passthrough = run_and_kill
    from vfio_tui.tui.cli import main as cli

    rc = cli(sys.argv[2:])
    print(f"EVENTS {seen[0]}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
