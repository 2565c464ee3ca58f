"""`explain --vm`, failure records, streaming input and the checks that read the host."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.errors import InputError
from vfio_tui.core.explain import collect_vm_logs, explain_failure, explain_stream, explain_text
from vfio_tui.core.explain.scan import BLOCK
from vfio_tui.core.host import Host

UTC = {"TZ": "UTC"}  # the demo's kern.log is in syslog format (local time, no zone)


@pytest.fixture
def utc() -> Iterator[None]:
    import os
    import time

    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()


GROUP13 = ('2026-11-25T09:12:02.456789Z qemu-system-x86_64: -device {"driver":"vfio-pci","host":"0000:02:00.0"}: '
           "vfio 0000:02:00.0: group 13 is not viable\n"
           "Please ensure all devices within the iommu_group are bound to their vfio bus driver.\n")


def test_explain_vm_on_the_demo_names_the_members_on_igb(run_cli: Any) -> None:
    proc = run_cli("explain", "--vm", "vfio_test", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr
    root = json.loads(proc.stdout)["findings"][0]
    assert root["cause_id"] == "E05"
    assert root["check"]["status"] == "fail"
    assert root["check"]["summary"] == ("group 13 is not viable: 0000:02:00.0 is still bound to igb (the VM's "
                                        "hostdev), 0000:02:00.1 is still bound to igb")
    assert "virsh nodedev-detach pci_0000_02_00_1" in " ".join(root["check"]["details"])


def test_explain_vm_memlock_names_limit_and_ram(run_cli: Any) -> None:
    proc = run_cli("explain", "--vm", "hba_test", "--demo", "--json", env=UTC)
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert [f["cause_id"] for f in findings] == ["K02", "E14", "E02"]
    assert findings[0]["check"]["summary"] == "memlock limit 64 MiB < VM RAM 8 GiB (libvirt uses RAM + 1 GiB = 9 GiB)"
    # group 19 only holds the VM's own hostdev: not blamed
    assert findings[2]["check"]["status"] == "warn"


def test_vm_kernel_lines_are_limited_to_the_attempt(demo_host: Host, utc: None) -> None:
    text = collect_vm_logs(demo_host, "vfio_test")  # started 09:12, failed at once; the memlock line is 09:20
    assert "RLIMIT_MEMLOCK" not in text
    assert "RLIMIT_MEMLOCK" in collect_vm_logs(demo_host, "hba_test")


def test_explain_vm_text_output(run_cli: Any) -> None:
    proc = run_cli("explain", "--vm", "vfio_test", "--demo")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == "Root cause: IOMMU group 13 is not viable: a device in the group is still bound to a host driver"
    assert "Check on this host: FAIL group 13 is not viable" in proc.stdout


def test_explain_unknown_vm_is_one_line_exit_2(run_cli: Any) -> None:
    proc = run_cli("explain", "--vm", "nosuchvm", "--demo")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "nosuchvm" in proc.stderr
    assert run_cli("explain", "/nonexistent/file", "--demo").returncode == 2


def test_collect_vm_logs_reads_the_last_start_and_kernel_lines(demo_host: Host) -> None:
    log = demo_host.paths.var_log / "libvirt" / "qemu" / "vfio_test.log"
    log.write_text("2026-11-24 08:00:00.000+0000: starting up libvirt\nold attempt: group 99 is not viable\n"
                   + log.read_text())
    text = collect_vm_logs(demo_host, "vfio_test")
    assert "group 13 is not viable" in text and "group 99" not in text
    with pytest.raises(InputError):
        collect_vm_logs(demo_host, "../etc/passwd")


def test_collect_vm_logs_prefers_the_hypervisor_record(demo_host: Host) -> None:
    class Hyper:
        def last_failure(self, vm: str) -> dict[str, Any]:
            return {"libvirt_error": "Unmanaged PCI device 0000:0b:00.0 must be manually detached from the host",
                    "qemu_log_tail": "", "kernel_lines": []}

    text = collect_vm_logs(demo_host, "vfio_test", Hyper())
    assert text.startswith("Unmanaged PCI device 0000:0b:00.0")
    assert "group 13 is not viable" in text  # the record had no QEMU log tail: the file fills it in
    report = explain_text(text, demo_host)
    l05 = next(f for f in report.findings if f.cause_id == "L05")
    assert l05.check is not None
    assert l05.check.summary == "0000:0b:00.0 is bound to qla2xxx, IOMMU group 19 (not vfio-pci)"
    assert "virsh nodedev-detach pci_0000_0b_00_0" in l05.fix

    class RecordOnly:
        def last_failure(self, vm: str) -> dict[str, Any]:
            return {"libvirt_error": "error: Path '/dev/vfio/19' is not accessible: No such file or directory"}

    assert "is not accessible" in collect_vm_logs(demo_host, "no_log_vm", RecordOnly())


@dataclass
class _Record:
    libvirt_error: str = ""
    qemu_log_tail: str = ""
    kernel_lines: list[str] = field(default_factory=list)


def test_explain_failure_accepts_records_and_dicts(demo_host: Host) -> None:
    rec = _Record(
        libvirt_error="internal error: qemu unexpectedly closed the monitor: qemu-system-x86_64: -device "
                      "vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: failed to setup container for group 13: "
                      "memory listener initialization failed: Region pc.ram: vfio_dma_map(0x1, 0x0, 0x80000000, "
                      "0x7f0) = -12 (Cannot allocate memory)",
        qemu_log_tail='/usr/bin/qemu-system-x86_64 -name guest=big,debug-threads=on -m 8192 -device '
                      '{"driver":"vfio-pci","host":"0000:02:00.0"}',
        kernel_lines=["[ 99.1] vfio_pin_pages_remote: RLIMIT_MEMLOCK (65536) exceeded"],
    )
    report = explain_failure(rec, demo_host)
    ids = [f.cause_id for f in report.findings]
    assert ids[:2] == ["K02", "E14"] and ids[-1] == "L14"
    assert report.findings[0].check is not None
    assert report.findings[0].check.summary.startswith("memlock limit 64 KiB < VM RAM 8 GiB")
    same = explain_failure(vars(rec), demo_host)
    assert [f.cause_id for f in same.findings] == ids


def test_stream_finds_needles_across_block_boundaries(tmp_path: Path) -> None:
    filler = b"Nov 25 10:00:00 host systemd[1]: Started Session 4 of user root.\n"
    body = filler * (BLOCK // len(filler))
    needle = b"vfio 0000:02:00.0: group 13 is not viable\n"
    cut = len(body) - 10  # the needle straddles the first block boundary
    data = body[:cut] + needle + body[cut:] + b"\xff\xfe garbage \x00\n" + filler * 3
    path = tmp_path / "big.log"
    path.write_bytes(data)
    with path.open("rb") as fh:
        report = explain_stream(fh)
    assert [f.cause_id for f in report.findings] == ["E05"]
    text_report = explain_stream(io.StringIO(data.decode("utf-8", errors="replace")))
    assert [f.cause_id for f in text_report.findings] == ["E05"]


def test_a_huge_line_is_scanned_in_pieces() -> None:
    line = b"x" * (3 * BLOCK) + b" vfio 0000:02:00.0: group 13 is not viable " + b"y" * BLOCK + b"\n"
    report = explain_text(line)
    assert [f.cause_id for f in report.findings] == ["E05"]
    assert len(report.findings[0].evidence[0]) < 1000


def test_lines_iterable_and_timestamps_any_order() -> None:
    lines = ["Nov 25 09:00:01 host192 kernel: vfio_iommu_type1_attach_group: No interrupt remapping support.  "
             "Use the module param \"allow_unsafe_interrupts\" to enable VFIO IOMMU support on this platform",
             "vfio 0000:0b:00.0: failed to setup container for group 19: Failed to set iommu for container: "
             "Operation not permitted"]
    report = explain_text(reversed(lines))
    assert [f.cause_id for f in report.findings] == ["K01", "E07", "E02"]


def test_repeated_attempts_most_recent_first() -> None:
    text = GROUP13.replace("13", "12") + GROUP13
    report = explain_text(text)
    assert [f.values.get("group") for f in report.findings] == ["13", "12"]


def test_session_uri_is_named_for_permission_errors(run_cli: Any) -> None:
    proc = run_cli("explain", "-", "--demo", "--json", "--connect", "qemu:///session",
                   stdin="vfio 0000:0b:00.0: failed to open /dev/vfio/19: Permission denied\n")
    root = json.loads(proc.stdout)["findings"][0]
    assert root["cause_id"] == "E04" and "security label" in root["title"]
    assert any("qemu:///session" in d for d in root["check"]["details"])


def test_evidence_is_highlighted_only_with_color() -> None:
    from vfio_tui.core.explain.render import format_report

    report = explain_text(GROUP13)
    plain = format_report(report, color=False)
    coloured = format_report(report, color=True)
    assert "\x1b[" not in plain
    assert "vfio 0000:02:00.0: \x1b[1m\x1b[31mgroup 13 is not viable\x1b[0m" in coloured


def test_wrapper_is_split_so_each_quoted_qemu_message_is_read_alone() -> None:
    line = ("error: internal error: qemu unexpectedly closed the monitor (vm='win10'): 2024-01-01T00:00:00.000000Z "
            "qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: vfio 0000:01:00.0: Could not open "
            "'/dev/vfio/vfio': Operation not permitted qemu-system-x86_64: -device vfio-pci,host=0000:01:00.0: "
            "vfio 0000:01:00.0: group 13 is not viable")
    report = explain_text(line)
    by_id = {f.cause_id: f for f in report.findings}
    assert set(by_id) == {"E01", "E05", "L14"}
    assert by_id["E01"].values["err"] == "Operation not permitted"
    assert by_id["L14"].values["vm"] == "win10"


def test_a_flood_of_one_error_is_counted_not_stored() -> None:
    flood = "vfio 0000:02:00.0: group 13 is not viable\n" * 5000 + "vfio 0000:02:00.0: group 12 is not viable\n"
    report = explain_text(flood)
    assert [f.values["group"] for f in report.findings] == ["12", "13"]  # the latest attempt first
    thirteen = report.findings[1]
    assert thirteen.occurrences == 5000
    assert len(thirteen.evidence) == 1  # identical lines are one piece of evidence
