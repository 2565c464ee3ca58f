"""Provides SriovModal: "create VFs" on a PF through core's SR-IOV change — the number (and whether new
VFs get their host driver), the plan with its refusals, an explicit yes, the live steps, the VFs that
appeared with their groups, and undo (the same UndoModal as every run, back to the previous count).

The same core calls as `vfio-tui sriov ADDR --vfs N` and `vfio-tui undo`."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, Switch

from vfio_tui.core.errors import VfioError
from vfio_tui.core.sriov import SriovPlan, SriovResult
from vfio_tui.tui.backend import Backend
from vfio_tui.tui.modals.step_log import StepLog
from vfio_tui.tui.safe_text import SafeText as Text


class SriovModal(StepLog, ModalScreen[SriovResult | None]):
    """Plan → confirm → apply → result (→ undo) for a PF's number of VFs; dismisses with the result."""

    DEFAULT_CSS = """
    SriovModal { align: center middle; }
    SriovModal #dialog { width: 86; max-width: 100%; height: auto; max-height: 90%;
        border: thick $warning; background: $panel; padding: 0 1; }
    SriovModal #title { text-style: bold; color: $warning; }
    SriovModal #ask { height: 3; }
    SriovModal #ask Input { width: 12; }
    SriovModal #ask Static { width: auto; padding: 1 1 0 1; }
    SriovModal #body { height: auto; max-height: 18; }
    SriovModal #buttons { height: 3; align-horizontal: right; }
    SriovModal Button { margin-left: 1; }
    """
    BINDINGS = [Binding("escape", "close", "Close"), Binding("y", "apply", "Apply", show=False)]

    def __init__(self, backend: Backend, pf: str, current: int, total: int) -> None:
        super().__init__()
        self.backend = backend
        self.pf = pf
        self.current = current
        self.total = total
        self.plan: SriovPlan | None = None
        self.result: SriovResult | None = None
        self.running = False
        self._lines: list[Text] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(f"SR-IOV VFs of {self.pf}"), id="title")
            with Horizontal(id="ask"):
                yield Static(f"VFs (0-{self.total}, now {self.current}):")
                yield Input(str(self.current or min(2, self.total)), id="count", type="integer")
                yield Static("new VFs get their host driver:")
                yield Switch(value=True, id="autoprobe")
            with VerticalScroll(id="body"):
                yield Static(Text("Enter a number and press Plan: nothing changes before you say yes."), id="text")
            with Horizontal(id="buttons"):
                yield Button("Plan (Enter)", id="plan")
                yield Button("Apply (y)", variant="warning", id="apply")
                yield Button("Undo", id="undo")
                yield Button("Close (Esc)", id="close")

    def on_mount(self) -> None:
        self.query_one("#apply").display = False
        self.query_one("#undo").display = False
        self.query_one("#count", Input).focus()

    def _say(self, text: Text) -> None:
        self.query_one("#text", Static).update(text)

    # -- plan ----------------------------------------------------------------------------------------
    @on(Input.Submitted, "#count")
    @on(Button.Pressed, "#plan")
    def action_plan(self) -> None:
        if self.running or self.result is not None:
            return
        raw = self.query_one("#count", Input).value.strip()
        if not raw.isdigit():
            self._say(Text("Give a number of VFs (0 removes them all).", style="yellow"))
            return
        self.query_one("#apply").display = False
        self._say(Text("Planning…"))
        self.load_plan(int(raw), self.query_one("#autoprobe", Switch).value)

    @work(thread=True, exclusive=True, group="sriov-plan", exit_on_error=False)
    def load_plan(self, count: int, autoprobe: bool) -> None:
        try:
            plan = self.backend.plan_sriov(self.pf, count, autoprobe=autoprobe)
        except VfioError as exc:
            self.app.call_from_thread(self._say, Text(str(exc), style="yellow"))
            return
        self.app.call_from_thread(self._show_plan, plan)

    def _show_plan(self, plan: SriovPlan) -> None:
        self.plan = plan
        text = Text(f"{plan.pf} ({plan.pf_driver or 'no driver'}): {plan.current_vfs} → {plan.target_vfs} VFs\n",
                    style="bold")
        if plan.refused:
            text.append("Refused — nothing will change:\n", style="bold yellow")
            for r in plan.refused:
                text.append(f"  ✗ {r.address}: {r.reason}\n", style="yellow")
                if r.fix:
                    text.append(f"      fix: {r.fix}\n", style="dim")
        elif plan.nothing_to_do:
            text.append("Nothing to do.\n")
        else:
            if plan.removed_vfs:
                text.append(f"VFs that go: {', '.join(plan.removed_vfs)}\n")
            if plan.new_vfs:
                text.append(f"New VFs: {', '.join(plan.new_vfs)}\n")
            for w in plan.warnings:
                text.append(f"WARNING: {w}\n", style="yellow")
            text.append("Writes, in order (undo puts the previous count back):\n", style="bold")
            for i, s in enumerate(plan.steps, 1):
                text.append(f"  {i}. {s.describe()}  ({s.why})\n")
            self.query_one("#apply").display = True
            self.query_one("#apply", Button).focus()
        self._say(text)

    # -- apply ---------------------------------------------------------------------------------------
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        plan = self.plan
        if plan is None or not plan.ok or plan.nothing_to_do or self.running or self.result is not None:
            return
        self.running = True
        self.query_one("#apply").display = False
        self._lines = [Text("Applying…", style="bold")]
        self._say(Text("\n").join(self._lines))
        self.run_apply(plan)

    @work(thread=True, exclusive=True, group="sriov-run", exit_on_error=False)
    def run_apply(self, plan: SriovPlan) -> None:
        try:
            result = self.backend.apply_sriov(plan, self.post_step)
        except VfioError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, result)

    def _failed(self, error: str) -> None:
        self.running = False
        self.log_line(Text(error, style="bold red"))

    def _done(self, result: SriovResult) -> None:
        self.running = False
        self.result = result
        self._lines.append(Text(f"Done ({result.run_id}): {result.plan.pf} has {result.plan.target_vfs} VFs",
                                style="bold green"))
        for v in result.vfs:
            self._lines.append(Text(f"  {v.address}  group {v.iommu_group}  {v.driver or 'no driver'}"))
        for w in result.warnings:
            self._lines.append(Text(f"WARNING: {w}", style="yellow"))
        self._say(Text("\n").join(self._lines[-16:]))
        self.query_one("#title", Static).update(Text(f"SR-IOV VFs of {self.pf}: done"))
        if result.run_id:
            self.query_one("#undo").display = True

    @on(Button.Pressed, "#undo")
    def action_undo(self) -> None:
        if self.result is None or self.result.run_id is None or self.running:
            return
        from vfio_tui.tui.modals.undo import UndoModal

        self.app.push_screen(UndoModal(self.backend, self.result.run_id))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if self.running:
            self.notify("The change is running; wait for it to finish.", severity="warning")
            return
        self.dismiss(self.result)
