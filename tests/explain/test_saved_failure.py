"""`explain --vm` reads the failure record that `attach --start` saved (lab: vfio modules unloaded)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from vfio_tui.core.host import HostOptions
from vfio_tui.core.libvirt.failure import FailureRecord, save_failure
from vfio_tui.core.open_host import open_host


def _record(vm: str) -> FailureRecord:
    return FailureRecord(
        vm=vm, uri="qemu:///system", when=datetime.now(UTC).isoformat(),
        error_message="unsupported configuration: host doesn't support VFIO PCI passthrough",
        error_code=67, hostdevs=("0000:0b:00.0",),
    )


def test_explain_vm_uses_the_saved_record(run_cli, sim_root) -> None:  # type: ignore[no-untyped-def]
    with open_host(HostOptions(root=sim_root.root)) as host:
        assert save_failure(host, _record("newvm")) is not None
    res = run_cli("explain", "--vm", "newvm", "--root", str(sim_root.root), "--json")
    assert res.returncode == 0, res.stderr
    findings = json.loads(res.stdout)["findings"]
    assert findings and findings[0]["cause_id"] == "L01"
    assert any("VFIO PCI passthrough" in e for e in findings[0]["evidence"])


def test_a_record_older_than_the_last_start_is_ignored(run_cli, sim_root) -> None:  # type: ignore[no-untyped-def]
    rec = _record("vfio_test")
    old = replace(rec, when="2020-01-01T00:00:00+00:00")
    with open_host(HostOptions(root=sim_root.root)) as host:
        save_failure(host, old)
    res = run_cli("explain", "--vm", "vfio_test", "--root", str(sim_root.root), "--json")
    findings = json.loads(res.stdout)["findings"]
    assert findings[0]["cause_id"] == "E05"  # the demo log's newer attempt: group 13 not viable
