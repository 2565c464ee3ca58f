"""Provides what the device tree is made of: NodeRef (what a row stands for), TreeFilter (what the
user narrowed it to), the filter's search index, and walking tree nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from textual.widgets.tree import TreeNode

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import PciDevice
from vfio_tui.tui.backend import HostView
from vfio_tui.tui.describe import haystack
from vfio_tui.tui.rows import group_state

OPEN_MATCHES_UP_TO: Final = 24
"""A filter opens the groups it matches when there are at most this many (more would be a tree as
long as the host; the first letters of a word match nearly everything)."""


@dataclass(frozen=True)
class NodeRef:
    """What a tree row stands for."""

    kind: Literal["group", "device"]
    group: int | None
    address: PciAddress | None = None


@dataclass(frozen=True)
class TreeFilter:
    """What the user narrowed the tree to."""

    text: str = ""
    """Every word must match a device's address, names, class, driver, ids, interfaces, host uses
    (mount points, block devices), VMs, badges (host-used, vfio-pci) or its group's state; or the
    text is a group number."""
    hide_bridges: bool = False
    hide_empty: bool = False
    """Hide groups with nothing but bridges and ports."""


SearchIndex = tuple[dict[PciAddress, str], dict[int, list[PciDevice]], dict[int, list[str]]]
"""Per device its search text; per group its members, and their search texts in member order."""


def search_index(view: HostView) -> SearchIndex:
    """The filter's search text of every device of a read of the host (see describe.haystack), each
    group's members, and their search texts in member order (a keystroke then tests 4,000 strings
    without looking one up)."""
    inv, holds = view.inventory, view.holds
    states = view.states or {gid: group_state(inv, gid, holds) for gid in inv.groups}
    index = {d.address: haystack(inv, d, holds, states.get(d.iommu_group) if d.iommu_group is not None else None)
             for d in inv.devices.values()}
    members = {gid: inv.members(gid) for gid in inv.groups}
    return index, members, {gid: [index[d.address] for d in devices] for gid, devices in members.items()}


def depth_of(node: TreeNode[NodeRef]) -> int:
    depth = 0
    while node.parent is not None:
        depth += 1
        node = node.parent
    return depth


def walk(node: TreeNode[NodeRef]) -> list[TreeNode[NodeRef]]:
    out: list[TreeNode[NodeRef]] = []
    for child in node.children:
        out.append(child)
        out.extend(walk(child))
    return out
