"""Input that is not a log, or a log written to attack the reader: refused at once or bounded, never echoed raw.

FIFOs and devices (as FILE, as the VM's QEMU log, as the kernel log a check reads) are refused without
blocking; endless streams stop at the size cap with one line on stderr; terminal escape sequences and
controls from a log (ESC[2J, OSC 52, BEL, U+009B) never reach the terminal, the JSON or the app.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.explain import explain_text
from vfio_tui.core.explain.render import format_report
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.loginput import MAX_INPUT

REPO = Path(__file__).resolve().parents[2]
#: What must never come out of explain: C0 controls but newline, DEL, C1 controls (U+009B is the 8-bit
#: CSI), bidirectional overrides/isolates.
FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CLEAR = "\x1b[2J\x1b[H"
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # "write this to the clipboard"
CSI8 = "\x9b31m"
BEL = "\x07"
HOSTILE = (
    f"error: internal error: qemu unexpectedly closed the monitor (vm='win{OSC52}10'): {CLEAR}qemu-system-x86_64: "
    f"-device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: group 13 is not viable{BEL}{CSI8} \u202eevil\n"
)
HOSTILE_UNKNOWN = f"qemu-system-x86_64: something failed {CLEAR}{OSC52} with an error{BEL}{CSI8}\n"


def _cli(*args: str, stdin: Any = None, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vfio_tui", "explain", *args], stdin=stdin, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env=env, check=False)
    return proc, time.perf_counter() - start


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1, stderr
    return stderr


def test_a_device_as_file_is_refused_at_once() -> None:
    proc, took = _cli("/dev/zero")
    assert proc.returncode == 2
    assert "/dev/zero is a character device, not a log file" in _one_line(proc.stderr)
    assert took < 10


def test_a_fifo_as_file_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "qemu.log"
    os.mkfifo(fifo)
    proc, took = _cli(str(fifo), timeout=30)  # a blocking open would never return: no writer
    assert proc.returncode == 2
    assert "is a FIFO (named pipe), not a log file" in _one_line(proc.stderr)
    assert took < 10
    proc, _ = _cli(str(tmp_path))
    assert proc.returncode == 2 and "is a directory" in _one_line(proc.stderr)


def test_an_endless_stdin_stops_at_the_cap_with_one_line() -> None:
    with open("/dev/urandom", "rb") as endless:
        proc, took = _cli("-", "--json", stdin=endless, timeout=120)
    assert proc.returncode == 1
    assert _one_line(proc.stderr).startswith(f"vfio-tui explain: stopped after the first {MAX_INPUT >> 20} MiB")
    report = json.loads(proc.stdout)
    assert report["bytes_scanned"] == MAX_INPUT and report["truncated"] is True
    assert took < 60


def test_the_vm_qemu_log_as_a_fifo_is_refused_at_once(sim_root: HostPaths) -> None:
    log = sim_root.var_log / "libvirt" / "qemu" / "vfio_test.log"
    log.unlink()
    os.mkfifo(log)
    proc, took = _cli("--vm", "vfio_test", "--root", str(sim_root.root), timeout=30)
    assert proc.returncode == 2
    assert "vfio_test.log is a FIFO (named pipe), not a log file" in _one_line(proc.stderr)
    assert took < 20


def test_a_kernel_log_fifo_is_skipped_by_collect_and_checks(sim_root: HostPaths) -> None:
    kern = sim_root.var_log / "kern.log"
    kern.unlink()
    os.mkfifo(kern)
    proc, took = _cli("--vm", "vfio_test", "--root", str(sim_root.root), "--json", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"][0]["cause_id"] == "E05"
    # the interrupt-remapping check reads the kernel log: the FIFO is skipped, the check still answers
    ir = "vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param " \
         '"allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform\n'
    with (sim_root.root.parent / "ir.txt").open("w+") as fh:
        fh.write(ir)
        fh.seek(0)
        proc, took2 = _cli("-", "--root", str(sim_root.root), "--json", stdin=fh, timeout=30)
    assert proc.returncode == 0, proc.stderr
    root = json.loads(proc.stdout)["findings"][0]
    assert root["cause_id"] == "K01" and root["check"] is not None
    assert took + took2 < 30


def test_deeply_nested_json_record_is_not_a_traceback() -> None:
    line = '{"MESSAGE":"vfio 0000:02:00.0: group 13 is not viable","x":' + "[" * 5000 + "]" * 5000 + "}\n"
    assert [f.cause_id for f in explain_text(line).findings] == ["E05"]


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


@pytest.mark.parametrize("text", [HOSTILE, HOSTILE_UNKNOWN], ids=["finding", "no-known-cause"])
def test_escape_sequences_and_controls_from_a_log_never_reach_the_output(text: str, demo_host: Host) -> None:
    report = explain_text(text, demo_host)
    if text is HOSTILE:
        assert [f.cause_id for f in report.findings] == ["E05", "L14"]
        assert report.findings[1].values["vm"] == "win10"  # the OSC 52 inside the name is gone, not the name
    else:
        assert report.findings == [] and any("something failed" in ln for ln in report.relevant_lines)
    plain = format_report(report, color=False, verbose=True)
    assert not FORBIDDEN.search(plain), repr(FORBIDDEN.search(plain))
    coloured = format_report(report, color=True, verbose=True)
    assert not FORBIDDEN.search(re.sub(r"\x1b\[[0-9;]*m", "", coloured))  # only our own SGR colours
    for s in _strings(report.to_json()):
        assert not FORBIDDEN.search(s), repr(s)


@pytest.mark.parametrize("text", [HOSTILE, HOSTILE_UNKNOWN], ids=["finding", "no-known-cause"])
def test_the_cli_prints_no_escape_from_a_log(text: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "vfio_tui", "explain", "-", "--demo"], input=text, capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert "group 13" in proc.stdout or "something failed" in proc.stdout
    assert not FORBIDDEN.search(proc.stdout + proc.stderr)


def test_the_app_shows_no_escape_from_a_log(demo_host: Host, tmp_path: Path) -> None:
    from vfio_tui.tui.backend import Backend
    from vfio_tui.tui.widgets.explain_panel import explanation_text

    backend = Backend(demo_host)
    for text in (HOSTILE, HOSTILE_UNKNOWN):
        shown = explanation_text(backend.explain_text(text)).plain
        assert "group 13" in shown or "something failed" in shown
        assert not FORBIDDEN.search(shown), repr(FORBIDDEN.search(shown))
    log = tmp_path / "qemu.log"
    log.write_text(HOSTILE + HOSTILE_UNKNOWN)
    loaded = backend.read_log_file(str(log))  # goes into the paste box as it is
    assert loaded.count("\n") == 2 and "group 13 is not viable" in loaded
    assert not FORBIDDEN.search(loaded)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    from vfio_tui.core.errors import VfioError

    with pytest.raises(VfioError, match="FIFO"):
        backend.read_log_file(str(fifo))
