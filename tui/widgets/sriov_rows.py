"""Provides the SR-IOV rows of the device tree and detail: a PF's VFs shown under it (each VF also
sits in its own IOMMU group, where the tree lists it as any device), with the group, driver, the NIC
settings the PF driver reports and the VM that holds it."""

from __future__ import annotations

from vfio_tui.core.model import HostInventory, PciDevice
from vfio_tui.core.sriovinfo.format import pf_text, vf_text
from vfio_tui.tui.rows import Holds, device_row
from vfio_tui.tui.safe_text import SafeText as Text


def vf_row(inv: HostInventory, dev: PciDevice, holds: Holds, width: int) -> Text:
    """A VF's row under its PF: "VF n", its own row, then its group (and whether it shares it)."""
    pf = inv.sriov.get(dev.physfn) if dev.physfn is not None else None
    vf = next((v for v in pf.vfs if v.address == dev.address), None) if pf is not None else None
    head = Text(f"VF {vf.index} " if vf is not None else "VF ", style="dim")
    if vf is None:
        head.append_text(device_row(inv, dev, holds, max(width - head.cell_len, 20)))
        return head
    tail = Text(f"  (group {vf.iommu_group}" if vf.iommu_group is not None else "  (no group",
                style="dim" if vf.own_group else "yellow")
    # The MAC and VLAN are in the detail panel: on the row they pushed the badges off an 80-column tree.
    tail.append("" if vf.own_group else ", shared")
    tail.append(")")
    row = device_row(inv, dev, holds, max(width - head.cell_len - tail.cell_len, 20))
    head.append_text(row)
    head.append_text(tail)
    return head


def sriov_detail(inv: HostInventory, dev: PciDevice, holds: Holds) -> Text:
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
        vms = [] if vf.held_by else sorted({h.vm for h in holds.get(vf.address, ())})
        text.append(f"{mark}{vf_text(vf)}" + (f"  in VM {', '.join(vms)}" if vms else "") + "\n",
                    style="yellow" if not vf.own_group else "")
    if dev.physfn is None:
        text.append(f"v: set the number of VFs (vfio-tui sriov {dev.address} --vfs N)\n", style="dim")
    return text
