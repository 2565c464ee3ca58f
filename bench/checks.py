"""Benchmark: wall time of `vfio-tui check` on the demo host and on a typical recorded host.

Prints numbers; not a test. Target: < 1 s per run. Usage: python bench/checks.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vfio_tui.core.checks import run_checks  # noqa: E402
from vfio_tui.core.host import HostOptions  # noqa: E402
from vfio_tui.core.open_host import open_host  # noqa: E402

LAB = ROOT.parent / "shared" / "lab" / "snapshots" / "q35-viommu.json"


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def show(label: str, times: list[float]) -> None:
    print(f"{label:<66} median {statistics.median(times) * 1000:7.1f} ms   max {max(times) * 1000:7.1f} ms"
          f"   (n={len(times)})")


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    hosts = [("demo host", HostOptions(demo=True), "0000:0b:00.0", "vfio_test")]
    if LAB.exists():
        hosts.append(("lab q35 VT-d guest (recorded, 26 functions, 17 groups)", HostOptions(snapshot=LAB),
                      "0000:04:01.0", None))
    for label, opts, addr, vm in hosts:
        with open_host(opts) as host:
            show(f"run_checks, {label}", timed(lambda h=host: run_checks(h), runs))
            show(f"run_checks --for {addr}" + (f" --vm {vm}" if vm else ""),
                 timed(lambda h=host, a=addr, v=vm: run_checks(h, for_address=a, vm=v), runs))
    live = HostOptions()
    with open_host(live) as host:
        show("run_checks, this machine (live /sys, /proc, /etc; read only)", timed(lambda: run_checks(host), runs))
    cli = [sys.executable, "-m", "vfio_tui", "check", "--demo"]
    show("`vfio-tui check --demo` (whole process, incl. start-up)",
         timed(lambda: subprocess.run(cli, cwd=ROOT, capture_output=True, check=False), max(3, runs // 3)))
    cli = [sys.executable, "-m", "vfio_tui", "check"]
    show("`vfio-tui check` on this machine (whole process)",
         timed(lambda: subprocess.run(cli, cwd=ROOT, capture_output=True, check=False), max(3, runs // 3)))


if __name__ == "__main__":
    main()
