"""Every lab recording loads, and its inventory equals what the real kernel recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fixture_paths import RECORDED
from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import HostOptions
from vfio_tui.core.model import NEEDS_ROOT, AcsState
from vfio_tui.core.open_host import open_host


def _recorded(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_every_lab_snapshot_matches_the_kernel_view(lab_snapshots: list[Path]) -> None:
    for snap_path in lab_snapshots:
        snap = _recorded(snap_path)
        with open_host(HostOptions(snapshot=snap_path, unprivileged=False)) as host:
            inv = host.inventory()
        recorded_groups = {int(g): sorted(v["devices"]) for g, v in snap["iommu_groups"].items()}
        assert {g: [str(a) for a in grp.members] for g, grp in inv.groups.items()} == recorded_groups
        assert inv.iommu_enabled == bool(recorded_groups), snap_path.name
        for rec in snap["pci_devices"]:
            dev = inv.devices[PciAddress.parse(rec["address"])]
            assert dev.driver == rec["driver"], rec["address"]
            assert dev.iommu_group == rec["iommu_group"]
            assert dev.is_bridge == rec["is_bridge"]
            assert dev.vendor_id == rec["vendor"][2:] and dev.device_id == rec["device"][2:]
            assert dev.class_code == rec["class"][2:]
            if "acs_cap" in rec:
                assert isinstance(dev.acs, AcsState)
                assert (dev.acs.cap, dev.acs.ctrl) == (int(rec["acs_cap"], 16), int(rec["acs_ctrl"], 16))
            else:
                assert dev.acs is None
            expected_reset = tuple(rec["reset_method"].split()) if "reset_method" in rec else ()
            assert dev.reset_methods == expected_reset, rec["address"]
            assert (str(dev.parent) if dev.parent else None) == rec["parent"]


def test_bound_snapshot_shows_vfio_and_ready_group() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "q35-viommu-bound.json")) as host:
        inv = host.inventory()
    dev = inv.devices[PciAddress.parse("0000:01:00.0")]
    assert dev.driver == "vfio-pci" and dev.on_vfio
    assert inv.verdicts[11].kind == "ready"


def test_lab_groups_have_the_expected_shapes() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "q35-viommu.json")) as host:
        inv = host.inventory()
    assert inv.verdicts[11].kind == "bindable"
    # group 13: a driverless pcie-to-pci bridge and two conventional NICs
    bridge = inv.devices[PciAddress.parse("0000:03:00.0")]
    assert bridge.is_bridge and bridge.driver is None and bridge.pcie_port_type == "pcie_to_pci_bridge"
    assert inv.verdicts[13].kind == "bindable"
    assert inv.verdicts[1].kind == "blocked"  # a root port alone: nothing to pass through
    root_port = inv.devices[PciAddress.parse("0000:00:02.0")]
    assert isinstance(root_port.acs, AcsState) and root_port.acs.isolates


def test_no_iommu_host_says_so_and_lists_devices(run_cli) -> None:  # type: ignore[no-untyped-def]
    snap = RECORDED / "host-firecracker-noiommu.json"
    res = run_cli("inventory", "--host-snapshot", str(snap))
    assert res.returncode == 0, res.stderr
    assert "IOMMU: NOT enabled" in res.stdout
    assert "0000:00:03.0" in res.stdout or "00:03.0" in res.stdout
    js = run_cli("inventory", "--host-snapshot", str(snap), "--json")
    data = json.loads(js.stdout)
    assert data["iommu_enabled"] is False and data["groups"] == []
    assert len(data["ungrouped_devices"]) == len(_recorded(snap)["pci_devices"])


def test_without_root_acs_and_flr_say_needs_root() -> None:
    snap = RECORDED / "q35-viommu.json"
    with open_host(HostOptions(snapshot=snap, unprivileged=True)) as host:
        inv = host.inventory()
    assert not inv.privileged
    port = inv.devices[PciAddress.parse("0000:00:02.0")]
    assert port.acs == NEEDS_ROOT  # never a wrong "absent"
    nic = inv.devices[PciAddress.parse("0000:01:00.0")]
    assert nic.flr == NEEDS_ROOT
    # reset_method is world-readable, so it is still known
    assert nic.reset_methods == ("pm", "bus")
    # what a normal user can read is unchanged
    assert nic.driver == "e1000e" and nic.iommu_group == 11


@pytest.mark.parametrize("as_user", [False, True])
def test_snapshot_records_and_replays_the_same_inventory(tmp_path: Path, run_cli, as_user: bool) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "demo.json"
    res = run_cli("snapshot", str(out), "--demo")
    assert res.returncode == 0, res.stderr
    a = json.loads(run_cli("inventory", "--demo", "--json").stdout)
    args = ["inventory", "--host-snapshot", str(out), "--json"] + (["--as-user"] if as_user else [])
    b = json.loads(run_cli(*args).stdout)
    if not as_user:
        a.pop("host"), b.pop("host")
        assert a == b
    else:
        assert [g["id"] for g in a["groups"]] == [g["id"] for g in b["groups"]]
