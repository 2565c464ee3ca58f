"""Provides IommuTree: IOMMU groups -> bridges/ports -> devices, filled lazily as groups open, each
row laid out for the width the tree has now (tui/rows.py: badges before names, nothing that
carries a safety fact cut)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import PciDevice
from vfio_tui.tui.backend import HostView
from vfio_tui.tui.describe import haystack
from vfio_tui.tui.rows import device_row, group_row, group_state
from vfio_tui.tui.widgets.sriov_rows import vf_row
from vfio_tui.tui.widgets.tree_members import add_members, count_matches
from vfio_tui.tui.widgets.tree_model import OPEN_MATCHES_UP_TO, NodeRef, TreeFilter, depth_of, search_index, walk

__all__ = ["IommuTree", "NodeRef", "TreeFilter"]

class IommuTree(Tree[NodeRef]):
    """The device tree. Posts Selected when the highlighted row changes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,l", "open", "Open group / go into it", show=False),
        Binding("left,h", "close", "Close group / go to parent", show=False),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "first", "First row", show=False),
        Binding("G,end", "last", "Last row", show=False),
    ]
    LEAF_INDENT = "  "
    """Leaf rows start where an expandable row's ▶/▼ ends, so the address column lines up."""

    class Selected(Message):
        """The user moved to a group or a device."""

        def __init__(self, ref: NodeRef) -> None:
            super().__init__()
            self.ref = ref

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        self._rows: dict[int, Text] = {}
        """Rows laid out for `_rows_width`, by node id (cleared when the width or the host changes)."""
        self._rows_width = -1
        self._overflow: dict[int, int] = {}
        """Widths of the rows wider than the pane, by node id (see get_label_width)."""
        self._depths: dict[int, int] = {}
        self._fit_width = -1
        """The width rows are laid out for (see _width); -1: measure again."""
        self._batching = False
        self._batch_dirty = False
        super().__init__("Host", id=id)
        self.show_root = False
        self.guide_depth = 3
        self.view: HostView | None = None
        """The host shown (attributes down: the screen sets it through show())."""
        self.tree_filter = TreeFilter()
        self.match_count = 0
        """How many devices the filter matches (all of them without a filter)."""
        self._filled: set[int] = set()
        self._haystacks: dict[PciAddress, str] = {}
        """What the filter searches, per device, for the view shown (made in a worker after it)."""
        self._group_hays: dict[int, list[str]] = {}
        """Each group's members' search texts, in member order (a keystroke tests 4,000 of them)."""
        self._member_lists: dict[int, list[PciDevice]] = {}
        self._layout_shown: tuple[object, ...] = ()
        """What the last rebuild showed (the groups, whether they were opened, bridges) of the devices
        shown; () after a read with other devices."""
        self._max_depth = 1
        """The deepest device row so far: shallower rows pad their address so drivers line up."""

    # -- building -----------------------------------------------------------------------------------
    def show(self, view: HostView, tree_filter: TreeFilter | None = None) -> None:
        """Show a read of the host (and a filter); keeps the cursor on the same group or device when it
        is still shown. A new read with the same devices and no filter redraws the rows in place."""
        same_filter = tree_filter is None or tree_filter == self.tree_filter
        if view is self.view and same_filter:
            return
        old = self.view
        if tree_filter is not None:
            self.tree_filter = tree_filter
        if view is not old:
            self._haystacks = {}
            self._group_hays = {}
            if old is None or view.inventory is not old.inventory:
                self._member_lists = {}
                self._layout_shown = ()  # other devices: the next rebuild makes every node again
            else:
                # The same devices with new domain facts (the VMs arrived after the first paint): the
                # same nodes, whose rows are drawn again. A filter's next letter then rebuilds nothing
                # when it shows the same groups (a whole rebuild is ~10 ms at 4,000 functions).
                self._rows.clear()
                self._overflow.clear()
                self._invalidate()
        self.view = view
        if (old is not None and view.inventory is old.inventory and same_filter and not self.tree_filter.text
                and self.root.children):
            # Only the domain facts changed (the rows are drawn again, above): the same nodes.
            self.call_after_refresh(self._announce)
            self._index(view)
            return
        self._rebuild()
        if view is not old:
            self._index(view)

    def _rebuild(self) -> None:
        assert self.view is not None
        self.match_count = 0
        shown = [gid for gid in self.view.inventory.groups if self._group_shown(gid)]
        open_matches = bool(self.tree_filter.text) and len(shown) <= OPEN_MATCHES_UP_TO
        layout = (shown, open_matches, self.tree_filter.hide_bridges)  # (reset when the devices change)
        if layout == self._layout_shown and self.root.children:
            # The next letter of a filter often leaves the same groups: nothing to rebuild.
            self.call_after_refresh(self._announce)
            return
        self._layout_shown = layout
        keep = self.cursor_node.data if self.cursor_node is not None else None
        expanded = {n.data.group for n in self.root.children if n.is_expanded and n.data is not None}
        self.clear()
        self._filled.clear()
        self._rows.clear()
        self._overflow.clear()
        self._depths.clear()
        self._max_depth = 1
        with self._batched():
            for gid in shown:
                node = self.root.add(Text(f"Group {gid}"), NodeRef("group", gid))
                if open_matches or gid in expanded:
                    self._fill(node, self._visible_members(gid))
                    node.expand()
            self.root.expand()
        if keep is None or not self.move_to(keep):
            self.call_after_refresh(self._announce)

    @work(thread=True, exclusive=True, group="filter-index", exit_on_error=False,
          description="Indexing for the filter")
    def _index(self, view: HostView) -> None:
        """The filter's search text of every device, made off the UI thread after the tree is on
        screen, so that the first keystroke of a filter does not make 4,000 of them (nor look them up)."""
        self.app.call_from_thread(self._indexed, view, *search_index(view))

    def _indexed(self, view: HostView, index: dict[PciAddress, str], members: dict[int, list[PciDevice]],
                 group_hays: dict[int, list[str]]) -> None:
        if view is self.view:
            self._haystacks = index
            self._group_hays = group_hays
            for gid, devices in members.items():
                self._member_lists.setdefault(gid, devices)

    def _announce(self) -> None:
        """Tell the screen what the cursor is on after a rebuild (the highlight event does not
        fire when the cursor line number stays the same)."""
        node = self.cursor_node
        if node is not None and node.data is not None:
            self.post_message(self.Selected(node.data))

    def _members(self, gid: int) -> list[PciDevice]:
        members = self._member_lists.get(gid)
        if members is None:
            assert self.view is not None
            members = self._member_lists[gid] = self.view.inventory.members(gid)
        return members

    def _group_shown(self, gid: int) -> bool:
        """Whether the filter shows the group; adds its matching devices to match_count."""
        assert self.view is not None
        f = self.tree_filter
        if not f.text and not f.hide_empty:
            group = self.view.inventory.groups[gid]
            self.match_count += len(group.members)
            return True
        members = self._members(gid)
        if f.hide_empty and all(d.is_bridge for d in members):
            return False
        if not f.text:
            self.match_count += len(members)
            return True
        words = f.text.lower().split()
        if f.text.strip() == str(gid):
            hits = len(members)
        else:
            hays = self._group_hays.get(gid)
            if hays is None:
                hays = self._group_hays[gid] = [self._hay(d) for d in members]
            hits = count_matches(hays, words)
        self.match_count += hits
        return hits > 0

    def _visible_members(self, gid: int) -> list[PciDevice]:
        """The members a shown group lists (without bridges when they are hidden)."""
        members = self._members(gid)
        if self.tree_filter.hide_bridges:
            members = [d for d in members if not d.is_bridge]
        return members

    def _hay(self, dev: PciDevice) -> str:
        hay = self._haystacks.get(dev.address)
        if hay is None:
            assert self.view is not None
            state = group_state(self.view.inventory, dev.iommu_group, self.view.holds) \
                if dev.iommu_group is not None else None
            hay = self._haystacks[dev.address] = haystack(self.view.inventory, dev, self.view.holds, state)
        return hay

    def _fill(self, node: TreeNode[NodeRef], members: list[PciDevice]) -> None:
        """Add a group's members below its node: bridges first, each device under its own bridge."""
        assert self.view is not None and node.data is not None
        gid = node.data.group
        if gid is None or gid in self._filled:
            return
        self._filled.add(gid)
        with self._batched():
            self._add_members(node, gid, members)

    def _add_members(self, node: TreeNode[NodeRef], gid: int, members: list[PciDevice]) -> None:
        by_addr = add_members(node, gid, members, self.view.inventory if self.view is not None else None)
        for child in by_addr.values():
            if child.children:
                child.allow_expand = True
                child.expand()
            depth = self._depth(child)
            if depth > self._max_depth:
                self._max_depth = depth
                self._rows.clear()

    # -- rows laid out for the width ------------------------------------------------------------------
    def _depth(self, node: TreeNode[NodeRef]) -> int:
        depth = self._depths.get(node.id)
        if depth is None:
            depth = self._depths[node.id] = depth_of(node)
        return depth

    def _indent(self, node: TreeNode[NodeRef]) -> int:
        return (self._depth(node) - 1) * self.guide_depth

    @property
    def _width(self) -> int:
        # The width rows are laid out for: the pane less a vertical scrollbar, shown or not, so that
        # the scrollbar appearing never makes the rows one cell too wide (a sideways scrollbar).
        # Measured once per size: Tree asks for every line's width on each change.
        if self._fit_width < 0:
            self._fit_width = self.content_region.width - self.styles.scrollbar_size_vertical
        return self._fit_width

    def on_resize(self) -> None:
        self._fit_width = -1

    def process_label(self, label: str | Text) -> Text:
        # Labels are never drawn (render_label lays rows out): skip Tree's markup parse and split.
        return label if isinstance(label, Text) else Text(label)

    @contextmanager
    def _batched(self) -> Iterator[None]:
        """Add many nodes with one invalidation at the end (Tree invalidates on every add: 900
        groups cost 900 layout refreshes)."""
        if self._batching:
            yield
            return
        self._batching, self._batch_dirty = True, False
        try:
            yield
        finally:
            self._batching = False
            if self._batch_dirty:
                self._invalidate()

    def row(self, node: TreeNode[NodeRef]) -> Text:
        """The node's row as it is drawn now (without the ▶/▼), laid out for the tree's width."""
        width = self._width
        if width != self._rows_width:
            self._rows.clear()
            self._overflow.clear()
            self._rows_width = width
        cached = self._rows.get(node.id)
        if cached is not None:
            return cached
        text = self._layout(node, max(width - self._indent(node) - 2, 20))
        self._rows[node.id] = text
        if text.cell_len + 2 > width - self._indent(node) and node.id not in self._overflow:
            # A row whose safety badges alone are wider than the pane: never cut, the tree
            # scrolls sideways instead (the virtual width is recomputed with it).
            self._overflow[node.id] = text.cell_len + 2
            self.call_after_refresh(self._invalidate)
        return text

    def _layout(self, node: TreeNode[NodeRef], width: int) -> Text:
        ref, view = node.data, self.view
        if ref is None or view is None or ref.group is None:
            return Text(str(node.label))
        inv = view.inventory
        if ref.kind == "group" or ref.address is None:
            return group_row(inv, ref.group, view.holds, width, len(str(max(inv.groups, default=0))))
        dev = inv.devices[ref.address]
        parent = node.parent.data if node.parent is not None else None
        if dev.physfn is not None and parent is not None and parent.address == dev.physfn:
            return vf_row(inv, dev, view.holds, width)
        group = inv.groups.get(ref.group)
        behind_other = dev.parent is not None and (group is None or dev.parent not in group.members)
        pad = (self._max_depth - self._depth(node)) * self.guide_depth
        return device_row(inv, dev, view.holds, width, pad, behind_other)

    def render_label(self, node: TreeNode[NodeRef], base_style: Style, style: Style) -> Text:
        label = self.row(node).copy()
        label.stylize(style)
        if node.allow_expand:
            prefix = (self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE, base_style + Style(bold=True))
        else:
            prefix = (self.LEAF_INDENT, base_style)
        return Text.assemble(prefix, label)

    def get_label_width(self, node: TreeNode[NodeRef]) -> int:
        # Tree measures every line on each change (to size its sideways scroll), and on a 4,096-
        # function host that was most of the cost of opening a group. Rows are laid out to fit the
        # pane, so only a row that overflows it (safety badges wider than the pane) needs a width.
        return self._overflow.get(node.id, 0)

    def _invalidate(self) -> None:
        if self._batching:
            self._batch_dirty = True
            return
        super()._invalidate()

    # -- events and keys ---------------------------------------------------------------------------
    def on_tree_node_expanded(self, event: Tree.NodeExpanded[NodeRef]) -> None:
        ref = event.node.data
        if ref is not None and ref.kind == "group" and ref.group is not None and ref.group not in self._filled:
            self._fill(event.node, self._visible_members(ref.group))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        if event.node.data is not None:
            self.post_message(self.Selected(event.node.data))

    def action_open(self) -> None:
        """→/l: open a closed group (or bridge); on an open one, go to its first row."""
        node = self.cursor_node
        if node is None or not node.allow_expand:
            return
        if not node.is_expanded:
            node.expand()
        elif node.children:
            self.move_cursor(node.children[0])

    def action_close(self) -> None:
        """←/h: close an open group; elsewhere go to the parent row."""
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded and node.parent is self.root:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_first(self) -> None:
        if self.last_line >= 0:
            self.cursor_line = 0

    def action_last(self) -> None:
        if self.last_line >= 0:
            self.cursor_line = self.last_line

    def move_to(self, ref: NodeRef) -> bool:
        """Put the cursor on a group or device row (opening its group); False when not shown."""
        for gnode in self.root.children:
            if gnode.data is None or gnode.data.group != ref.group:
                continue
            if ref.kind == "group":
                self.call_after_refresh(self.move_cursor, gnode)
                return True
            gid = gnode.data.group
            if gid is not None and gid not in self._filled:
                self._fill(gnode, self._visible_members(gid))
            gnode.expand()
            for node in walk(gnode):
                if node.data is not None and node.data.address == ref.address:
                    self.call_after_refresh(self.move_cursor, node)
                    return True
        return False

    def selected_ref(self) -> NodeRef | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def rows_text(self) -> list[str]:
        """Every row as drawn (plain text, tree guides left out): what the user can read."""
        return [self.row(line.node).plain for line in self._tree_lines]

