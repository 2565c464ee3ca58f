"""The lab stage: boot the VT-d lab guest and run tests/lab (and the benchmark) inside it.

    <venv>/bin/python tests/lab/run_lab.py [--devices FILE] [--timeout S] [-k EXPR] ...

Run from anywhere; `./dev.sh test-lab` and `./dev.sh test` call it. It uses the lab of
../shared/lab beside the checkout as it is: 03-boot-guest.sh boots a real Linux kernel
under QEMU (q35 + emulated Intel VT-d), which mounts this machine's root read-only, so
this checkout and this venv run unchanged inside it as root on the guest's own /sys.
Nothing here writes to this machine's /sys; scratch lives in a private temp dir
(LAB_WORK) that is removed at the end, results go to build/lab/ in the checkout.
VFIO_TUI_LAB_DIR=DIR uses another copy of the lab scripts than ../shared/lab.

When the lab cannot run here (no QEMU, no kernel image, no ../shared/lab) it prints one
"lab stage skipped: <why>" line and exits 0; with CI=true it first installs what it needs
(../shared/lab/ci-install.sh) and then must run. Exit status: the guest command's (pytest's).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
LAB_DIR = Path(os.environ.get("VFIO_TUI_LAB_DIR") or CHECKOUT.parent / "shared" / "lab")
BOOT = LAB_DIR / "03-boot-guest.sh"
STAGE_BUDGET = 20 * 60
SUMMARY_RE = re.compile(r"^=+ .*\b(passed|failed|skipped|error|errors|no tests ran)\b.* in [\d.]+s.* =+$")


def say(text: str) -> None:
    print(f"[lab] {text}", flush=True)


def guest_kernel() -> str | None:
    """The newest /boot/vmlinuz-* whose modules include vfio (what ../shared/lab/lib.sh picks)."""
    versions = sorted((p.name.removeprefix("vmlinuz-") for p in Path("/boot").glob("vmlinuz-*")),
                      key=lambda v: [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)], reverse=True)
    for v in versions:
        if (Path("/lib/modules") / v / "kernel" / "drivers" / "vfio").is_dir():
            return v
    return None


def why_not_runnable() -> str | None:
    if not BOOT.is_file():
        return f"{LAB_DIR} is not beside this checkout"
    if shutil.which("qemu-system-x86_64") is None:
        return "no qemu-system-x86_64 (apt-get install qemu-system-x86, or bash ../shared/lab/ci-install.sh)"
    if guest_kernel() is None:
        return "no kernel image /boot/vmlinuz-* with vfio modules (apt-get install linux-image-amd64)"
    return None


def leftovers(marker: str) -> list[int]:
    """Processes whose command line names our private LAB_WORK (QEMU's -pidfile, its 9p share)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "run_lab.py" not in cmdline:
            pids.append(int(entry.name))
    return pids


def guest_command(args: argparse.Namespace, pytest_timeout: int) -> str:
    env = []
    if args.no_bench:
        env.append("LAB_NO_BENCH=1")
    if args.no_libvirt:
        env.append("LAB_NO_LIBVIRT=1")
    if args.against:
        env.append(f"LAB_BENCH_AGAINST={shlex.quote(str(Path(args.against).resolve()))}")
    pytest_args = ["-k", args.k] if args.k else []
    cmd = ["bash", str(HERE / "guest_run.sh"), str(CHECKOUT), sys.executable, str(pytest_timeout), *pytest_args]
    return " ".join([*env, *(shlex.quote(c) for c in cmd)])


def run_guest(args: argparse.Namespace, work: Path) -> int:
    env = dict(os.environ)
    env["LAB_WORK"] = str(work)
    env.pop("LAB_DEVICES_FILE", None)
    if args.devices:
        env["LAB_DEVICES_FILE"] = str(Path(args.devices).resolve())
    pytest_timeout = args.timeout - 330  # boot (25-40 s), libvirtd (15-40 s), bench (<= 240 s)
    env["LAB_GUEST_CMD"] = guest_command(args, pytest_timeout)
    cmd = ["timeout", "--kill-after=20", str(args.timeout + 60), "bash", str(BOOT), "cmd", str(args.timeout)]
    say(f"booting the lab guest (LAB_WORK={work}, timeout {args.timeout} s"
        f"{', devices ' + args.devices if args.devices else ''})")
    proc = subprocess.Popen(cmd, env=env, cwd=CHECKOUT, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)  # the boot script's trap kills QEMU by its pidfile
        proc.wait(timeout=30)
        raise


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def format_results(results: Any, bench: Any, rc: int, seconds: float, devices: str | None) -> list[str]:
    lines = [f"vfio-tui lab stage: guest exit {rc}, {seconds:.0f} s in all"
             f" ({'topology ' + devices if devices else 'built-in topology of 03-boot-guest.sh'})"]
    if not results:
        lines.append("no results file from the guest (it did not reach the end of pytest)")
        return lines
    lines.append("")
    lines.append("cases picked by kind from the guest kernel's groups:")
    for kind, desc in results.get("kinds", {}).items():
        lines.append(f"  {kind:28s} {desc or 'NOT IN THIS TOPOLOGY: its cases are skipped'}")
    lines.append("")
    lines.append("results:")
    for c in results.get("cases", []):
        what = f"{c['file'].removesuffix('.py')}::{c['test']}"
        when = "" if c["when"] == "call" else f" ({c['when']})"
        reason = f"  -- {c['reason']}" if c.get("reason") else ""
        lines.append(f"  {c['outcome'].upper():7s} {c['seconds']:7.1f}s  {what}{when}{reason}")
    counts: dict[str, int] = {}
    for c in results.get("cases", []):
        counts[c["outcome"]] = counts.get(c["outcome"], 0) + 1
    lines.append("  " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if results.get("notes"):
        lines.append("")
        lines.append("measured:")
        lines += [f"  {n}" for n in results["notes"]]
    if bench:
        lines.append("")
        lines.append(f"benchmark of record (bind + verify + restore of {bench['device']}, medians):")
        for name, sec in bench["median"].items():
            lines.append(f"  {name:9s} {sec * 1000:8.1f} ms")
        for name, why in bench.get("skipped", {}).items():
            lines.append(f"  {name:9s} skipped: {why}")
        for name, r in bench["ratios"].items():
            lines.append(f"  ratio {name:18s} {r:6.2f}x")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", metavar="FILE", help="another guest topology (LAB_DEVICES_FILE), e.g."
                    " tests/lab/topologies/gpu-audio-nvme.txt")
    ap.add_argument("--timeout", type=int, default=1020, help="seconds the guest may run (default 1020;"
                    " cut so that the whole stage stays under 20 min)")
    ap.add_argument("-k", metavar="EXPR", help="only the lab tests matching EXPR (pytest -k)")
    ap.add_argument("--no-bench", action="store_true", help="skip the benchmark")
    ap.add_argument("--no-libvirt", action="store_true", help="no private libvirtd in the guest")
    ap.add_argument("--against", metavar="CHECKOUT", help="the benchmark also times this checkout's vfio-tui in"
                    " the same rounds (e.g. a clone of main before a change): an A/B in one guest")
    ap.add_argument("--results", type=Path, default=CHECKOUT / "build" / "lab", help="where results go")
    ap.add_argument("--keep-work", action="store_true", help="keep LAB_WORK (boot log, dmesg) for debugging")
    args = ap.parse_args()
    t0 = time.monotonic()
    ci = os.environ.get("CI", "").lower() == "true"

    why = why_not_runnable()
    if why and ci and BOOT.is_file():
        say("CI: installing the lab's packages (../shared/lab/ci-install.sh)")
        subprocess.run(["timeout", "600", "bash", str(LAB_DIR / "ci-install.sh")], check=False)
        why = why_not_runnable()
    if why:
        if ci:
            print(f"lab stage FAILED: cannot run in CI: {why}")
            return 1
        print(f"lab stage skipped: {why}")
        return 0
    # the whole stage (apt included) stays under STAGE_BUDGET: the guest gets what is left
    left = int(STAGE_BUDGET - (time.monotonic() - t0) - 60 - 30)
    if args.timeout > left:
        say(f"guest timeout {args.timeout} s -> {left} s to stay within {STAGE_BUDGET // 60} min")
        args.timeout = left
    if args.timeout < 400:
        print(f"lab stage: --timeout {args.timeout} is too short (boot, libvirtd and the benchmark alone"
              " take ~5 min under TCG)")
        return 2

    work = Path(tempfile.mkdtemp(prefix="vfio-tui-lab-"))
    out = work / "out-cmd"
    rc = 1
    try:
        rc = run_guest(args, work)
    finally:
        strays = leftovers(str(work))
        for pid in strays:  # ours by construction: their command line names our private dir
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        pidfile_left = (work / "qemu-cmd.pid").exists()
        args.results.mkdir(parents=True, exist_ok=True)
        for name in ("cmd.log", "lab-results.json", "bench.json", "bench-profile.txt", "junit.xml",
                     "dmesg-cmd.txt", "libvirtd-start.txt"):
            if (out / name).exists():
                shutil.copy(out / name, args.results / name)
        if (work / "boot-cmd.log").exists():
            shutil.copy(work / "boot-cmd.log", args.results / "boot.log")
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - t0

    log = (args.results / "cmd.log").read_text(errors="replace") if (args.results / "cmd.log").exists() else ""
    print("\n========== guest pytest output (build/lab/cmd.log) ==========")
    print(log.rstrip())
    results = load_json(args.results / "lab-results.json")
    bench = load_json(args.results / "bench.json")
    lines = format_results(results, bench, rc, seconds, args.devices)
    if strays or pidfile_left:
        lines.append(f"ERROR: processes left running after the guest: {strays} (killed); pidfile left:"
                     f" {pidfile_left}")
        rc = rc or 1
    else:
        lines.append("no QEMU or libvirtd left running (checked by our LAB_WORK in every command line)")
    (args.results / "results.txt").write_text("\n".join(lines) + "\n")
    summary = {"rc": rc, "seconds": round(seconds, 1), "devices": args.devices, "results": results, "bench": bench}
    (args.results / "results.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("\n========== lab results (build/lab/results.txt) ==========")
    print("\n".join(lines))
    closing = [line for line in log.splitlines() if SUMMARY_RE.match(line.strip())]
    print(closing[-1] if closing else f"lab stage: no pytest summary from the guest (exit {rc})")
    return rc


if __name__ == "__main__":
    sys.exit(main())
