"""Provides WizardScreen: pick a VM for a device, see the whole plan, confirm, then run it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical, VerticalScroll
from textual.widgets import Collapsible, Header, Static
from textual.widgets.option_list import Option

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError
from vfio_tui.core.libvirt.connection import DomainInfo
from vfio_tui.core.passthrough import PassthroughPlan
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.modals.confirm import ConfirmModal
from vfio_tui.tui.plan_text import plan_body, plan_text
from vfio_tui.tui.rows import STATE_STYLE, group_state
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import VfioScreen
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.nav_list import NavList

if TYPE_CHECKING:
    from vfio_tui.core.hooks.install import InstallPlan

NO_VM = "__bind_only__"
"""The option id for binding to vfio-pci without attaching to a VM."""
TYPE_AHEAD: Final = frozenset({"down", "up", "j", "k", "g", "G", "home", "end", "pageup", "pagedown", "enter"})
"""Keys kept while the VM list loads or the plan is made, and replayed in order after: `p ↓ ↓ Enter`
typed at once picks the second VM, not "bind only". (y is never replayed: a plan is confirmed
only after it was on screen.)"""


class WizardScreen(VfioScreen):
    """Step 1 and 2 of passthrough: VM choice and the plan. Running happens in RunScreen."""

    CSS_PATH = "wizard.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "confirm", "Confirm plan"),
        Binding("r", "reload_vms", "Reload VMs", show=False),
        Binding("s", "toggle_stop_dm", "Stop display manager", show=False),
        Binding("h", "install_hook", "Install libvirt hook", show=False),
    ]

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        """The device the user picked in the tree."""
        self.plan: PassthroughPlan | None = None
        """The plan for the chosen VM, once made."""
        self.vms: list[DomainInfo] = []
        self.stop_display_manager = False
        """A GPU the display server runs on: plan with the display manager stopped first (s toggles)."""
        self.vm: str | None = None
        self._loading = False
        self._planning = False
        self._typed_ahead: list[str] = []

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        yield Static(self._title(), id="wizard-title", classes="section-title")
        with Container(id="wizard-body"):
            with Vertical(id="vm-pane"):
                yield Static("1. Pick a VM", classes="section-title")
                yield Static("", id="blocked")
                yield NavList(id="vms")
            with VerticalScroll(id="plan-pane"):
                yield Static("2. The plan", classes="section-title")
                yield Static("Pick a VM (or bind only) to see the plan.", id="plan")
                with Collapsible(title="What it would have done (will not happen)", collapsed=True,
                                 id="plan-fold"):
                    yield Static("", id="plan-more")
        yield Static("", id="wizard-status", classes="status-line")
        yield KeyFooter()

    def _title(self) -> Text:
        text = Text(f"Passthrough wizard: {self.address}")
        view = self.vfio_app.host_view
        dev = view.inventory.devices.get(PciAddress.parse(self.address)) if view is not None else None
        if view is not None and dev is not None and dev.iommu_group is not None:
            state = group_state(view.inventory, dev.iommu_group, view.holds)
            text.append(f"  (group {dev.iommu_group}: ")
            text.append(state, style=STATE_STYLE[state])
            text.append(")")
        return text

    def on_mount(self) -> None:
        self.query_one("#plan-fold").display = False
        self.query_one("#blocked").display = False
        self.query_one(NavList).focus()
        self._say_if_blocked()
        self.action_reload_vms()

    def _say_if_blocked(self) -> None:
        """Step 1 says at once when no VM can have the group, and the plan says why (bind only)."""
        view = self.vfio_app.host_view
        dev = view.inventory.devices.get(PciAddress.parse(self.address)) if view is not None else None
        if view is None or dev is None or dev.iommu_group is None:
            return
        state = group_state(view.inventory, dev.iommu_group, view.holds)
        if state not in ("blocked", "in VM"):
            return
        why = "a running VM has it" if state == "in VM" else "it is blocked"
        box = self.query_one("#blocked", Static)
        box.update(Text(f"Group {dev.iommu_group}: {why}, no VM can have it (the plan says why).", style="bold red"))
        box.display = True
        self._start_plan(None)

    # -- typed-ahead keys -------------------------------------------------------------------------------
    def on_key(self, event: events.Key) -> None:
        if (self._loading or self._planning) and event.key in TYPE_AHEAD:
            self._typed_ahead.append(event.key)
            event.stop()
            event.prevent_default()

    def _replay(self) -> None:
        keys, self._typed_ahead = self._typed_ahead, []
        for key in keys:
            self.app.simulate_key(key)

    # -- step 1: the VMs --------------------------------------------------------------------------------
    def action_reload_vms(self) -> None:
        options = self.query_one(NavList)
        options.clear_options()
        options.add_option(Option("(no VM: bind only)", id=NO_VM))
        options.highlighted = 0
        self._set_status("Listing VMs…")
        self._loading = True
        self.load_vms()

    @work(thread=True, exclusive=True, group="wizard-vms", exit_on_error=False)
    def load_vms(self) -> None:
        try:
            vms = self.vfio_app.backend.list_vms()
        except VfioError as exc:  # no libvirt for this host, or libvirtd not running: bind only
            self.app.call_from_thread(self._no_vms, f"No VMs: {exc.detail}; you can still bind only")
            return
        self.app.call_from_thread(self._show_vms, vms)

    def _no_vms(self, text: str) -> None:
        self._loading = False
        self._set_status(text)
        self._replay()

    def _show_vms(self, vms: list[DomainInfo]) -> None:
        self.vms = vms
        options = self.query_one(NavList)
        for vm in vms:
            label = Text()
            label.append(f"{vm.name:<16} ")
            label.append(vm.state, style="green" if vm.state == "running" else "dim")
            options.add_option(Option(label, id=f"vm:{vm.name}"))
        self._loading = False
        self._set_status(f"{len(vms)} VMs. Enter picks one.")
        self._replay()

    def _set_status(self, text: str) -> None:
        self.query_one("#wizard-status", Static).update(Text(text))

    # -- step 2: the plan -------------------------------------------------------------------------------
    @on(NavList.OptionSelected, "#vms")
    def vm_chosen(self, event: NavList.OptionSelected) -> None:
        option_id = event.option.id or NO_VM
        self._start_plan(None if option_id == NO_VM else option_id.removeprefix("vm:"))

    def _start_plan(self, vm: str | None) -> None:
        self.vm = vm
        self.plan = None
        self._planning = True
        self.query_one("#plan", Static).update("Planning…")
        self.query_one("#plan-fold").display = False
        self.make_plan(vm)

    @work(thread=True, exclusive=True, group="wizard-plan", exit_on_error=False)
    def make_plan(self, vm: str | None) -> None:
        try:
            plan = self.vfio_app.backend.plan(self.address, vm, stop_display_manager=self.stop_display_manager)
        except VfioError as exc:
            self.app.call_from_thread(self._plan_failed, f"Cannot plan: {exc}")
            return
        self.app.call_from_thread(self._show_plan, plan)

    def show_worker_error(self, what: str, text: str) -> None:
        self._plan_failed(text)

    def _plan_failed(self, text: str) -> None:
        self._planning = False
        self.query_one("#plan", Static).update(Text(text, style="yellow"))
        self._replay()

    def _show_plan(self, plan: PassthroughPlan) -> None:
        self.plan = plan
        self._planning = False
        self.query_one("#plan", Static).update(plan_text(plan))
        fold = self.query_one("#plan-fold", Collapsible)
        fold.display = bool(plan.refusals)
        if plan.refusals:
            self.query_one("#plan-more", Static).update(plan_body(plan))
            fold.collapsed = True
            self._set_status("Refused: the plan says what stops it and how to free it. Esc goes back.")
        else:
            self._set_status("Press y to review and confirm.")
        self.query_one("#plan-pane", VerticalScroll).scroll_home(animate=False)
        self._replay()

    def action_toggle_stop_dm(self) -> None:
        """Plan again with (or without) the display manager stopped first: only ever asked for here."""
        if self.plan is None or self.plan.gpu is None:
            return
        self.stop_display_manager = not self.stop_display_manager
        self.notify("Planning with the display manager stopped first" if self.stop_display_manager
                    else "Planning without stopping the display manager")
        self._start_plan(self.vm)

    def action_install_hook(self) -> None:
        """h on a GPU plan for a VM: the libvirt hook's install plan, then (on y) the install — the same
        core call as `vfio-tui hooks install VM --yes`."""
        plan = self.plan
        if plan is None or plan.gpu is None or plan.vm is None:
            self.notify("The libvirt hook is for a GPU and a VM: pick the VM first.", severity="warning")
            return
        self._plan_hook(plan.vm)

    @work(thread=True, exclusive=True, group="wizard-hook", exit_on_error=False)
    def _plan_hook(self, vm: str) -> None:
        try:
            hook = self.vfio_app.backend.hook_install_plan(vm)
        except VfioError as exc:
            self.app.call_from_thread(self.notify, printable(f"Cannot plan the hook: {exc}"), severity="error",
                                      markup=False)
            return
        self.app.call_from_thread(self._ask_hook, hook)

    def _ask_hook(self, hook: InstallPlan) -> None:
        if not hook.ok:
            self.notify(printable(f"The hook is refused: {hook.refusals[0][0]}"), severity="error", markup=False,
                        timeout=12)
            return
        lines = [*hook.lines(), "", f"Undo: vfio-tui hooks remove {hook.vm} --yes"]
        def answered(yes: bool | None) -> None:
            if yes:
                self._install_hook(hook)

        self.app.push_screen(ConfirmModal(f"Install the libvirt hook for {hook.vm}?", lines, yes="Install it"),
                             answered)

    @work(thread=True, exclusive=True, group="wizard-hook", exit_on_error=False)
    def _install_hook(self, hook: InstallPlan) -> None:
        try:
            lines = self.vfio_app.backend.hook_install(hook)
        except VfioError as exc:
            self.app.call_from_thread(self.notify, printable(f"The hook was not installed: {exc}"),
                                      severity="error", markup=False)
            return
        self.app.call_from_thread(self.notify, printable("\n".join(lines)), timeout=15, markup=False)

    def action_confirm(self) -> None:
        plan = self.plan
        if plan is None:
            self.notify("The plan is still being made." if self._planning else "Pick a VM (or bind only) first.",
                        severity="warning")
            return
        if plan.refusals:
            self.notify(printable(f"The plan is refused: {plan.refusals[0]}"), severity="error", markup=False)
            return
        lines = [f"Bind to vfio-pci: {', '.join(plan.members) or plan.address}"]
        if plan.gpu is not None and plan.gpu.release:
            lines += ["First, release the GPU from the host:", *(s.describe() for s in plan.gpu.release)]
        lines += plan.driver_changes
        if plan.vm:
            lines += [f"Then add it to {plan.vm} and start {plan.vm}."]
        lines += ["", "Undo (u after the run, or the journal): " + "; ".join(plan.undo)]
        self.app.push_screen(ConfirmModal("Change this host?", lines, yes="Run it"), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes and self.plan is not None:
            from vfio_tui.tui.screens.run import RunScreen

            self.app.switch_screen(RunScreen(self.plan))
