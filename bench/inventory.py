"""Benchmark (not a test): `vfio-tui inventory` on synthetic hosts (two PCI domains, on tmpfs),
against `lspci -nnk`, the C raw floor (bench/rawfloor.c: the same syscalls, no Python) and the
classic per-device shell loop, on the same tree, in alternating rounds; prints medians.

    python bench/inventory.py              # the 4,096-function rows and the scaling curve
    BENCH_SIZES=64,4096 BENCH_ROUNDS=5 python bench/inventory.py

Goals (issue 15): whole process <= 1.0x lspci -nnk; the read <= 2x the raw floor; >= 150x the
shell loop; peak RSS <= 80 MB; time per function flat from 64 to 16,384 functions.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROUNDS, Sample, alternate, build_rawfloor, python_env, run_child, synthetic_tree, timed  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "64,256,1024,4096,16384").split(",")]
MAIN_SIZE = 4096
#: Iterations of the shell loop timed on the big tree; every iteration is one whole `lspci -s`
#: run (a full scan of the tree), so the loop's time is this sample times functions / LOOP_SAMPLE.
LOOP_SAMPLE = int(os.environ.get("BENCH_LOOP_SAMPLE", "256"))


@dataclass
class SizeResult:
    functions: int
    samples: dict[str, Sample]


def shell_loop(tree: Path, lspci: str, limit: int | None) -> list[str]:
    """The classic loop (the seed blog's script): every group, every device, one lspci each."""
    sysfs = f"{tree}/sys/bus/pci"
    stop = f'n=$((n+1)); [ "$n" -ge {limit} ] && exit 0; ' if limit else ""
    script = (f'n=0; for g in $(ls {tree}/sys/kernel/iommu_groups); do '
              f'for d in {tree}/sys/kernel/iommu_groups/$g/devices/*; do '
              f'echo "IOMMU group $g $({lspci} -A linux-sysfs -O sysfs.path={sysfs} -nns ${{d##*/}})"; '
              f'{stop}done; done')
    return ["bash", "-c", script]


def measure(tree: Path, functions: int, floor: Path | None, *, with_lspci: bool) -> SizeResult:
    from core.host import HostOptions, open_host

    def read() -> None:
        # What the CLI does before printing: open the host, read it (names, host use, verdicts).
        open_host(HostOptions(root=tree)).inventory()

    env = python_env()
    lspci = shutil.which("lspci")
    contenders = {
        "vfio-tui": lambda: run_child([sys.executable, "-m", "tui", "inventory", "--root", str(tree), "--json"],
                                      env=env),
        "read": timed(read),
    }
    if floor is not None:
        contenders["floor"] = lambda: run_child([str(floor), str(tree)])
    if with_lspci and lspci:
        contenders["lspci"] = lambda: run_child([lspci, "-A", "linux-sysfs", "-O",
                                                 f"sysfs.path={tree}/sys/bus/pci", "-nnk"])
    return SizeResult(functions, alternate(contenders))


def measure_loop(tree: Path, functions: int) -> tuple[float, float, int]:
    """Median seconds of the shell loop (extrapolated past LOOP_SAMPLE iterations) and of
    vfio-tui whole-process, alternating; and the iterations actually run."""
    lspci = shutil.which("lspci")
    assert lspci is not None
    limit = LOOP_SAMPLE if functions > LOOP_SAMPLE else None
    env = python_env()
    samples = alternate({
        "loop": lambda: run_child(shell_loop(tree, lspci, limit)),
        "vfio-tui": lambda: run_child([sys.executable, "-m", "tui", "inventory", "--root", str(tree), "--json"],
                                      env=env),
    }, rounds=5)
    loop = samples["loop"].median * (functions / limit if limit else 1.0)
    return loop, samples["vfio-tui"].median, limit or functions


def main() -> int:
    floor = build_rawfloor()
    results: list[SizeResult] = []
    loop_rows: list[str] = []
    for size in SIZES:
        with synthetic_tree(size) as (tree, n):
            res = measure(tree, n, floor, with_lspci=size == MAIN_SIZE)
            results.append(res)
            if size == MAIN_SIZE and shutil.which("lspci"):
                s = res.samples
                print(f"{n} functions, medians of {ROUNDS} alternating rounds:")
                for name, sample in s.items():
                    rss = f", peak RSS {sample.max_rss_kib / 1024:.1f} MiB" if sample.max_rss_kib else ""
                    print(f"  {name:9s} {sample.median:7.3f} s  (min {min(sample.seconds):.3f}){rss}")
                print(f"  vfio-tui / lspci -nnk  {s['vfio-tui'].median / s['lspci'].median:5.2f}x   [goal <= 1.0x]")
                if "floor" in s:
                    print(f"  read / raw floor       {s['read'].median / s['floor'].median:5.2f}x   [goal <= 2x]")
                    print(f"  vfio-tui / raw floor   {s['vfio-tui'].median / s['floor'].median:5.2f}x   "
                          "(whole process: Python start-up and JSON included)")
                loop, ours, ran = measure_loop(tree, n)
                loop_rows.append(f"  shell loop {loop:8.1f} s ({ran} of {n} iterations timed), vfio-tui {ours:.3f} s:"
                                 f" {loop / ours:,.0f}x   [goal >= 150x]")
    print("\n".join(loop_rows))
    print("\nscaling (medians; microseconds per function):")
    print(f"{'functions':>9} {'read':>8} {'vfio-tui':>9} {'floor':>8}   "
          f"{'read/fn':>8} {'vfio-tui/fn':>11} {'floor/fn':>8}")
    for res in results:
        s = res.samples
        fl = s.get("floor")
        line = (f"{res.functions:>9} {s['read'].median:8.3f} {s['vfio-tui'].median:9.3f} "
                f"{fl.median if fl else float('nan'):8.3f}   {s['read'].median / res.functions * 1e6:8.1f} "
                f"{s['vfio-tui'].median / res.functions * 1e6:11.1f} "
                f"{(fl.median / res.functions * 1e6) if fl else float('nan'):8.1f}")
        print(line)
    per_fn = [r.samples["read"].median / r.functions for r in results]
    print(f"read per function, max/min over sizes: {max(per_fn) / min(per_fn):.2f}"
          f" (median {statistics.median(per_fn) * 1e6:.1f} us)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
