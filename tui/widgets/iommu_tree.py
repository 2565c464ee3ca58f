"""Provides IommuTree: IOMMU groups -> bridges/ports -> devices, filled lazily as groups open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.text import Text
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from core.address import PciAddress
from core.model import HostInventory, PciDevice
from tui.describe import device_label, group_label
from tui.widgets.sriov_rows import vf_rows


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
    """Matches address, name, class (code or name) and driver, case-insensitively."""
    hide_bridges: bool = False
    hide_empty: bool = False
    """Hide groups with nothing but bridges and ports."""


def device_matches(dev: PciDevice, needle: str) -> bool:
    if not needle:
        return True
    hay = " ".join([str(dev.address), dev.name, dev.kind_label, dev.class_code, dev.class_name or "",
                    dev.driver or "", dev.driver_override or "", dev.ids]).lower()
    return needle.lower() in hay


class IommuTree(Tree[NodeRef]):
    """The device tree. Posts Selected when the highlighted row changes."""

    class Selected(Message):
        """The user moved to a group or a device."""

        def __init__(self, ref: NodeRef) -> None:
            super().__init__()
            self.ref = ref

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        self._widths: dict[int, int] = {}
        """Label widths by node id (see get_label_width)."""
        super().__init__("Host", id=id)
        self.show_root = False
        self.guide_depth = 3
        self.inventory: HostInventory | None = None
        """The inventory shown (attributes down: the screen sets it through show())."""
        self.vm_of: dict[str, str] = {}
        self.tree_filter = TreeFilter()
        self._filled: set[int] = set()

    def show(self, inventory: HostInventory, vm_of: dict[str, str] | None = None,
             tree_filter: TreeFilter | None = None) -> None:
        """Rebuild the tree; keeps the cursor on the same group or device when it is still shown."""
        keep = self.cursor_node.data if self.cursor_node is not None else None
        expanded = {n.data.group for n in self._group_nodes() if n.is_expanded and n.data is not None}
        self.inventory = inventory
        if vm_of is not None:
            self.vm_of = vm_of
        if tree_filter is not None:
            self.tree_filter = tree_filter
        self.clear()
        self._filled.clear()
        self._widths.clear()
        f = self.tree_filter
        for gid in inventory.groups:
            members = self._visible_members(gid)
            if members is None:
                continue
            node = self.root.add(group_label(inventory, gid), NodeRef("group", gid))
            if f.text or gid in expanded:
                self._fill(node, members)
                node.expand()
        self.root.expand()
        if keep is None or not self.move_to(keep):
            self.call_after_refresh(self._announce)

    def _announce(self) -> None:
        """Tell the screen what the cursor is on after a rebuild (the highlight event does not
        fire when the cursor line number stays the same)."""
        node = self.cursor_node
        if node is not None and node.data is not None:
            self.post_message(self.Selected(node.data))

    def _visible_members(self, gid: int) -> list[PciDevice] | None:
        """The members to show, or None when the filter hides the whole group."""
        assert self.inventory is not None
        f = self.tree_filter
        members = self.inventory.members(gid)
        if f.hide_empty and all(d.is_bridge for d in members):
            return None
        if f.text and not any(device_matches(d, f.text) for d in members) and f.text.strip() != str(gid):
            return None
        if f.hide_bridges:
            members = [d for d in members if not d.is_bridge]
        return members

    def _group_nodes(self) -> list[TreeNode[NodeRef]]:
        return list(self.root.children)

    def _fill(self, node: TreeNode[NodeRef], members: list[PciDevice]) -> None:
        """Add a group's members below its node: bridges first, each device under its own bridge."""
        assert self.inventory is not None and node.data is not None
        gid = node.data.group
        if gid is None or gid in self._filled:
            return
        self._filled.add(gid)
        inv = self.inventory
        shown = {d.address for d in members}
        group = inv.groups.get(gid)
        in_group = set(group.members) if group else set()
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
                label = device_label(inv, dev, self.vm_of)
                if dev.parent is not None and dev.parent not in in_group:
                    label.append(f"  (behind {dev.parent.short})", style="dim")
                child = target.add(label, NodeRef("device", gid, dev.address), allow_expand=False)
                by_addr[dev.address] = child
                for vf_label, vf_group, vf in vf_rows(inv, dev, self.vm_of):  # a PF's VFs, under it
                    child.add(vf_label, NodeRef("device", vf_group, vf), allow_expand=False)
                pending.remove(dev)
                progressed = True
            if not progressed:  # a parent loop cannot happen in sysfs, but never spin
                break
        for child in by_addr.values():
            if child.children:
                child.allow_expand = True
                child.expand()

    def get_label_width(self, node: TreeNode[NodeRef]) -> int:
        # Tree re-measures every line on each expand; rendering 4,000 labels each time made
        # opening a group on a big host take ~100 ms. Labels never change after add(), so the
        # plain cell length (+2 for the expand icon) is cached per node.
        width = self._widths.get(node.id)
        if width is None:
            label = node.label
            width = self._widths[node.id] = (label.cell_len if isinstance(label, Text) else cell_len(label)) + 2
        return width

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.kind == "group" and ref.group is not None and ref.group not in self._filled:
            members = self._visible_members(ref.group) or []
            self._fill(event.node, members)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        if event.node.data is not None:
            self.post_message(self.Selected(event.node.data))

    def move_to(self, ref: NodeRef) -> bool:
        """Put the cursor on a group or device row (opening its group); False when not shown."""
        for gnode in self._group_nodes():
            if gnode.data is None or gnode.data.group != ref.group:
                continue
            if ref.kind == "group":
                self.call_after_refresh(self.move_cursor, gnode)
                return True
            gid = gnode.data.group
            if gid is not None and gid not in self._filled:
                self._fill(gnode, self._visible_members(gid) or [])
            gnode.expand()
            for node in _walk(gnode):
                if node.data is not None and node.data.address == ref.address:
                    self.call_after_refresh(self.move_cursor, node)
                    return True
        return False

    def selected_ref(self) -> NodeRef | None:
        node = self.cursor_node
        return node.data if node is not None else None


def _walk(node: TreeNode[NodeRef]) -> list[TreeNode[NodeRef]]:
    out: list[TreeNode[NodeRef]] = []
    for child in node.children:
        out.append(child)
        out.extend(_walk(child))
    return out
