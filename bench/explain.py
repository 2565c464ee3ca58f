"""Benchmark: explain a generated 50 MB log (journal + dmesg + QEMU noise, a few needles); prints seconds.

Targets: <= 1 s (issue 7), <= 0.5 s (issue 15). Run from the project root:
    .venv/bin/python bench/explain.py [--mb 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vfio_tui.core.explain import explain_stream  # noqa: E402

#: Ordinary journal/dmesg traffic; GATED lines contain a prefilter gate ("vfio", "iommu", ...) without
#: being an error, so they cost the slow path. About 2 % of the lines are such, which is generous
#: for a host log (a boot prints a few dozen of them, a VM start a handful).
GATED = [
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] pci 0000:02:00.{f}: Adding to iommu group 13",
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] vfio-pci 0000:0b:00.0: enabling device (0140 -> 0142)",
]
NOISE = [
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] pci 0000:00:1c.{f}: PME# supported from D0 D3hot D3cold",
    "Nov 25 10:{m:02d}:{s:02d} host192 systemd[1]: Started session-{f}.scope - Session {f} of User root.",
    "Nov 25 10:{m:02d}:{s:02d} host192 sshd[{f}]: Accepted publickey for root from 203.0.113.5 port 50514 ssh2",
    "Nov 25 10:{m:02d}:{s:02d} host192 libvirtd[812]: internal error: Failed to start domain: error on line {f}",
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] DMAR: DRHD: handling fault status reg 2",
    "2026-11-25T10:{m:02d}:{s:02d}.123456Z qemu-system-x86_64: warning: host doesn't support requested feature",
    "Nov 25 10:{m:02d}:{s:02d} host192 NetworkManager[700]: <info>  [1732528800.{f}] device (eno1): carrier on",
    "Nov 25 10:{m:02d}:{s:02d} host192 CRON[{f}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] EXT4-fs (dm-0): mounted filesystem with ordered data mode",
    "Nov 25 10:{m:02d}:{s:02d} host192 kernel: [{t:>12.6f}] usb 2-1: new full-speed USB device {f} using uhci_hcd",
    "Nov 25 10:{m:02d}:{s:02d} host192 systemd[1]: Failed to start Load Kernel Module drm.",
]
NEEDLES = [
    "2026-11-25T10:59:58.000001Z qemu-system-x86_64: -device {\"driver\":\"vfio-pci\",\"host\":\"0000:02:00.0\"}: "
    "vfio 0000:02:00.0: group 13 is not viable",
    "Nov 25 10:59:59 host192 kernel: vfio_pin_pages_remote: RLIMIT_MEMLOCK (67108864) exceeded",
    "error: internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: vfio 0000:0b:00.0: "
    "Could not open '/dev/vfio/19': Device or resource busy",
]


def generate(path: Path, megabytes: int) -> int:
    rng = random.Random(7)
    target = megabytes * 1_000_000
    lines: list[str] = []
    for i in range(20_000):
        tpl = GATED[i % 2] if rng.random() < 0.02 else NOISE[rng.randrange(len(NOISE))]
        lines.append(tpl.format(m=i % 60, s=(i * 7) % 60, t=i * 0.013, f=rng.randrange(10)))
    block = ("\n".join(lines) + "\n").encode()
    written = 0
    needle_at = {target // 4: NEEDLES[0], target // 2: NEEDLES[1], target - len(block) - 1: NEEDLES[2]}
    with path.open("wb") as fh:
        while written < target:
            fh.write(block)
            written += len(block)
            for at in list(needle_at):
                if written >= at:
                    fh.write((needle_at.pop(at) + "\n").encode())
    return path.stat().st_size


def measure(megabytes: int = 50, runs: int = 5) -> tuple[int, list[float], list[str], int]:
    """Size of the generated log, the seconds of each run, the causes found and the candidate lines."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.log"
        size = generate(path, megabytes)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            with path.open("rb") as fh:
                report = explain_stream(fh)
            times.append(time.perf_counter() - start)
    return size, times, [f.cause_id for f in report.findings], report.candidate_lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    size, times, ids, candidates = measure(args.mb, args.runs)
    print(f"explain: {size / 1e6:.1f} MB, {candidates} candidate lines, findings {ids}")
    print(f"seconds: median {statistics.median(times):.3f}, min {min(times):.3f} ({args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
