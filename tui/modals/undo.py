"""Provides UndoModal: undo one passthrough run through core's transaction — the plan first (with
the choice of how to free a running VM), then the live steps, then what was and was not undone.

The run screen and the journal screen both open it, so undo behaves the same from everywhere
(and the same as `vfio-tui undo`).
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from vfio_tui.core.errors import VfioError
from vfio_tui.core.passthrough import UndoPlan, UndoResult
from vfio_tui.tui.backend import Backend
from vfio_tui.tui.modals.step_log import StepLog
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import ChangesHost


class UndoModal(StepLog, ChangesHost, ModalScreen[UndoResult | None]):
    """Shows plan_undo(), asks, runs undo_passthrough(), shows the result; dismisses with it."""

    DEFAULT_CSS = """
    UndoModal { align: center middle; }
    UndoModal #dialog { width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: thick $warning; background: $panel; padding: 0 1; }
    UndoModal #title { text-style: bold; color: $warning; }
    UndoModal #body { height: auto; max-height: 16; }
    UndoModal #buttons { height: 3; align-horizontal: right; }
    UndoModal Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("escape,n", "close", "Close"),
        Binding("y", "undo", "Undo", show=False),
        Binding("s", "undo_stop", "Stop VM and undo", show=False),
        Binding("l", "undo_live", "Hot-unplug and undo", show=False),
    ]

    def __init__(self, backend: Backend, run_id: str | None) -> None:
        super().__init__()
        self.backend = backend
        self.run_id = run_id
        self.plan: UndoPlan | None = None
        self.result: UndoResult | None = None
        self.running = False
        self._lines: list[Text] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Undo"), id="title")
            with VerticalScroll(id="body"):
                yield Static(Text("Reading the run…"), id="text")
            with Horizontal(id="buttons"):
                yield Button("Undo (y)", variant="warning", id="undo")
                yield Button("Stop VM and undo (s)", variant="warning", id="stop")
                yield Button("Hot-unplug and undo (l)", id="live")
                yield Button("Close (n)", id="close")

    def on_mount(self) -> None:
        for b in ("#undo", "#stop", "#live"):
            self.query_one(b).display = False
        self.query_one("#close", Button).focus()
        self.load_plan()

    @work(thread=True, exclusive=True, group="undo-plan", exit_on_error=False)
    def load_plan(self) -> None:
        try:
            plan = self.backend.plan_undo(self.run_id)
        except VfioError as exc:
            self.app.call_from_thread(self._say, Text(str(exc), style="yellow"))
            return
        self.app.call_from_thread(self._show_plan, plan)

    def _say(self, text: Text) -> None:
        self.query_one("#text", Static).update(text)

    def _show_plan(self, plan: UndoPlan) -> None:
        self.plan = plan
        self.run_id = plan.run.id
        self.query_one("#title", Static).update(Text(f"Undo {plan.run.id}?"))
        text = Text(plan.run.summary() + "\n\n")
        if plan.vm_running and not plan.ok:
            text.append(f"{plan.refusal}.\n", style="bold yellow")
            text.append("It cannot be taken back while the VM holds it. Choose how to free it:\n"
                        "  s  shut the VM down (ACPI), then undo\n"
                        "  l  hot-unplug it from the running VM (the guest must let go), then undo\n")
            self.query_one("#stop").display = True
            self.query_one("#live").display = True
        elif not plan.ok:
            text.append(plan.refusal + (f" ({plan.fix})" if plan.fix else "") + "\n", style="yellow")
        else:
            text.append("Undo will:\n", style="bold")
            for step in plan.steps:
                text.append(f"  {step}\n")
            self.query_one("#undo").display = True
        self._say(text)

    def action_undo(self) -> None:
        if self.plan is not None and self.plan.ok:
            self._start(live=False, stop_vm=False)

    def action_undo_stop(self) -> None:
        if self.plan is not None and self.plan.vm_running:
            self._start(live=False, stop_vm=True)

    def action_undo_live(self) -> None:
        if self.plan is not None and self.plan.vm_running:
            self._start(live=True, stop_vm=False)

    @on(Button.Pressed, "#undo")
    def _pressed_undo(self) -> None:
        self.action_undo()

    @on(Button.Pressed, "#stop")
    def _pressed_stop(self) -> None:
        self.action_undo_stop()

    @on(Button.Pressed, "#live")
    def _pressed_live(self) -> None:
        self.action_undo_live()

    @on(Button.Pressed, "#close")
    def _pressed_close(self) -> None:
        self.action_close()

    def _start(self, *, live: bool, stop_vm: bool) -> None:
        if self.running or self.result is not None:
            return
        self.running = True
        for b in ("#undo", "#stop", "#live"):
            self.query_one(b).display = False
        self._lines = [Text("Undoing…\n", style="bold")]
        self._say(Text("\n").join(self._lines))
        self.run_undo(live, stop_vm)

    @work(thread=True, exclusive=True, group="undo-run", exit_on_error=False)
    def run_undo(self, live: bool, stop_vm: bool) -> None:
        try:
            result = self.backend.undo(self.run_id, self.post_step, live=live, stop_vm=stop_vm)
        except VfioError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, result)

    def _failed(self, error: str) -> None:
        self.running = False
        self.log_line(Text(f"Nothing was undone: {error}", style="bold red"))

    def _done(self, result: UndoResult) -> None:
        self.running = False
        self.result = result
        self.log_line(Text(result.summary, style="bold green" if result.ok else "bold red"))
        self.query_one("#title", Static).update(Text("Undone" if result.ok else "Undo stopped"))

    def busy(self) -> str | None:
        return f"Undo of {self.run_id} is under way." if self.running else None

    def action_close(self) -> None:
        if self.running:
            self.notify("The undo is running; wait for it to finish.", severity="warning")
            return
        self.dismiss(self.result)
