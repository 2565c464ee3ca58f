"""Provides DevicesScreen: the main screen, the IOMMU group tree with a detail panel (beside it,
or below it under 100 columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, VerticalScroll
from textual.widgets import Header, Input, Static

from vfio_tui.core.passthrough import RunRecord
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.backend import HostView
from vfio_tui.tui.describe import device_detail, group_detail
from vfio_tui.tui.messages import HostStateChanged
from vfio_tui.tui.rows import group_state, running_holds
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import VfioScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree, NodeRef, TreeFilter
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.sriov_rows import sriov_detail

if TYPE_CHECKING:
    from vfio_tui.core.model import HostInventory


class DevicesScreen(VfioScreen):
    """IOMMU groups → bridges/ports → devices; p starts the passthrough wizard."""

    CSS_PATH = "devices.tcss"
    BINDINGS = [
        Binding("p", "passthrough", "Pass through"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("d", "give_back", "Give back"),
        Binding("b", "toggle_bridges", "Hide bridges", show=False),
        Binding("e", "toggle_empty", "Hide bridge-only groups", show=False),
        Binding("r", "refresh", "Reload", show=False),
        Binding("v", "sriov", "VFs", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("down", "tree_down", "Down (from the filter box too)", show=False),
        Binding("up", "tree_up", "Up (from the filter box too)", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.tree_filter = TreeFilter()
        self._can_give_back = False
        self._counted: tuple[HostView | None, dict[str, int]] = (None, {})
        self._status_shown = ""
        self._detail_shown: tuple[object, ...] | None = None
        """What the detail panel shows (the read, the row, no-match): Static.update() re-lays out the whole
        screen, ~10 ms at 4,000 functions, so a filter keystroke that leaves the cursor's row does not."""

    @property
    def view(self) -> HostView | None:
        """The host as last read (None until the first read finishes)."""
        return self.vfio_app.host_view

    @property
    def inventory(self) -> HostInventory | None:
        view = self.view
        return view.inventory if view is not None else None

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        with Container(id="panes"):
            yield IommuTree(id="tree")
            with VerticalScroll(id="detail-pane"):
                yield Static("Reading the host…", id="detail")
        yield Input(placeholder="filter: address, name, driver, eno1, sda, a mount, a VM, host-used, vfio, blocked"
                    " (Enter keeps, Esc clears)", id="filter")
        yield Static("", id="status", classes="status-line")
        yield KeyFooter()

    def on_mount(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = False
        self.watch(box, "value", self.filter_changed, init=False)
        self.query_one("#detail-pane").border_title = "detail"
        if self.view is not None:
            self._show(self.view)

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        if message.view is None:
            self._detail_shown = None
            self.query_one("#detail", Static).update(Text(message.error, style="red"))
            self._set_status(message.error)
            return
        self._show(message.view)

    def show_worker_error(self, what: str, text: str) -> None:
        self._detail_shown = None
        self.query_one("#detail", Static).update(Text(text, style="red"))
        self._set_status(text)

    def _show(self, view: HostView) -> None:
        tree = self.query_one(IommuTree)
        first = tree.view is None
        tree.show(view, self.tree_filter)
        self._status_summary()
        self._show_detail(tree.selected_ref())
        if first:
            if tree.cursor_line < 0:
                tree.cursor_line = 0
            tree.focus()
        self._update_give_back()

    def _set_status(self, text: str) -> None:
        if text != self._status_shown:
            self._status_shown = text
            # One line high whatever it says (app.tcss .status-line): no layout pass
            self.query_one("#status", Static).update(Text(text), layout=False)

    def _status_summary(self) -> None:
        view = self.view
        if view is None:
            return
        inv = view.inventory
        if self._counted[0] is not view:  # once per read of the host, not per filter keystroke
            counts = {"ready": 0, "bindable": 0, "blocked": 0, "in VM": 0}
            for gid in inv.groups:
                counts[view.states.get(gid) or group_state(inv, gid, view.holds)] += 1
            self._counted = (view, counts)
        counts = self._counted[1]
        iommu = "IOMMU on" if inv.iommu_enabled else "IOMMU OFF: nothing can be passed through"
        states = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s != "in VM")
        parts = [f"{iommu} · {len(inv.groups)} groups, {len(inv.devices)} fn · {states}"]
        f = self.tree_filter
        if f.text:
            n = self.query_one(IommuTree).match_count
            parts.append(f"filter '{f.text}': {n} match{'es' if n != 1 else ''}")
        if f.hide_bridges:
            parts.append("bridges hidden")
        if f.hide_empty:
            parts.append("bridge-only groups hidden")
        if view.vms_note:
            parts.append(f"VMs: {view.vms_note}")
        self._set_status(" · ".join(parts))

    @on(IommuTree.Selected)
    def _selected(self, event: IommuTree.Selected) -> None:
        self._show_detail(event.ref)
        self._update_give_back()

    def _update_give_back(self) -> None:
        # The footer shows d only on a device a running VM has. Refreshing the bindings rebuilds the
        # footer, so only when that changes (not on every cursor move).
        can = bool(self._held_by_running_vm())
        if can != self._can_give_back:
            self._can_give_back = can
            self.refresh_bindings()

    def _show_detail(self, ref: NodeRef | None) -> None:
        view = self.view
        detail = self.query_one("#detail", Static)
        if view is None:
            return
        tree = self.query_one(IommuTree)
        no_match = bool(self.tree_filter.text) and tree.match_count == 0
        key = (ref, self.tree_filter.text if no_match else None)
        shown = self._detail_shown
        if shown is not None and shown[0] is view and shown[1:] == key:  # (a view compares by identity)
            return
        self._detail_shown = (view, *key)
        if no_match:
            detail.update(Text(f"No device matches '{self.tree_filter.text}'. Esc clears the filter.",
                               style="yellow"))
            return
        inv = view.inventory
        if ref is None:
            detail.update("")
        elif ref.kind == "device" and ref.address is not None and ref.address in inv.devices:
            dev = inv.devices[ref.address]
            text = device_detail(inv, dev, view.holds)
            text.append_text(sriov_detail(inv, dev, view.holds))
            detail.update(text)
        elif ref.group is not None and ref.group in inv.groups:
            detail.update(group_detail(inv, ref.group, view.holds))

    # -- filter ----------------------------------------------------------------------------------------
    def _apply_filter(self) -> None:
        if self.view is not None:
            self.query_one(IommuTree).show(self.view, self.tree_filter)
            self._status_summary()
            self._show_detail(self.query_one(IommuTree).selected_ref())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def filter_changed(self, value: str) -> None:
        """Watches the filter box's value: runs as the keystroke changes it, so the tree is filtered in
        the same frame that shows the letter (an Input.Changed message arrives after that frame has been
        painted, and the filtered tree only one frame later)."""
        self.tree_filter = TreeFilter(value.strip(), self.tree_filter.hide_bridges, self.tree_filter.hide_empty)
        self._apply_filter()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        self.query_one(IommuTree).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.query_one(IommuTree).focus()

    def action_tree_down(self) -> None:
        self.query_one(IommuTree).action_cursor_down()

    def action_tree_up(self) -> None:
        self.query_one(IommuTree).action_cursor_up()

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
        self.host_changed()

    # -- actions on the highlighted device -------------------------------------------------------------
    def action_passthrough(self) -> None:
        """Start the wizard on the highlighted device (or the first endpoint of a group)."""
        ref = self.query_one(IommuTree).selected_ref()
        address = self._endpoint_of(ref)
        if address is None:
            self.notify("Highlight a device (or a group with one) first.", severity="warning")
            return
        from vfio_tui.tui.screens.wizard import WizardScreen

        self.app.push_screen(WizardScreen(address))

    def _held_by_running_vm(self) -> list[str]:
        view, ref = self.view, self.query_one(IommuTree).selected_ref()
        if view is None or ref is None or ref.group is None or ref.group not in view.inventory.groups:
            return []
        return sorted({h.vm for d in view.inventory.members(ref.group) for h in running_holds(view.holds, d.address)})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "give_back":
            return self._can_give_back
        return True

    def action_give_back(self) -> None:
        """d on a device a running VM has: the undo of the run that put it there (stop or hot-unplug
        the VM first, then the drivers) — core's transaction, as `vfio-tui undo --stop-vm/--live`."""
        vms = self._held_by_running_vm()
        ref = self.query_one(IommuTree).selected_ref()
        view = self.view
        if not vms or ref is None or view is None or ref.group is None:
            self.notify("No running VM has this device.")
            return
        members = view.inventory.members(ref.group)
        run: RunRecord | None = None
        for dev in members:
            run = self.vfio_app.backend.open_run_for(dev.address)
            if run is not None:
                break
        if run is None:
            self.notify(printable(f"{', '.join(vms)} has it, but no vfio-tui run put it there: shut the VM down"
                                  f" (virsh shutdown {vms[0]}) or detach it (vfio-tui detach), then press r."),
                        severity="warning", timeout=12, markup=False)
            return
        from vfio_tui.tui.modals.undo import UndoModal

        self.app.push_screen(UndoModal(self.vfio_app.backend, run.id), self._given_back)

    def _given_back(self, result: object) -> None:
        if result is not None:
            self.host_changed()

    def action_sriov(self) -> None:
        """Set the number of VFs of the highlighted PF (or of the highlighted VF's PF)."""
        inv, ref = self.inventory, self.query_one(IommuTree).selected_ref()
        dev = inv.devices.get(ref.address) if inv is not None and ref is not None and ref.address else None
        pf = None if dev is None or inv is None else inv.sriov.get(dev.physfn or dev.address)
        if pf is None:
            self.notify("Highlight an SR-IOV PF (or one of its VFs) first.", severity="warning")
            return
        from vfio_tui.tui.modals.sriov import SriovModal

        modal = SriovModal(self.vfio_app.backend, str(pf.address), pf.num_vfs, pf.total_vfs)
        self.app.push_screen(modal, lambda result: self.action_refresh())

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
