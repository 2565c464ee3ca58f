"""Benchmark (not a test): plan + apply + verify + restore on the simulated kernel, time per step.

Cases: one endpoint (the demo's 0b:00.0, alone in group 19) and a 4-function group (a synthetic
host with a 4-port igb NIC, 01:00.0-.3, alone in its group behind an ACS root port). Also the raw
sysfs sequence (the same three writes per function with no planning, journal or verification) for
the overhead ratio; on the real kernel the target is <= 1.3x the raw sequence (lab issue).

    python bench/binding.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vfio_tui.core.binding import apply_plan, plan_bind, restore  # noqa: E402
from vfio_tui.core.host import Host, HostOptions  # noqa: E402
from vfio_tui.core.open_host import create_sim_host, open_host  # noqa: E402
from vfio_tui.core.simulated.demo_host import demo_snapshot  # noqa: E402
from vfio_tui.core.simulated.synthetic import HostBuilder  # noqa: E402


def four_function_snapshot() -> dict[str, object]:
    b = HostBuilder(label="bench: 4-function group", kernel="6.1.0-28-amd64", cmdline="intel_iommu=on",
                    extra_drivers=("igb",))
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0)
    b.add("0000:00:01.0", 0x8086, 0x3408, 0x060400, group=1, header_type=1, driver="pcieport", pcie="root_port",
          buses=(0, 1, 1))
    for fn in range(4):
        b.add(f"0000:01:00.{fn}", 0x8086, 0x1521, 0x020000, group=2, parent="0000:00:01.0", driver="igb",
              pcie="endpoint", multifunction=True, flr=True, reset="flr bus")
    return b.snapshot({"schema": "vfio-tui/host-extras/1"})


def sim(snapshot: dict[str, object], tmp: Path, name: str) -> Host:
    create_sim_host(tmp / name, snapshot)
    return open_host(HostOptions(root=tmp / name))


def raw_sequence(host: Host, addresses: list[str]) -> tuple[float, float]:
    """The bare libvirt-style writes (bind, then restore), as a shell script would do them."""
    k, p = host.kernel, host.paths
    t0 = time.perf_counter()
    for a in addresses:
        k.write(p.pci_device(a) / "driver_override", "vfio-pci")
    for a in addresses:
        k.write(p.pci_device(a) / "driver" / "unbind", a)
    for a in addresses:
        k.write(p.pci_bus / "drivers_probe", a)
    t1 = time.perf_counter()
    for a in addresses:
        k.write(p.pci_driver("vfio-pci") / "unbind", a)
    for a in addresses:
        k.write(p.pci_device(a) / "driver_override", "\n")
    for a in addresses:
        k.write(p.pci_driver("igb" if "01:00" in a else "qla2xxx") / "bind", a)
    return t1 - t0, time.perf_counter() - t1


def bench(host: Host, target: str, rounds: int) -> None:
    phases: dict[str, list[float]] = defaultdict(list)
    per_kind: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        t = time.perf_counter()
        plan = plan_bind(host, target)
        phases["plan"].append(time.perf_counter() - t)
        result = apply_plan(host, plan)
        phases["apply (journal+writes)"].append(result.total_seconds - result.verify_seconds)
        phases["verify"].append(result.verify_seconds)
        for step, secs in result.step_times:
            per_kind[f"write {step.kind}"].append(secs)
        t = time.perf_counter()
        restore(host, all=True)
        phases["restore"].append(time.perf_counter() - t)
    addresses = list(plan.endpoints)
    raw_bind, raw_restore = zip(*(raw_sequence(host, addresses) for _ in range(rounds)), strict=True)
    n = len(addresses)
    print(f"\n{target}: group {plan.group}, {n} function(s), {len(plan.steps)} steps, {rounds} rounds")
    print(f"  {'ms':<26} {'median':>8} {'min':>8}")
    for name, values in {**phases, **per_kind}.items():
        print(f"  {name:<26} {statistics.median(values) * 1000:8.2f} {min(values) * 1000:8.2f}")
    total = sum(statistics.median(v) for v in phases.values())
    total_min = sum(min(v) for v in phases.values())
    raw = statistics.median(raw_bind) + statistics.median(raw_restore)
    raw_min = min(raw_bind) + min(raw_restore)
    print(f"  {'total plan..restore':<26} {total * 1000:8.2f} {total_min * 1000:8.2f}")
    print(f"  {'raw sysfs bind+restore':<26} {raw * 1000:8.2f} {raw_min * 1000:8.2f}"
          f"   (ratio {total / raw:.1f}x median, {total_min / raw_min:.1f}x min, simulated kernel)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vfio-tui-bench-") as d:
        tmp = Path(d)
        bench(sim(demo_snapshot(), tmp, "demo"), "0000:0b:00.0", args.rounds)
        bench(sim(four_function_snapshot(), tmp, "four"), "0000:01:00.0", args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
