"""Case 1: `vfio-tui inventory --json` says what the real kernel says, and a recording replays it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import Cli, note
from kview import KernelView, read_kernel_view


def _kernel_facts(kv: KernelView, address: str) -> dict[str, Any]:
    d = kv.devices[address]
    slot_has_more = any(o.slot == d.slot and o.address != address for o in kv.devices.values())
    cfg0e = (Path("/sys/bus/pci/devices") / address / "config").read_bytes()[0x0E]
    override = d.driver_override.decode().strip()
    return {
        "vendor_id": d.vendor_id, "device_id": d.device_id, "class_code": d.class_code,
        "driver": d.driver, "driver_override": None if override in ("(null)", "") else override,
        "iommu_group": d.group, "is_bridge": d.is_bridge, "header_type": d.header_type,
        "pcie_port_type": d.port_type,
        "acs": None if d.acs is None else {"cap": d.acs[0], "ctrl": d.acs[1]},
        "reset_methods": list(d.reset_methods), "parent": d.parent,
        "multifunction": bool(cfg0e & 0x80) or slot_has_more,
        "net_interfaces": list(d.net_interfaces) if d.class_code.startswith("02") and d.driver else [],
    }


def _tool_facts(dev: dict[str, Any]) -> dict[str, Any]:
    acs = dev["acs"]
    return {
        "vendor_id": dev["vendor_id"], "device_id": dev["device_id"], "class_code": dev["class_code"],
        "driver": dev["driver"], "driver_override": dev["driver_override"],
        "iommu_group": dev["iommu_group"], "is_bridge": dev["is_bridge"], "header_type": dev["header_type"],
        "pcie_port_type": dev["pcie_port_type"],
        "acs": {"cap": acs["cap"], "ctrl": acs["ctrl"]} if isinstance(acs, dict) else acs,
        "reset_methods": dev["reset_methods"], "parent": dev["parent"],
        "multifunction": dev["multifunction"], "net_interfaces": dev["net_interfaces"],
    }


def test_inventory_equals_the_kernels_view(vt: Cli) -> None:
    inv = vt.json("inventory", "--json")
    # read now, not at session start: a NIC re-probed by an earlier test may have a new ethN
    kernel_view = read_kernel_view()
    assert inv["schema"] == "vfio-tui/inventory/1"
    assert inv["iommu_enabled"] is True
    assert "dmar0" in inv["iommu_units"]
    assert inv["privileged"] is True, "run as root: ACS bits must be read, not 'needs root'"
    assert inv["ungrouped_devices"] == []

    tool_groups = {g["id"]: sorted(d["address"] for d in g["devices"]) for g in inv["groups"]}
    kernel_groups = {gid: sorted(m) for gid, m in kernel_view.groups.items()}
    assert tool_groups == kernel_groups

    diffs = []
    for group in inv["groups"]:
        for dev in group["devices"]:
            want, got = _kernel_facts(kernel_view, dev["address"]), _tool_facts(dev)
            diffs += [f"{dev['address']} {k}: kernel {want[k]!r}, vfio-tui {got[k]!r}"
                      for k in want if want[k] != got[k]]
    assert not diffs, "\n".join(diffs)
    n_acs = sum(1 for d in kernel_view.devices.values() if d.acs)
    n_reset = sum(1 for d in kernel_view.devices.values() if d.reset_methods)
    note(f"inventory: {len(kernel_groups)} groups, {len(kernel_view.devices)} functions, "
         f"{n_acs} with ACS, {n_reset} with reset methods: all equal to the kernel's view")


def test_snapshot_replays_as_the_same_inventory(vt: Cli, tmp_path: Path) -> None:
    out = tmp_path / "guest.json"
    res = vt("snapshot", str(out))
    assert res.returncode == 0, res.stderr
    live = vt.json("inventory", "--json")
    replay = vt.json("inventory", "--json", "--host-snapshot", str(out))
    live.pop("host"), replay.pop("host")
    assert replay == live
