"""Benchmark: `vfio-tui inventory` on synthetic hosts of 64/512/4,096 functions, against
`lspci -nnk` and the classic shell loop over /sys/kernel/iommu_groups, on the same tree.

Prints wall time (best of N), peak RSS, and ratios. Not a test: run `python bench/inventory.py`.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.simulated.materialize import materialize  # noqa: E402
from core.simulated.synthetic import synthetic_snapshot  # noqa: E402
from core.sysfs_reader import read_inventory  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "64,512,4096").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


def run_timed(argv: list[str], *, shell: bool = False, repeat: int = REPEAT) -> tuple[float, int]:
    """Best wall time in seconds and the peak RSS (KiB) of the child."""
    best = float("inf")
    peak = 0
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        subprocess.run(argv if not shell else ["bash", "-c", argv[0]], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        best = min(best, time.perf_counter() - t0)
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return best, peak


def main() -> None:
    lspci = shutil.which("lspci")
    print(f"{'functions':>9} {'vfio-tui':>9} {'in-proc':>8} {'RSS MiB':>8} {'lspci -nnk':>10} "
          f"{'ratio':>6} {'shell loop':>10} {'speedup':>8}")
    for size in SIZES:
        with tempfile.TemporaryDirectory(prefix="vfio-bench-") as tmp:
            materialize(synthetic_snapshot(size, domains=2), Path(tmp))
            n = len(os.listdir(Path(tmp) / "sys/bus/pci/devices"))
            t0 = time.perf_counter()
            from core.host import HostOptions
            from core.open_host import open_host
            host = open_host(HostOptions(root=Path(tmp)))
            read_inventory(host.paths, pci_ids=host.pci_ids)
            inproc = time.perf_counter() - t0
            ours, rss = run_timed([sys.executable, "-m", "tui", "inventory", "--root", tmp, "--json"])
            line = f"{n:>9} {ours:>8.3f}s {inproc:>7.3f}s {rss / 1024:>8.1f}"
            if lspci:
                sysfs = f"{tmp}/sys/bus/pci"
                theirs, _ = run_timed([lspci, "-A", "linux-sysfs", "-O", f"sysfs.path={sysfs}", "-nnk"])
                loop_cmd = (f'for g in $(ls {tmp}/sys/kernel/iommu_groups); do '
                            f'for d in {tmp}/sys/kernel/iommu_groups/$g/devices/*; do '
                            f'echo "IOMMU group $g $({lspci} -A linux-sysfs -O sysfs.path={sysfs} -nns ${{d##*/}})"; '
                            f'done; done')
                # The classic shell loop is the thing being measured, so it runs in bash on purpose.
                loop, _ = run_timed([loop_cmd], shell=True, repeat=1)
                line += f" {theirs:>9.3f}s {ours / theirs:>6.2f} {loop:>9.2f}s {loop / ours:>7.0f}x"
            else:
                line += "   (lspci not installed: apt-get install pciutils)"
            print(line, flush=True)


if __name__ == "__main__":
    main()
