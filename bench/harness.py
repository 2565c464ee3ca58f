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
ROUNDS = max(5, int(os.environ.get("BENCH_ROUNDS", "9")))


@dataclass
class Sample:
    """Wall times and CPU times (s, user + system) and peak RSS (KiB) of one contender over the rounds."""

    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    max_rss_kib: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_seconds)


#: What one run of a contender measured: wall seconds, CPU seconds, peak RSS (KiB; 0 if unknown).
Run = tuple[float, float, int]


#: GNU time: the peak RSS of a grandchild is that process's own (see run_child).
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_child(argv: Sequence[str], *, env: dict[str, str] | None = None) -> Run:
    """Run a command with output discarded; its wall and CPU time (s) and its own peak RSS (KiB,
    0 when GNU time is missing).

    Why through /usr/bin/time: Linux records a process's peak RSS across exec, including the
    memory of the process it was forked from, so a child of this (large) Python process would
    report this process's size. GNU time is small, and its child's figure is the command's own.
    """
    with tempfile.NamedTemporaryFile(prefix="vfio-bench-rss-") as rss, tempfile.TemporaryFile() as err:
        full = [GNU_TIME, "-f", "%M", "-o", rss.name, *argv] if GNU_TIME else list(argv)
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                   (os.POSIX_SPAWN_DUP2, err.fileno(), 2)]
        t0 = time.perf_counter()
        pid = os.posix_spawnp(full[0], full, dict(os.environ if env is None else env), file_actions=actions)
        _, status, usage = os.wait4(pid, 0)  # CPU: the child's own and its waited-for children's
        elapsed = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{argv[0]} exited {code}: {err.read().decode(errors='replace')[-500:]}")
        text = Path(rss.name).read_text().strip() if GNU_TIME else ""
    return elapsed, usage.ru_utime + usage.ru_stime, int(text.splitlines()[-1]) if text else 0


def alternate(contenders: dict[str, Callable[[], Run]], rounds: int = ROUNDS) -> dict[str, Sample]:
    """Run every contender once per round, rotating the order each round (so no contender
    always runs right after the same neighbour, or always first in a cold cache)."""
    names = list(contenders)
    out = {n: Sample() for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            sec, cpu, rss = contenders[name]()
            out[name].seconds.append(sec)
            out[name].cpu_seconds.append(cpu)
            out[name].max_rss_kib = max(out[name].max_rss_kib, rss)
    return out


def timed(fn: Callable[[], object]) -> Callable[[], Run]:
    """An in-process contender: wall and CPU time of fn(), no RSS of its own."""

    def run() -> Run:
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        return time.perf_counter() - t0, time.process_time() - c0, 0

    return run


def scratch_dir() -> Path:
    """tmpfs when there is one (the issue measures on tmpfs), else the temp dir."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


@contextmanager
def synthetic_tree(functions: int, domains: int = 2) -> Iterator[tuple[Path, int]]:
    """A materialized synthetic host (a simulated host tree for --root) and its function count.

    A domain holds at most ~2,200 functions (255 buses), so bigger hosts get more domains."""
    domains = max(domains, -(-functions // 2048))
    from vfio_tui.core.simulated.materialize import materialize
    from vfio_tui.core.simulated.synthetic import synthetic_snapshot

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


_COMPILED: list[bool] = []


def compile_bytecode() -> None:
    """Byte-compile this checkout once, as pip does when it installs the wheel: a child started with
    PYTHONDONTWRITEBYTECODE=1 (set on the build machine) would otherwise compile every module it imports,
    ~100 ms that no installed vfio-tui pays."""
    if not _COMPILED:
        import compileall

        for folder in ("core", "tui", "vfio_tui"):
            compileall.compile_dir(str(ROOT / folder), quiet=2)
        _COMPILED.append(True)


def python_env() -> dict[str, str]:
    """The environment for `python -m vfio_tui` children: this checkout first, like the test fixture,
    byte-compiled as installed."""
    compile_bytecode()
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _first_line(argv: list[str]) -> str:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (res.stdout or res.stderr).strip().splitlines()
    return text[0] if text else "?"


def lspci_kmod_status() -> str:
    """Whether `lspci -k` looks kernel modules up here (libkmod needs /lib/modules/$(uname -r));
    asked on a small synthetic tree, so that there is a device to look up."""
    lspci = shutil.which("lspci")
    if lspci is None:
        return "lspci not installed"
    with synthetic_tree(16) as (tree, _):
        res = subprocess.run([lspci, "-A", "linux-sysfs", "-O", f"sysfs.path={tree}/sys/bus/pci", "-k"],
                             capture_output=True, text=True, timeout=30)
    if "libkmod" in res.stderr:
        return (f"`lspci -k` does NO module lookups here ({res.stderr.strip()}: there is no /lib/modules/"
                f"{platform.release()}), so its -k only reads each device's driver link; on a host with"
                " modules it also reads modalias and searches the module index per device")
    if "Kernel modules:" in res.stdout:
        return "`lspci -k` looks kernel modules up with libkmod here (as on a normal host)"
    return "`lspci -k` found no module for the synthetic devices (libkmod loaded)"


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


def add_modalias(tree: Path) -> None:
    """Give every function of a materialized tree the `modalias` file a real sysfs has (the
    materializer writes none): `lspci -k` reads it to look up modules; vfio-tui never does."""
    devdir = tree / "sys/bus/pci/devices"
    for name in os.listdir(devdir):
        cfg = (devdir / name / "config").read_bytes()[:0x30]
        if len(cfg) < 0x30:
            continue
        vid, did, svid, sdid = (int.from_bytes(cfg[off:off + 2], "little") for off in (0, 2, 0x2C, 0x2E))
        (devdir / name / "modalias").write_text(
            f"pci:v{vid:08X}d{did:08X}sv{svid:08X}sd{sdid:08X}bc{cfg[0x0B]:02X}sc{cfg[0x0A]:02X}i{cfg[0x09]:02X}\n")


KMOD_CACHE = ROOT / "build" / "bench" / "kmod"


def kmod_index() -> Path | None:
    """A kernel module index (modules.alias.bin and friends) for `lspci -k`: this machine's
    /lib/modules/*, else build/bench/kmod (made by `fetch_kmod_index()`), else None."""
    for candidate in [*sorted(Path("/lib/modules").glob("*")), KMOD_CACHE]:
        if (candidate / "modules.alias.bin").is_file():
            return candidate
    return None


def fetch_kmod_index() -> Path | None:
    """Make build/bench/kmod from Debian's kernel package (apt-get download, unpack to tmpfs,
    depmod, keep only the 5 MB of index files). Root and apt needed; None when that fails."""
    if os.geteuid() != 0 or not shutil.which("apt-get") or not shutil.which("depmod"):
        return None
    tmp = Path(tempfile.mkdtemp(prefix="vfio-bench-kmod-", dir=scratch_dir()))
    try:
        deps = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True, text=True).stdout
        pkg = next((w.split()[-1] for w in deps.splitlines() if "Depends: linux-image-" in w), None)
        if pkg is None:
            return None
        subprocess.run(["apt-get", "download", "-q", pkg], cwd=tmp, check=True, capture_output=True, timeout=600)
        deb = next(tmp.glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], check=True, timeout=600)
        version = next((tmp / "root/lib/modules").iterdir()).name
        subprocess.run(["depmod", "-b", str(tmp / "root"), version], check=True, timeout=600)
        KMOD_CACHE.mkdir(parents=True, exist_ok=True)
        for f in (tmp / "root/lib/modules" / version).glob("modules.*"):
            shutil.copy(f, KMOD_CACHE / f.name)
        (KMOD_CACHE / "SOURCE").write_text(f"{pkg}: depmod of its modules\n")
        return KMOD_CACHE
    except (OSError, subprocess.SubprocessError, StopIteration):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def kmod_namespace(index: Path) -> Iterator[Callable[[list[str]], list[str]]]:
    """Commands wrapped to run in a private mount namespace where /lib/modules/$(uname -r) is
    `index` (an overlay over /usr/lib on tmpfs; this machine's files are never touched)."""
    tmp = Path(tempfile.mkdtemp(prefix="vfio-bench-ns-", dir=scratch_dir()))
    try:
        mods = tmp / "upper" / "modules" / platform.release()
        mods.mkdir(parents=True)
        (tmp / "work").mkdir()
        for f in index.glob("modules.*"):
            shutil.copy(f, mods / f.name)
        mount = (f"mount -t overlay overlay -o lowerdir=/usr/lib,upperdir={tmp}/upper,workdir={tmp}/work"
                 " /usr/lib && exec \"$0\" \"$@\"")
        yield lambda argv: ["unshare", "-m", "--propagation", "private", "sh", "-c", mount, *argv]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def can_use_namespaces() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True)
    return res.returncode == 0
