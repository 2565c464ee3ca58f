"""Benchmark: attach / start / detach through vfio-tui's libvirt layer.

1. libvirt's test driver (the --demo hypervisor): plan_attach, apply_attach (defineXML
   fallback), start_domain, destroy, detach, in-process, and the CLI end to end.
2. A real libvirtd + QEMU 7.2 (private, in namespaces, as the integration test does) when
   root and the packages are there: attachDeviceFlags, start of a TCG domain without a hostdev,
   start with a hostdev (fails at once with "host doesn't support VFIO PCI passthrough" on a
   machine without an IOMMU: the time to a FailureRecord), detach.

Prints medians and minimums. Not a test: run `python bench/libvirt.py` (BENCH_REPEAT=N).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is named libvirt.py: drop its own directory from the path, or `import libvirt`
# would import this script instead of libvirt-python.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))

from vfio_tui.core.host import HostOptions  # noqa: E402
from vfio_tui.core.libvirt import apply_attach, detach, open_hypervisor, plan_attach, start_domain  # noqa: E402
from vfio_tui.core.open_host import create_sim_host, open_host  # noqa: E402
from vfio_tui.core.simulated.demo_host import demo_snapshot  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "20"))
ADDR = "0000:0b:00.0"
PLAIN_DOMAIN = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><on_poweroff>destroy</on_poweroff>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator><memballoon model='none'/></devices></domain>"""


def report(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for name, values in times.items():
        print(f"  {name:<40} median {statistics.median(values) * 1000:9.2f} ms"
              f"   min {min(values) * 1000:9.2f} ms   (n={len(values)})")


def flow(uri: str | None, host_opts: HostOptions, vm: str, repeat: int, *, demo: bool) -> dict[str, list[float]]:
    """plan -> attach (config) -> start -> destroy -> detach, `repeat` times."""
    times: dict[str, list[float]] = defaultdict(list)
    with open_host(host_opts) as host, open_hypervisor(uri, demo=demo) as hv:
        host.inventory()  # warm the pci.ids cache once, as a long-running TUI would
        for _ in range(repeat):
            t0 = time.perf_counter()
            plan = plan_attach(host, hv, ADDR, vm)
            t1 = time.perf_counter()
            apply_attach(hv, plan)
            t2 = time.perf_counter()
            result = start_domain(hv, vm, host)
            t3 = time.perf_counter()
            if result.ok:
                hv.lookup(vm).destroy()
            t4 = time.perf_counter()
            detach(hv, ADDR, vm)
            t5 = time.perf_counter()
            times["plan_attach (checks + diff)"].append(t1 - t0)
            times["apply_attach (config)"].append(t2 - t1)
            times["start_domain" + ("" if result.ok else " -> FailureRecord")].append(t3 - t2)
            if result.ok:
                times["destroy"].append(t4 - t3)
            times["detach (config)"].append(t5 - t4)
    return times


def cli_times(repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = defaultdict(list)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(max(3, repeat // 4)):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vfio_tui", "attach", ADDR, "vfio_test", "--demo", "--start"],
                       check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        times["vfio-tui attach --demo --start (CLI)"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "vfio_tui", "vms", "--demo"], check=True, stdout=subprocess.DEVNULL,
                       env=env, cwd=ROOT)
        times["vfio-tui vms --demo (CLI)"].append(time.perf_counter() - t0)
    return times


def real_libvirtd_inside(work: Path, sim_root: str, repeat: int) -> None:
    """Runs inside the private namespaces: time the flow on the real daemon, write JSON."""
    times: dict[str, list[float]] = defaultdict(list)
    with open_hypervisor("qemu:///system") as hv, open_host(HostOptions()) as live:
        hv.define(PLAIN_DOMAIN.format(name="bench-plain"))
        for _ in range(max(3, repeat // 4)):
            t0 = time.perf_counter()
            ok = start_domain(hv, "bench-plain", live).ok
            times["start TCG domain, no hostdev"].append(time.perf_counter() - t0)
            if not ok:
                raise SystemExit("the plain domain did not start")
            t0 = time.perf_counter()
            hv.lookup("bench-plain").destroy()
            times["destroy"].append(time.perf_counter() - t0)
        hv.lookup("bench-plain").undefine()
        hv.define(PLAIN_DOMAIN.format(name="bench-hostdev"))
    # plan against the simulated demo host (it has 0000:0b:00.0), apply on the real daemon
    times.update(flow("qemu:///system", HostOptions(root=Path(sim_root)), "bench-hostdev", repeat, demo=False))
    with open_hypervisor("qemu:///system") as hv:
        hv.lookup("bench-hostdev").undefine()
    (work / "times.json").write_text(json.dumps(times))


def real_libvirtd(repeat: int) -> None:
    needed = ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "unshare", "timeout")
    missing = [b for b in needed if shutil.which(b) is None] + (["root"] if os.geteuid() != 0 else [])
    if missing:
        print(f"real libvirtd: skipped (missing: {', '.join(missing)})")
        return
    if Path("/sys/bus/pci/devices", ADDR).exists():
        print(f"real libvirtd: skipped ({ADDR} exists on this machine)")
        return
    with tempfile.TemporaryDirectory(prefix="vfio-tui-bench-") as tmp:
        work = Path(tmp) / "lv"
        work.mkdir()
        sim_root = str(create_sim_host(Path(tmp) / "sim", demo_snapshot()).root)
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["timeout", "--kill-after=10", "600", "unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
             "--propagation", "private", "bash", str(ROOT / "scripts" / "private_libvirtd.sh"), str(work),
             sys.executable, __file__, "--inside", str(work), sim_root, str(repeat)],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
        total = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"real libvirtd: failed rc={proc.returncode}\n{proc.stderr[-2000:]}")
            return
        up = next((line for line in proc.stderr.splitlines() if line.startswith("libvirtd up after")), "")
        report(f"real libvirtd 9.0 + QEMU (private, in namespaces; {up}; whole run {total:.1f} s)",
               json.loads((work / "times.json").read_text()))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        real_libvirtd_inside(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
        return
    t0 = time.perf_counter()
    with open_hypervisor(None, demo=True):
        pass
    print(f"open the demo hypervisor (test driver + demo XML): {(time.perf_counter() - t0) * 1000:.1f} ms")
    report(f"test driver (--demo), {REPEAT} rounds, in process",
           flow(None, HostOptions(demo=True), "vfio_test", REPEAT, demo=True))
    report("test driver, CLI subprocesses (Python start-up included)", cli_times(REPEAT))
    real_libvirtd(REPEAT)


if __name__ == "__main__":
    main()
