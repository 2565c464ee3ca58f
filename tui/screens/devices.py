"""Provides DevicesScreen: the main screen, the IOMMU group tree with a detail panel."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Input, Static
from textual.worker import get_current_worker

from core.errors import VfioError
from core.model import HostInventory
from tui.describe import device_detail, group_detail
from tui.messages import HostChanged
from tui.safe_text import SafeText as Text
from tui.screen_base import VfioScreen
from tui.widgets.iommu_tree import IommuTree, NodeRef, TreeFilter


class DevicesScreen(VfioScreen):
    """IOMMU groups → bridges/ports → devices; Enter/p starts the passthrough wizard."""

    CSS_PATH = "devices.tcss"
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("p", "passthrough", "Pass through"),
        Binding("b", "toggle_bridges", "Bridges"),
        Binding("e", "toggle_empty", "Empty groups"),
        Binding("r", "refresh", "Reload"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.inventory: HostInventory | None = None
        """The last inventory read (None until the first read finishes)."""
        self.vm_of: dict[str, str] = {}
        """{address: VM name} for devices some VM has as a hostdev."""
        self.tree_filter = TreeFilter()

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        with Horizontal(id="panes"):
            yield IommuTree(id="tree")
            with VerticalScroll(id="detail-pane"):
                yield Static("Reading the host…", id="detail")
        yield Input(placeholder="filter: address, name, class or driver (Enter keeps, Esc clears)", id="filter")
        yield Static("", id="status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.load_inventory()

    @work(thread=True, exclusive=True, group="inventory", exit_on_error=False, description="Reading the host")
    def load_inventory(self) -> None:
        inventory = self.vfio_app.backend.inventory()
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_inventory, inventory)
        self.load_vms()

    @work(thread=True, exclusive=True, group="vms", exit_on_error=False, description="Listing VMs")
    def load_vms(self) -> None:
        try:
            vm_of = self.vfio_app.backend.vm_of_devices()
        except VfioError as exc:  # no libvirt is normal on many hosts
            self.app.call_from_thread(self._set_status, f"VMs: {exc.detail}")
            return
        self.app.call_from_thread(self._show_vms, vm_of)

    def show_worker_error(self, what: str, text: str) -> None:
        self.query_one("#detail", Static).update(Text(text))  # Text: never parsed as markup
        self._set_status(text)

    def _show_inventory(self, inventory: HostInventory) -> None:
        self.inventory = inventory
        tree = self.query_one(IommuTree)
        tree.show(inventory, self.vm_of, self.tree_filter)
        self._status_summary()
        if tree.cursor_node is None or tree.cursor_line < 0:
            tree.cursor_line = 0
        tree.focus()

    def _show_vms(self, vm_of: dict[str, str]) -> None:
        self.vm_of = vm_of
        if self.inventory is not None:
            self.query_one(IommuTree).show(self.inventory, vm_of, self.tree_filter)

    def _set_status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(text))

    def _status_summary(self) -> None:
        inv = self.inventory
        if inv is None:
            return
        counts = {"ready": 0, "bindable": 0, "blocked": 0}
        for v in inv.verdicts.values():
            counts[v.kind] += 1
        iommu = "IOMMU on" if inv.iommu_enabled else "IOMMU OFF: nothing can be passed through"
        f = self.tree_filter
        extra = "".join([f"  filter '{f.text}'" if f.text else "", "  bridges hidden" if f.hide_bridges else "",
                         "  empty groups hidden" if f.hide_empty else ""])
        self._set_status(f"{iommu} · {len(inv.groups)} groups, {len(inv.devices)} functions · "
                         f"{counts['ready']} ready, {counts['bindable']} bindable, {counts['blocked']} blocked"
                         f"{extra}")

    @on(IommuTree.Selected)
    def show_detail(self, event: IommuTree.Selected) -> None:
        inv = self.inventory
        if inv is None:
            return
        detail = self.query_one("#detail", Static)
        ref = event.ref
        if ref.kind == "device" and ref.address is not None and ref.address in inv.devices:
            detail.update(device_detail(inv, inv.devices[ref.address], self.vm_of))
        elif ref.group is not None:
            detail.update(group_detail(inv, ref.group, self.vm_of))

    def _apply_filter(self) -> None:
        if self.inventory is not None:
            self.query_one(IommuTree).show(self.inventory, self.vm_of, self.tree_filter)
            self._status_summary()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.tree_filter = TreeFilter(event.value.strip(), self.tree_filter.hide_bridges,
                                      self.tree_filter.hide_empty)
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.query_one(IommuTree).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(IommuTree).focus()

    def action_toggle_bridges(self) -> None:
        f = self.tree_filter
        self.tree_filter = TreeFilter(f.text, not f.hide_bridges, f.hide_empty)
        self._apply_filter()

    def action_toggle_empty(self) -> None:
        f = self.tree_filter
        self.tree_filter = TreeFilter(f.text, f.hide_bridges, not f.hide_empty)
        self._apply_filter()

    def action_refresh(self) -> None:
        self._set_status("Reading the host…")
        self.load_inventory()

    def on_host_changed(self, message: HostChanged) -> None:
        self.action_refresh()

    def action_passthrough(self) -> None:
        """Start the wizard on the highlighted device (or the first endpoint of a group)."""
        ref = self.query_one(IommuTree).selected_ref()
        address = self._endpoint_of(ref)
        if address is None:
            self.notify("Highlight a device (or a group with one) first.", severity="warning")
            return
        from tui.screens.wizard import WizardScreen

        self.app.push_screen(WizardScreen(address))

    def _endpoint_of(self, ref: NodeRef | None) -> str | None:
        inv = self.inventory
        if ref is None or inv is None:
            return None
        if ref.kind == "device" and ref.address is not None:
            dev = inv.devices.get(ref.address)
            if dev is not None and not dev.is_bridge:
                return str(ref.address)
        if ref.group is not None:
            ends = [d for d in inv.members(ref.group) if not d.is_bridge]
            if ends:
                return str(ends[0].address)
        return None

    def select(self, ref: NodeRef) -> bool:
        """Move the cursor to a group or device (tests, the palette)."""
        return self.query_one(IommuTree).move_to(ref)
