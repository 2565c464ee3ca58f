"""Provides WizardScreen: pick a VM for a device, see the whole plan, confirm, then run it."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from core.errors import VfioError
from core.libvirt.connection import DomainInfo
from core.passthrough import PassthroughPlan
from core.textsafe import printable
from tui.modals.confirm import ConfirmModal
from tui.safe_text import SafeText as Text
from tui.screen_base import VfioScreen

NO_VM = "__bind_only__"
"""The option id for binding to vfio-pci without attaching to a VM."""


def plan_text(plan: PassthroughPlan) -> Text:
    text = Text()
    text.append(f"Pass {plan.address} through", style="bold")
    text.append(f" to {plan.vm}\n" if plan.vm else " (bind to vfio-pci only)\n", style="bold")
    sections = [("Group members (all go together)", plan.members),
                ("Driver changes", plan.driver_changes)]
    for title, lines in sections:
        text.append(f"{title}\n", style="bold underline")
        for line in lines or ["(none)"]:
            text.append(f"  {line}\n")
    if plan.vm:
        text.append("VM definition change (hostdev XML diff)\n", style="bold underline")
        for line in (plan.xml_diff or "(no change)").splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            text.append(f"  {line}\n", style=style)
    warnings = [*plan.warnings, *(f"check {c.status}: {c.id}: {c.summary}" for c in plan.checks)]
    if warnings:
        text.append("Worth knowing\n", style="bold yellow underline")
        for line in warnings:
            text.append(f"  ! {line}\n", style="yellow")
    text.append("Undo will\n", style="bold underline")
    for line in plan.undo:
        text.append(f"  {line}\n")
    if plan.refusals:
        text.append("Refused\n", style="bold red underline")
        for r in plan.refusals:
            text.append(f"  ✗ {r}\n", style="red")
    else:
        text.append("\nPress ", style="dim")
        text.append("y", style="bold")
        text.append(" to review and confirm; nothing changes before that.\n", style="dim")
    return text


class WizardScreen(VfioScreen):
    """Step 1 and 2 of passthrough: VM choice and the plan. Running happens in RunScreen."""

    CSS_PATH = "wizard.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("y", "confirm", "Confirm plan"),
        Binding("r", "reload_vms", "Reload VMs"),
    ]

    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address
        """The device the user picked in the tree."""
        self.plan: PassthroughPlan | None = None
        """The plan for the chosen VM, once made."""
        self.vms: list[DomainInfo] = []

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        yield Static(Text(f"Passthrough wizard: {self.address}"), id="wizard-title", classes="section-title")
        with Horizontal(id="wizard-body"):
            with Vertical(id="vm-pane"):
                yield Static("1. Pick a VM", classes="section-title")
                yield OptionList(id="vms")
            with VerticalScroll(id="plan-pane"):
                yield Static("2. The plan", classes="section-title")
                yield Static("Pick a VM (or bind only) to see the plan.", id="plan")
        yield Static("", id="wizard-status", classes="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#plan-pane").border_title = "plan"
        self.query_one(OptionList).focus()
        self.action_reload_vms()

    def action_reload_vms(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_option(Option("(no VM: bind only)", id=NO_VM))
        options.highlighted = 0
        self._set_status("Listing VMs…")
        self.load_vms()

    @work(thread=True, exclusive=True, group="wizard-vms", exit_on_error=False)
    def load_vms(self) -> None:
        try:
            vms = self.vfio_app.backend.list_vms()
        except VfioError as exc:  # no libvirt for this host, or libvirtd not running: bind only
            self.app.call_from_thread(self._set_status, f"No VMs: {exc.detail}; you can still bind only")
            return
        self.app.call_from_thread(self._show_vms, vms)

    def _show_vms(self, vms: list[DomainInfo]) -> None:
        self.vms = vms
        options = self.query_one(OptionList)
        for vm in vms:
            label = Text()
            label.append(f"{vm.name:<18}")
            label.append(vm.state, style="green" if vm.state == "running" else "dim")
            options.add_option(Option(label, id=f"vm:{vm.name}"))
        self._set_status(f"{len(vms)} VMs. Enter picks one.")

    def _set_status(self, text: str) -> None:
        self.query_one("#wizard-status", Static).update(Text(text))

    @on(OptionList.OptionSelected, "#vms")
    def vm_chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or NO_VM
        vm = None if option_id == NO_VM else option_id.removeprefix("vm:")
        self.plan = None
        self.query_one("#plan", Static).update("Planning…")
        self.make_plan(vm)

    @work(thread=True, exclusive=True, group="wizard-plan", exit_on_error=False)
    def make_plan(self, vm: str | None) -> None:
        try:
            plan = self.vfio_app.backend.plan(self.address, vm)
        except VfioError as exc:
            self.app.call_from_thread(self._plan_failed, f"Cannot plan: {exc}")
            return
        self.app.call_from_thread(self._show_plan, plan)

    def _plan_failed(self, text: str) -> None:
        self.query_one("#plan", Static).update(Text(text, style="yellow"))

    def _show_plan(self, plan: PassthroughPlan) -> None:
        self.plan = plan
        self.query_one("#plan", Static).update(plan_text(plan))
        if plan.refusals:
            self._set_status("This plan is refused; see why on the right.")
        else:
            self._set_status("Press y to review and confirm.")

    def action_confirm(self) -> None:
        plan = self.plan
        if plan is None:
            self.notify("Pick a VM (or bind only) first.", severity="warning")
            return
        if plan.refusals:
            self.notify(printable(f"The plan is refused: {plan.refusals[0]}"), severity="error", markup=False)
            return
        lines = [f"Bind to vfio-pci: {', '.join(plan.members) or plan.address}"]
        lines += plan.driver_changes
        if plan.vm:
            lines += [f"Then add it to {plan.vm} and start {plan.vm}."]
        lines += ["", "Undo (u after the run, or the journal): " + "; ".join(plan.undo)]
        self.app.push_screen(ConfirmModal("Change this host?", lines, yes="Run it"), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes and self.plan is not None:
            from tui.screens.run import RunScreen

            self.app.switch_screen(RunScreen(self.plan))
