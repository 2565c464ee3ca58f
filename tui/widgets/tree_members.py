"""Provides add_members() and count_matches(): a group's members placed in the tree (each device under its
own bridge, a PF's VFs under the PF), and the filter's count of the devices a group matches."""

from __future__ import annotations

from rich.text import Text
from textual.widgets.tree import TreeNode

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import HostInventory, PciDevice
from vfio_tui.tui.widgets.tree_model import NodeRef


def add_members(node: TreeNode[NodeRef], gid: int, members: list[PciDevice],
                inv: HostInventory | None) -> dict[PciAddress, TreeNode[NodeRef]]:
    """Add a group's members below its node, bridges first, each device under its own bridge; the
    nodes added, by address."""
    shown = {d.address for d in members}
    by_addr: dict[PciAddress, TreeNode[NodeRef]] = {}
    # A member whose parent bridge is also shown goes under it, otherwise at group level.
    pending = list(members)
    while pending:
        progressed = False
        for dev in list(pending):
            parent = dev.parent
            if parent in shown and parent not in by_addr:
                continue
            target = by_addr.get(parent, node) if parent is not None else node
            child = target.add(Text(dev.address.short), NodeRef("device", gid, dev.address), allow_expand=False)
            by_addr[dev.address] = child
            pf = inv.sriov.get(dev.address) if inv is not None else None
            for vf in pf.vfs if pf is not None else ():  # a PF's VFs under it (each is in its own group too)
                child.add(Text(vf.address.short), NodeRef("device", vf.iommu_group, vf.address), allow_expand=False)
            pending.remove(dev)
            progressed = True
        if not progressed:  # a parent loop cannot happen in sysfs, but never spin
            break
    return by_addr


def count_matches(haystacks: list[str], words: list[str]) -> int:
    """How many search texts hold every word (the filter box: words in any order)."""
    if len(words) == 1:
        word = words[0]
        return len([h for h in haystacks if word in h])
    return len([h for h in haystacks if all(w in h for w in words)])
