"""Provides the SR-IOV rows of the device tree and detail: a PF's VFs shown under it (each VF also
sits in its own IOMMU group, where the tree lists it as any device), with the group, driver, the NIC
settings the PF driver reports and the VM that holds it."""

from __future__ import annotations

from rich.text import Text

from core.address import PciAddress
from core.model import HostInventory, PciDevice
from core.sriovinfo.format import pf_text, vf_text
from tui.describe import device_label


def vf_rows(inv: HostInventory, dev: PciDevice, vm_of: dict[str, str]) -> list[tuple[Text, int | None, PciAddress]]:
    """(label, the VF's group, the VF's address) for each VF of a PF (none for other devices)."""
    info = inv.sriov.get(dev.address)
    if info is None:
        return []
    out = []
    for vf in info.vfs:
        vdev = inv.device(vf.address)
        label = Text(f"VF {vf.index} ", style="dim")
        if vdev is not None:
            label.append_text(device_label(inv, vdev, vm_of))
        else:
            label.append(vf.address.short, style="bold")
        group = f"group {vf.iommu_group}" if vf.iommu_group is not None else "no group"
        label.append(f"  ({group}{'' if vf.own_group else ', shared'})", style="dim" if vf.own_group else "yellow")
        if vf.nic is not None and vf.nic.mac:
            label.append(f"  mac {vf.nic.mac}" + (f" vlan {vf.nic.vlan}" if vf.nic.vlan else ""), style="dim")
        out.append((label, vf.iommu_group, vf.address))
    return out


def sriov_detail(inv: HostInventory, dev: PciDevice, vm_of: dict[str, str]) -> Text:
    """The SR-IOV lines of a PF's (or a VF's) detail panel; empty for other devices."""
    pf = dev.physfn if dev.physfn is not None else dev.address
    info = inv.sriov.get(pf)
    if info is None:
        return Text()
    text = Text()
    head = f"SR-IOV: a VF of {pf}\n" if dev.physfn is not None else ""
    text.append(head + pf_text(info) + "\n", style="bold")
    for vf in info.vfs:
        mark = "▶ " if vf.address == dev.address else "  "
        vm = vm_of.get(str(vf.address)) if not vf.held_by else None
        text.append(f"{mark}{vf_text(vf)}" + (f"  in VM {vm}" if vm else "") + "\n",
                    style="yellow" if not vf.own_group else "")
    if dev.physfn is None:
        text.append(f"v: set the number of VFs (vfio-tui sriov {dev.address} --vfs N)\n", style="dim")
    return text
