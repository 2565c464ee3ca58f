"""The guard refuses a device that a running libvirt domain holds (demo: VM `router` holds 07:10.2)."""

from __future__ import annotations

import json


def test_device_of_a_running_vm_is_refused(run_cli) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("bind", "0000:07:10.2", "--demo", "--dry-run", "--json")
    assert res.returncode == 3, res.stderr
    refused = json.loads(res.stdout)["refused"]
    assert any(r["address"] == "0000:07:10.2" and "router" in r["reason"] for r in refused)


def test_a_device_no_vm_holds_is_not_refused_for_domains(run_cli) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("bind", "0000:0b:00.0", "--demo", "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["refused"] == []
