"""Runs vfio-tui's passthrough transaction on the lab guest's live host, bind only (no VM): `plan ADDR`,
`run ADDR` or `undo RUN`; prints one JSON object. The GPU lab case runs it as a subprocess, as root."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> int:
    from vfio_tui.core.host import HostOptions
    from vfio_tui.core.open_host import open_host
    from vfio_tui.core.passthrough import plan_passthrough, run_passthrough, undo_passthrough

    verb, arg = sys.argv[1], sys.argv[2]
    with open_host(HostOptions()) as host:
        if verb == "undo":
            undone = undo_passthrough(host, None, arg)
            print(json.dumps(undone.to_json()))
            return 0 if undone.ok else 1
        plan = plan_passthrough(host, None, arg, None, checks=False)
        out: dict[str, object] = {"plan": plan.to_json()}
        if verb == "run" and plan.ok:
            result = run_passthrough(plan)
            out["result"] = result.to_json()
            out["steps"] = [e.to_json() for e in result.events]
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
