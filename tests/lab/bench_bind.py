"""The benchmark of record: bind + verify + restore of one endpoint on the real kernel of the lab
guest, vfio-tui vs the raw sysfs sequence vs libvirt's `virsh nodedev-detach/reattach`, same
guest, same run, rounds interleaved. Prints numbers; asserts nothing (not a timed test).

Run by tests/lab/guest_run.sh inside the guest (never on a real host: it binds devices).

  raw        the three sysfs writes each way (driver_override, unbind, drivers_probe) from
             this process, then the same verification as the others
  core       the engine's API: open_host, plan_bind (inventory, guard), apply_plan (journal,
             writes, verify), restore -- no command-line layer
  vfio-tui   `vfio-tui bind ADDR --yes` + `vfio-tui restore ADDR` through tui.cli.main() in
             this (warm) process: plan, guard, journal, writes, verify, restore
  cli        the same two commands as fresh processes (what a user types; Python start-up
             under TCG included)
  virsh      `virsh nodedev-detach` + `virsh nodedev-reattach` (the private libvirtd of
             guest_run.sh does the work)
Targets (issue 9): vfio-tui <= 1.3x raw; the user's command faster than virsh.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(HERE), str(REPO)]

import kview  # noqa: E402
from kinds import LONE, find_cases  # noqa: E402


def in_lab() -> bool:
    return (os.environ.get("VFIO_TUI_LAB") == "1" and Path("/sys/class/iommu/dmar0").exists()
            and "lab.mode=" in Path("/proc/cmdline").read_text())


class Bench:
    def __init__(self, addr: str, group: int) -> None:
        self.addr, self.group = addr, group
        self.host_driver = kview.bindings()[addr][0]
        self.before = kview.bindings()[addr]

    def verify_bound(self) -> None:
        if not kview.wait_for(lambda: str(self.group) in kview.dev_vfio_groups(), timeout=10):
            raise RuntimeError(f"/dev/vfio/{self.group} did not appear")
        if kview.bindings()[self.addr][0] != "vfio-pci":
            raise RuntimeError(f"{self.addr} not on vfio-pci")

    def verify_restored(self) -> None:
        if not kview.wait_for(lambda: kview.bindings()[self.addr] == self.before, timeout=10):
            raise RuntimeError(f"{self.addr} not restored: {kview.bindings()[self.addr]}")

    def raw(self) -> None:
        kview.raw_bind(self.addr)
        self.verify_bound()
        kview.raw_restore(self.addr)
        self.verify_restored()

    def vfio_tui(self) -> None:
        from vfio_tui.tui.cli import main

        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            rc = main(["bind", self.addr, "--yes"])
        if rc != 0:
            raise RuntimeError(f"vfio-tui bind -> {rc}: {sink.getvalue()[-500:]}")
        self.verify_bound()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            rc = main(["restore", self.addr])
        if rc != 0:
            raise RuntimeError(f"vfio-tui restore -> {rc}: {sink.getvalue()[-500:]}")
        self.verify_restored()

    def core_api(self) -> None:
        from vfio_tui.core.binding import apply_plan, plan_bind, restore
        from vfio_tui.core.host import HostOptions
        from vfio_tui.core.open_host import open_host

        with open_host(HostOptions()) as host:
            plan = plan_bind(host, self.addr)
            result = apply_plan(host, plan)
            if result.problems:
                raise RuntimeError(f"apply_plan: {result.problems}")
            self.verify_bound()
            back = restore(host, [self.addr])
            if back.failed:
                raise RuntimeError(f"restore: {back.failed}")
        self.verify_restored()

    def cli(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
        env.pop("VFIO_TUI_TESTING", None)
        for args in (["bind", self.addr, "--yes"], ["restore", self.addr]):
            res = subprocess.run([sys.executable, "-m", "vfio_tui", *args], cwd=REPO, env=env,
                                 capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise RuntimeError(f"vfio-tui {' '.join(args)} -> {res.returncode}: {res.stderr[-500:]}")
            (self.verify_bound if args[0] == "bind" else self.verify_restored)()

    def virsh(self) -> None:
        name = "pci_" + self.addr.replace(":", "_").replace(".", "_")
        for verb in ("nodedev-detach", "nodedev-reattach"):
            res = subprocess.run(["virsh", "-c", "qemu:///system", verb, name], capture_output=True,
                                 text=True, check=False)
            if res.returncode != 0:
                raise RuntimeError(f"virsh {verb} {name} -> {res.returncode}: {res.stderr.strip()}")
            (self.verify_bound if verb == "nodedev-detach" else self.verify_restored)()


class Against:
    """Another checkout's vfio-tui (bench_worker.py, warm in its own process), timed by itself per round."""

    def __init__(self, checkout: Path, addr: str, group: int) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "bench_worker.py"), str(checkout), addr, str(group)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        if self.stdout.readline().strip() != "ready":
            raise RuntimeError(f"bench_worker.py {checkout} did not start (exit {self.proc.wait()})")
        self.last = 0.0

    def __call__(self) -> None:
        self.stdin.write("round\n")
        self.stdin.flush()
        line = self.stdout.readline()
        if not line:
            raise RuntimeError(f"bench_worker.py ended (exit {self.proc.wait()})")
        self.last = float(line)

    def close(self) -> None:
        self.stdin.close()
        self.proc.wait(timeout=30)


def write_profile(bench: Bench, out: Path) -> str:
    """Where vfio-tui's time goes: cProfile of one warm round, import times of one cold start."""
    import cProfile
    import pstats

    from bench_phases import phase_report, write_cost

    phases = phase_report(bench.vfio_tui, bench.vfio_tui)
    if kview.bindings()[bench.addr][1] in (b"(null)\n", b"\n", b""):  # no override: writing "\n" changes nothing
        phases += write_cost(f"/sys/bus/pci/devices/{bench.addr}/driver_override")
    print("  where the time goes (clocks, no profiler):\n" + phases)
    prof = cProfile.Profile()
    prof.runcall(bench.vfio_tui)
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(40)
    text.write("\nthe same, by own time (where the time goes below the commands):\n")
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(40)
    text.write("\nwho makes paths and syscalls (pathlib joins, opens, readlinks, listings, stats):\n")
    pstats.Stats(prof, stream=text).sort_stats("tottime").print_callers(
        r"pathlib.py.*\((__truediv__|__new__)\)|io.open|posix.(readlink|listdir|stat|open)")
    text.write("\nthe host-use guard's facts alone (core/usage.py and what it calls):\n")
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(r"usage\.py|livefacts|psutil|virtio_mounts", 30)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "vfio_tui", "inventory", "--json"], cwd=REPO,
                         env=env, capture_output=True, text=True, check=False)
    rows = [line.split("|") for line in res.stderr.splitlines() if line.startswith("import time:")]
    rows = [r for r in rows if len(r) == 3 and r[1].strip().isdigit()]
    top = sorted(rows, key=lambda r: -int(r[1]))[:30]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=False)
    bare = time.perf_counter() - t0
    out.write_text(f"bare `python -c pass`: {bare * 1000:.0f} ms\n\nwhere one round's time goes, clocked without a"
                   f" profiler (tests/lab/bench_phases.py):\n{phases}\nimport times of `vfio-tui inventory --json`"
                   " (cumulative us, top 30):\n" + "\n".join(f"{r[1].strip():>10} {r[2].rstrip()}" for r in top)
                   + "\n\ncProfile of one warm bind + verify + restore (in-process):\n" + text.getvalue())
    print(f"  profile written to {out}")
    return phases


def has_binding() -> bool:
    from vfio_tui.tui.cli.registry import COMMANDS

    return "bind" in COMMANDS and "restore" in COMMANDS


def has_virsh() -> bool:
    return shutil.which("virsh") is not None and subprocess.run(
        ["virsh", "-c", "qemu:///system", "version"], capture_output=True, check=False).returncode == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=9, help="interleaved rounds (medians of >= 5; 9 steadies them under TCG)")
    ap.add_argument("--cli-rounds", type=int, default=3, help="rounds of the fresh-process CLI (slow)")
    ap.add_argument("--against", type=Path, metavar="CHECKOUT", help="also time another checkout's vfio-tui"
                    " (main before a change), interleaved in the same rounds: an A/B that the guest's speed,"
                    " which moves from run to run, cannot skew")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    ap.add_argument("--profile", type=Path, help="write a cProfile of one in-process vfio-tui round and"
                    " the import times of one CLI start here")
    args = ap.parse_args()
    if not in_lab():
        print("bench_bind: not in the lab guest; run tests/lab/run_lab.py (it binds devices)")
        return 0
    subprocess.run(["modprobe", "vfio-pci"], check=False)  # nobody pays the module load
    case = find_cases(kview.read_kernel_view())[LONE]
    if case is None:
        print("bench_bind: the topology has no lone endpoint")
        return 0
    bench = Bench(case.target, case.group)
    methods: dict[str, Callable[[], None]] = {"raw": bench.raw}
    skipped: dict[str, str] = {}
    against: Against | None = None
    if has_binding():
        methods["core"] = bench.core_api
        methods["vfio-tui"] = bench.vfio_tui
        if args.against:
            methods["against"] = against = Against(args.against.resolve(), case.target, case.group)
        methods["cli"] = bench.cli
    else:
        skipped["core"] = skipped["vfio-tui"] = skipped["cli"] = "the binding engine is not merged into this checkout"
    if has_virsh():
        methods["virsh"] = bench.virsh
    else:
        skipped["virsh"] = "no libvirtd running in the guest"

    for fn in methods.values():  # warm-up: imports, page cache of the 9p root, libvirt's node list
        fn()
    times: dict[str, list[float]] = {m: [] for m in methods}
    for r in range(args.rounds):
        for name, fn in methods.items():
            if name == "cli" and r >= args.cli_rounds:
                continue  # ~5 s of Python start-up per process under TCG: fewer rounds
            t0 = time.perf_counter()
            fn()
            times[name].append(fn.last if isinstance(fn, Against) else time.perf_counter() - t0)
    if against is not None:
        against.close()

    print(f"\nbenchmark of record: bind + verify + restore of {case.target} (group {case.group},"
          f" {bench.host_driver}), {args.rounds} interleaved rounds after one warm-up, real kernel"
          f" {os.uname().release} under QEMU TCG")
    med = {m: statistics.median(t) for m, t in times.items()}
    for name, t in times.items():
        print(f"  {name:9s} median {med[name] * 1000:8.1f} ms   min {min(t) * 1000:8.1f} ms"
              f"   max {max(t) * 1000:8.1f} ms")
    for name, why in skipped.items():
        print(f"  {name:9s} skipped: {why}")
    ratios: dict[str, float] = {}
    if "core" in med:
        ratios["core / raw"] = med["core"] / med["raw"]
    if "vfio-tui" in med:
        ratios["vfio-tui / raw"] = med["vfio-tui"] / med["raw"]
    if "against" in med:
        ratios["against / raw"] = med["against"] / med["raw"]
        ratios["vfio-tui / against"] = med["vfio-tui"] / med["against"]
    if "virsh" in med:
        ratios["virsh / raw"] = med["virsh"] / med["raw"]
        if "vfio-tui" in med:
            ratios["virsh / vfio-tui"] = med["virsh"] / med["vfio-tui"]
        if "cli" in med:
            ratios["virsh / cli"] = med["virsh"] / med["cli"]
    for name, ratio in ratios.items():
        print(f"  ratio {name:18s} {ratio:6.2f}x")
    for key in ("core / raw", "vfio-tui / raw"):
        if key in ratios:
            print(f"  target {key.split()[0]} <= 1.3x raw: {'met' if ratios[key] <= 1.3 else 'NOT met'}")
    if "virsh / vfio-tui" in ratios:
        print(f"  target faster than virsh (in-process engine): "
              f"{'met' if ratios['virsh / vfio-tui'] > 1 else 'NOT met'}")
    if "virsh / cli" in ratios:
        print(f"  target faster than virsh (fresh processes, as typed): "
              f"{'met' if ratios['virsh / cli'] > 1 else 'NOT met'}")
    phases = write_profile(bench, args.profile) if args.profile and "vfio-tui" in methods else None
    if args.json:
        args.json.write_text(json.dumps({
            "device": case.target, "group": case.group, "rounds": args.rounds,
            "seconds": times, "median": med, "ratios": ratios, "skipped": skipped, "phases": phases,
        }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
