"""Benchmark (not a test): what a user waits for on a small host, whole process, in alternating
rounds: `vfio-tui --version`, and `vfio-tui inventory --json` on the 40-function demo host as a
simulated host tree (`--root`, as `vfio-tui sim-host` makes it) and as `--demo` (which also
copies the recorded host into a temp dir first). Prints medians.

    python bench/startup.py

Goals (issue 15): --version <= 100 ms; inventory --json on a 40-function host <= 200 ms.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROUNDS, Sample, alternate, python_env, run_child, scratch_dir  # noqa: E402


@dataclass
class StartupResults:
    samples: dict[str, Sample]
    functions: int


def measure_startup() -> StartupResults:
    from vfio_tui.core.open_host import create_sim_host
    from vfio_tui.core.simulated.demo_host import demo_snapshot

    env = python_env()
    tmp = Path(tempfile.mkdtemp(prefix="vfio-bench-small-", dir=scratch_dir()))
    try:
        tree = tmp / "host"
        paths = create_sim_host(tree, demo_snapshot())
        functions = len(list(paths.pci_devices.iterdir()))
        tui = [sys.executable, "-m", "vfio_tui"]
        samples = alternate({
            "--version": lambda: run_child([*tui, "--version"], env=env),
            "inventory --json (--root)": lambda: run_child([*tui, "inventory", "--root", str(tree), "--json"],
                                                           env=env),
            "inventory --json (--demo)": lambda: run_child([*tui, "inventory", "--demo", "--json"], env=env),
            "python -c pass": lambda: run_child([sys.executable, "-c", "pass"], env=env),
        })
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return StartupResults(samples, functions)


def print_results(res: StartupResults) -> None:
    print(f"medians of {ROUNDS} alternating rounds ({res.functions}-function demo host):")
    for name, s in res.samples.items():
        print(f"  {name:28s} {s.median * 1000:7.1f} ms  (min {min(s.seconds) * 1000:.1f})")


if __name__ == "__main__":
    print_results(measure_startup())
