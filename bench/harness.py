"""Shared pieces of the benchmark scripts: child processes timed with their own rusage,
alternating rounds, medians, synthetic hosts on tmpfs, the C raw-floor reader, the machine.

Not a test and not part of vfio-tui: bench/*.py import it (`sys.path` holds bench/).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Rounds per measurement (each round runs every contender once, in rotating order).
ROUNDS = max(5, int(os.environ.get("BENCH_ROUNDS", "7")))


@dataclass
class Sample:
    """Wall times (s) and peak RSS (KiB) of one contender over the rounds."""

    seconds: list[float] = field(default_factory=list)
    max_rss_kib: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, int]:
    """Run a command with output discarded; its wall time (s) and its own peak RSS (KiB).

    os.wait4 gives the rusage of exactly this child (RUSAGE_CHILDREN would be the max of all).
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[0]} exited {proc.returncode}: {err.read().decode(errors='replace')[-500:]}")
    return elapsed, usage.ru_maxrss


def alternate(contenders: dict[str, Callable[[], tuple[float, int]]], rounds: int = ROUNDS) -> dict[str, Sample]:
    """Run every contender once per round, rotating the order each round (so no contender
    always runs right after the same neighbour, or always first in a cold cache)."""
    names = list(contenders)
    out = {n: Sample() for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            sec, rss = contenders[name]()
            out[name].seconds.append(sec)
            out[name].max_rss_kib = max(out[name].max_rss_kib, rss)
    return out


def timed(fn: Callable[[], object]) -> Callable[[], tuple[float, int]]:
    """An in-process contender: wall time of fn(), no RSS of its own."""

    def run() -> tuple[float, int]:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0, 0

    return run


def scratch_dir() -> Path:
    """tmpfs when there is one (the issue measures on tmpfs), else the temp dir."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


@contextmanager
def synthetic_tree(functions: int, domains: int = 2) -> Iterator[tuple[Path, int]]:
    """A materialized synthetic host (a simulated host tree for --root) and its function count."""
    from core.snapshot import materialize
    from core.synthetic import synthetic_snapshot

    tmp = Path(tempfile.mkdtemp(prefix="vfio-bench-", dir=scratch_dir()))
    try:
        materialize(synthetic_snapshot(functions, domains=domains), tmp)
        yield tmp, len(os.listdir(tmp / "sys/bus/pci/devices"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_rawfloor() -> Path | None:
    """Compile bench/rawfloor.c (gcc -O2) into a temp dir; None without gcc."""
    gcc = shutil.which("gcc")
    if gcc is None:
        return None
    out = Path(tempfile.mkdtemp(prefix="vfio-bench-cc-")) / "rawfloor"
    subprocess.run([gcc, "-O2", "-Wall", "-Wno-format-truncation", "-o", str(out), str(ROOT / "bench/rawfloor.c")],
                   check=True)
    return out


def python_env() -> dict[str, str]:
    """The environment for `python -m tui` children: this checkout first, like the test fixture."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _first_line(argv: list[str]) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (res.stdout or res.stderr).strip().splitlines()
    return text[0] if text else "?"


def lspci_kmod_status() -> str:
    """Whether `lspci -k` can look modules up here (libkmod needs /lib/modules/$(uname -r))."""
    lspci = shutil.which("lspci")
    if lspci is None:
        return "lspci not installed"
    res = subprocess.run([lspci, "-k", "-s", "ffff:ff:1f.7"], capture_output=True, text=True, timeout=10)
    if "libkmod" in res.stderr:
        return (f"lspci -k does NO module lookups here: {res.stderr.strip()} (no /lib/modules/"
                f"{platform.release()}), so it only reads each device's driver link")
    return "lspci -k looks modules up with libkmod"


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": f"{os.cpu_count()} x {cpu}",
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "kernel": platform.release(),
        "lspci": _first_line(["lspci", "--version"]),
        "gcc": _first_line(["gcc", "--version"]),
        "scratch": f"{scratch_dir()} ({_fs_type(scratch_dir())})",
    }


def _fs_type(path: Path) -> str:
    best, kind = "", "?"
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
