"""Runs the app on the demo host for the tmux test and the screenshot script.

With core's binding and libvirt parts present it is exactly `vfio-tui --demo`; until they
land, the host-changing calls are answered by the scripted FakeBackend.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def core_complete() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("core.binding", "core.libvirt"))


def main() -> int:
    from core.host import HostOptions

    if core_complete() and "--fake" not in sys.argv:
        from tui.app import run_app

        return run_app(HostOptions(demo=True))
    from fake_backend import FakeBackend

    from core.host import open_host
    from tui.app import make_app

    with open_host(HostOptions(demo=True)) as host:
        fail_at = sys.argv[sys.argv.index("--fail-at") + 1] if "--fail-at" in sys.argv else None
        return int(make_app(host, backend=FakeBackend(host, fail_at=fail_at, step_delay=0.2)).run() or 0)


if __name__ == "__main__":
    sys.exit(main())
