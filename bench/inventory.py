"""Benchmark (not a test): `vfio-tui inventory` on synthetic hosts (two PCI domains, on tmpfs),
against `lspci -nnk`, the C raw floor (bench/rawfloor.c: the same syscalls, no Python) and the
classic per-device shell loop, on the same tree, in alternating rounds; prints medians.

    python bench/inventory.py
    BENCH_SIZES=64,4096 BENCH_ROUNDS=5 python bench/inventory.py

Contenders (each round runs every one once, in rotating order):
  vfio-tui  `python -m vfio_tui inventory --root TREE --json`, a fresh process (output discarded)
  read      in this process: open_host + Host.inventory() (names, host use, verdicts; no JSON)
  floor     bench/rawfloor.c compiled with gcc -O2: the same opens/reads/readlinks/listings
  lspci     `lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -nnk`
  lspci+kmod  the same where libkmod finds a module index (a private mount namespace gives it
            one: a real Debian kernel's, see harness.kmod_index), as on an ordinary host
  loop      the seed blog's loop: for every group, for every device, `lspci -nns DEV`

Goals (issue 15): vfio-tui <= 1.0x lspci -nnk; read <= 2x the raw floor; >= 150x the shell loop;
peak RSS <= 80 MB; time per function flat from 64 to 16,384 functions.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    ROUNDS,
    Run,
    Sample,
    add_modalias,
    alternate,
    build_rawfloor,
    can_use_namespaces,
    kmod_index,
    kmod_namespace,
    python_env,
    run_child,
    synthetic_tree,
    timed,
)

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "64,256,1024,4096,16384").split(",")]
MAIN_SIZE = 4096
#: Iterations of the shell loop timed on the big tree. Every iteration is one whole `lspci -s`
#: run over the same tree (the same work each time), so the loop's time is this sample's time
#: times functions / LOOP_SAMPLE; timing all 4,096 (~90 s) five times would take 8 minutes.
LOOP_SAMPLE = int(os.environ.get("BENCH_LOOP_SAMPLE", "256"))


@dataclass
class SizeResult:
    functions: int
    samples: dict[str, Sample]


@dataclass
class LoopResult:
    loop_seconds: float
    """The whole loop's time (extrapolated when only LOOP_SAMPLE iterations ran)."""
    vfio_seconds: float
    iterations: int
    functions: int


@dataclass
class InventoryResults:
    sizes: list[SizeResult] = field(default_factory=list)
    main: SizeResult | None = None
    loop: LoopResult | None = None
    floor_built: bool = False
    instructions: dict[str, int] = field(default_factory=dict)
    """User-space instructions (callgrind) per contender: independent of the load, blind to the kernel."""
    scaling: dict[int, Sample] = field(default_factory=dict)
    """{functions: the in-process read of that host}, every size read once per round (see measure_scaling)."""
    scaling_rounds: int = 0


def vfio_argv(tree: Path) -> list[str]:
    return [sys.executable, "-m", "vfio_tui", "inventory", "--root", str(tree), "--json"]


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
    from vfio_tui.core.host import HostOptions
    from vfio_tui.core.open_host import open_host

    def read() -> None:
        # What the CLI does before printing: open the host, read it (names, host use, verdicts).
        open_host(HostOptions(root=tree)).inventory()

    env = python_env()
    lspci = shutil.which("lspci")
    contenders = {"vfio-tui": lambda: run_child(vfio_argv(tree), env=env), "read": timed(read)}
    if floor is not None:
        contenders["floor"] = lambda: run_child([str(floor), str(tree)])
    if not (with_lspci and lspci):
        return SizeResult(functions, alternate(contenders))
    lspci_argv = [lspci, "-A", "linux-sysfs", "-O", f"sysfs.path={tree}/sys/bus/pci", "-nnk"]
    contenders["lspci"] = lambda: run_child(lspci_argv)
    index = kmod_index()
    if index is None or not can_use_namespaces():
        return SizeResult(functions, alternate(contenders))
    # lspci -nnk as on a host with a module index: in a private mount namespace that has one,
    # with the namespace's own set-up timed alone (to subtract it).
    add_modalias(tree)
    with kmod_namespace(index) as wrap:
        contenders["lspci+kmod"] = lambda: run_child(wrap(lspci_argv))
        contenders["namespace"] = lambda: run_child(wrap(["true"]))
        return SizeResult(functions, alternate(contenders))


def measure_loop(tree: Path, functions: int) -> LoopResult:
    lspci = shutil.which("lspci")
    assert lspci is not None
    limit = LOOP_SAMPLE if functions > LOOP_SAMPLE else None
    env = python_env()
    samples = alternate({"loop": lambda: run_child(shell_loop(tree, lspci, limit)),
                         "vfio-tui": lambda: run_child(vfio_argv(tree), env=env)}, rounds=5)
    loop = samples["loop"].median * (functions / limit if limit else 1.0)
    return LoopResult(loop, samples["vfio-tui"].median, limit or functions, functions)


def measure_scaling(trees: dict[int, Path], rounds: int) -> dict[int, Sample]:
    """The in-process read of every host, each size once per round in rotating order: the sizes share
    the machine's moments (a neighbour's burst, a cache another read emptied) as the contenders of one
    size do, so their time per function compares like with like."""
    from vfio_tui.core.host import HostOptions
    from vfio_tui.core.open_host import open_host

    def reader(tree: Path) -> Callable[[], Run]:
        return timed(lambda: open_host(HostOptions(root=tree)).inventory())

    samples = alternate({str(n): reader(tree) for n, tree in trees.items()}, rounds)
    return {int(n): sample for n, sample in samples.items()}


def measure_inventory(sizes: list[int] = SIZES) -> InventoryResults:
    floor = build_rawfloor()
    out = InventoryResults(floor_built=floor is not None)
    trees: dict[int, Path] = {}
    with contextlib.ExitStack() as stack:
        for size in sizes:
            tree, n = stack.enter_context(synthetic_tree(size))
            trees[n] = tree
            res = measure(tree, n, floor, with_lspci=size == MAIN_SIZE)
            out.sizes.append(res)
            if size == MAIN_SIZE:
                out.main = res
                if shutil.which("lspci"):
                    out.loop = measure_loop(tree, n)
                out.instructions = count_instructions(tree, floor)
        out.scaling_rounds = max(ROUNDS, 15)
        out.scaling = measure_scaling(trees, out.scaling_rounds)
    return out


def count_instructions(tree: Path, floor: Path | None) -> dict[str, int]:
    """User-space instructions of one run each under callgrind (about a minute; skipped when
    valgrind is missing or BENCH_NO_VALGRIND=1). The kernel's share (the syscalls, most of
    lspci's and the floor's time) is not in these numbers."""
    if not shutil.which("valgrind") or os.environ.get("BENCH_NO_VALGRIND") == "1":
        return {}
    argvs = {"vfio-tui": vfio_argv(tree)}
    if shutil.which("lspci"):
        argvs["lspci"] = ["lspci", "-A", "linux-sysfs", "-O", f"sysfs.path={tree}/sys/bus/pci", "-nnk"]
    if floor is not None:
        argvs["floor"] = [str(floor), str(tree)]
    out = {}
    for name, argv in argvs.items():
        res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                             capture_output=True, text=True, env=python_env(), timeout=600)
        found = re.search(r"Collected : (\d+)", res.stderr)
        if found:
            out[name] = int(found.group(1))
    return out


def print_results(res: InventoryResults) -> None:
    if res.main is not None:
        s = res.main.samples
        print(f"{res.main.functions} functions, medians of {ROUNDS} alternating rounds:")
        for name, sample in s.items():
            rss = f", peak RSS {sample.max_rss_kib / 1024:.1f} MiB" if sample.max_rss_kib else ""
            print(f"  {name:9s} {sample.median:7.3f} s  (min {min(sample.seconds):.3f}){rss}")
        if "lspci" in s:
            print(f"  vfio-tui / lspci -nnk  {s['vfio-tui'].median / s['lspci'].median:5.2f}x   [goal <= 1.0x]")
        if "lspci+kmod" in s:
            kmod = s["lspci+kmod"].median - s["namespace"].median
            print(f"  vfio-tui / lspci -nnk with module lookups  {s['vfio-tui'].median / kmod:5.2f}x"
                  f"   (lspci {kmod:.3f} s, namespace set-up subtracted)")
        if "floor" in s:
            print(f"  read / raw floor       {s['read'].median / s['floor'].median:5.2f}x   [goal <= 2x]")
            print(f"  vfio-tui / raw floor   {s['vfio-tui'].median / s['floor'].median:5.2f}x"
                  "   (whole process: Python start-up and JSON included)")
    if res.loop is not None:
        lp = res.loop
        print(f"  shell loop {lp.loop_seconds:8.1f} s ({lp.iterations} of {lp.functions} iterations timed),"
              f" vfio-tui {lp.vfio_seconds:.3f} s: {lp.loop_seconds / lp.vfio_seconds:,.0f}x   [goal >= 150x]")
    print(f"\nscaling: the read, every size once per round ({res.scaling_rounds} rounds), CPU time per function:")
    print("  " + ", ".join(f"{n:,}: {s.cpu_median / n * 1e6:.1f} µs" for n, s in res.scaling.items()))
    print("\neach size with its contenders (medians; microseconds per function):")
    print(f"{'functions':>9} {'read':>8} {'vfio-tui':>9} {'floor':>8}   "
          f"{'read/fn':>8} {'read CPU/fn':>11} {'vfio-tui/fn':>11} {'floor/fn':>8}")
    for r in res.sizes:
        s = r.samples
        fl = s["floor"].median if "floor" in s else float("nan")
        print(f"{r.functions:>9} {s['read'].median:8.3f} {s['vfio-tui'].median:9.3f} {fl:8.3f}   "
              f"{s['read'].median / r.functions * 1e6:8.1f} {s['read'].cpu_median / r.functions * 1e6:11.1f} "
              f"{s['vfio-tui'].median / r.functions * 1e6:11.1f} "
              f"{fl / r.functions * 1e6:8.1f}")


if __name__ == "__main__":
    print_results(measure_inventory())
