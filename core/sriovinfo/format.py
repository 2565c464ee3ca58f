"""Provides the SR-IOV parts of the inventory: the `sriov` object of a PF in JSON (the contract keys
`total_vfs` and `enabled_vfs`, plus `drivers_autoprobe` and `vfs`) and the VF lines under a PF in the
text tree."""

from __future__ import annotations

from typing import Any

from vfio_tui.core.model import HostInventory, PciDevice, PfSriov, VfInfo


def vf_json(vf: VfInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"address": str(vf.address), "index": vf.index, "iommu_group": vf.iommu_group,
                           "driver": vf.driver, "own_group": vf.own_group}
    if vf.nic is not None:
        out.update(mac=vf.nic.mac, vlan=vf.nic.vlan, qos=vf.nic.qos, trust=vf.nic.trust,
                   spoofchk=vf.nic.spoofchk, link_state=vf.nic.link_state)
    if vf.held_by is not None:
        out["held_by"] = list(vf.held_by)
    return out


def sriov_json(inv: HostInventory, dev: PciDevice) -> dict[str, Any] | None:
    """The `sriov` key of a device in `vfio-tui inventory --json` (None for a device that is no PF)."""
    if dev.sriov_total_vfs is None:
        return None
    out: dict[str, Any] = {"total_vfs": dev.sriov_total_vfs, "enabled_vfs": dev.sriov_num_vfs}
    info = inv.sriov.get(dev.address)
    if info is not None:
        out.update(drivers_autoprobe=info.drivers_autoprobe, vfs=[vf_json(v) for v in info.vfs],
                   vf_device=info.vf_device, offset=info.offset, stride=info.stride, ifname=info.ifname)
    return out


def pf_text(info: PfSriov) -> str:
    autoprobe = {True: "on", False: "off", None: "?"}[info.drivers_autoprobe]
    return f"SR-IOV PF: {info.num_vfs}/{info.total_vfs} VFs enabled (autoprobe {autoprobe})"


def vf_text(vf: VfInfo) -> str:
    bits = [f"VF {vf.index}: {vf.address.short}", f"group {vf.iommu_group if vf.iommu_group is not None else '-'}"
            + ("" if vf.own_group else " (shared)"), f"driver: {vf.driver or 'none'}"]
    if vf.nic is not None:
        if vf.nic.mac:
            bits.append(f"mac {vf.nic.mac}")
        if vf.nic.vlan:
            bits.append(f"vlan {vf.nic.vlan}" + (f" qos {vf.nic.qos}" if vf.nic.qos else ""))
        flags = [f"{name} {'on' if value else 'off'}" for name, value in
                 (("spoofchk", vf.nic.spoofchk), ("trust", vf.nic.trust)) if value is not None]
        bits.extend(flags)
    if vf.held_by:
        bits.append("held by VM " + ", ".join(vf.held_by))
    return "  ".join(bits)


def vf_lines(inv: HostInventory, dev: PciDevice) -> list[str]:
    """The VFs of a PF, one line each, to print under the PF's line (none for other devices)."""
    info = inv.sriov.get(dev.address)
    return [vf_text(v) for v in info.vfs] if info is not None else []
