"""Provides RunScreen: runs a confirmed plan (bind → verify → attach → start) with live progress."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, RichLog, Static

from tui.backend import NotAvailable
from tui.messages import HostChanged
from tui.modals.confirm import ConfirmModal
from tui.screen_base import VfioScreen
from tui.views import ExplainView, PassthroughPlan, RunOutcome, StepUpdate
from tui.widgets.explain_panel import ExplainPanel
from tui.widgets.step_list import StepList

if TYPE_CHECKING:
    pass

STEP_TITLES = {"bind": "Bind the group to vfio-pci", "verify": "Verify every member is on vfio-pci",
               "attach": "Add the hostdev to the VM", "start": "Start the VM"}


class RunScreen(VfioScreen):
    """The live step list, the streaming log, then a summary or the explanation panel."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("u", "undo", "Undo"),
    ]

    class Step(Message):
        """A step changed state or printed a line (posted from the run worker)."""

        def __init__(self, update: StepUpdate) -> None:
            super().__init__()
            self.update = update

    class Finished(Message):
        """The run ended (success, failure or cancel)."""

        def __init__(self, outcome: RunOutcome) -> None:
            super().__init__()
            self.outcome = outcome

    def __init__(self, plan: PassthroughPlan) -> None:
        super().__init__()
        self.plan = plan
        self.outcome: RunOutcome | None = None
        """How the run ended (None while it runs)."""
        self.cancel_event = threading.Event()
        self.undone = False

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        steps = ["bind", "verify"] + (["attach", "start"] if self.plan.vm else [])
        yield Header(icon=HEADER_ICON)
        target = f" → {self.plan.vm}" if self.plan.vm else " (bind only)"
        yield Static(Text(f"Running: {self.plan.address}{target}"), classes="section-title", id="run-title")
        yield StepList([(s, STEP_TITLES[s]) for s in steps], id="steps")
        yield RichLog(id="log", wrap=True, max_lines=2000)
        with VerticalScroll(id="result-pane"):
            yield Static("", id="result")
            yield ExplainPanel(id="explain")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#result-pane").display = False
        self.run_plan()

    @work(thread=True, exclusive=True, group="run", exit_on_error=False, description="Running the plan")
    def run_plan(self) -> None:
        try:
            outcome = self.vfio_app.backend.run(self.plan, self._post_step, self.cancel_event)
        except NotAvailable as exc:
            outcome = RunOutcome(False, [], ExplainView([], [], note=str(exc)))
        self.post_message(self.Finished(outcome))

    def _post_step(self, update: StepUpdate) -> None:
        self.post_message(self.Step(update))

    @on(Step)
    def step(self, message: Step) -> None:
        u = message.update
        log = self.query_one(RichLog)
        if u.status == "log":
            log.write(Text(u.detail or u.name, style="dim"))
            return
        self.query_one(StepList).mark(u.name, u.status, u.elapsed, u.detail)
        verb = {"started": "→", "done": "✓", "failed": "✗"}[u.status]
        took = f" ({u.elapsed:.2f}s)" if u.status != "started" else ""
        log.write(Text(f"{verb} {STEP_TITLES.get(u.name, u.name)}{took}" + (f": {u.detail}" if u.detail else ""),
                       style="red" if u.status == "failed" else ""))

    @on(Finished)
    def finished(self, message: Finished) -> None:
        outcome = self.outcome = message.outcome
        self.query_one(StepList).skip_rest()
        self.query_one("#result-pane").display = True
        result = self.query_one("#result", Static)
        if outcome.ok:
            text = Text("Done. ", style="bold green")
            where = f"{self.plan.vm} is running with {self.plan.address}" if self.plan.vm else \
                f"{self.plan.address}'s group is on vfio-pci"
            if outcome.message:
                where = outcome.message
            text.append(f"{where}.\nSteps: {', '.join(outcome.steps_done)}. Press u to undo, Esc to go back.")
            result.update(text)
        elif outcome.cancelled:
            result.update(Text(f"Cancelled ({outcome.message}). Press u to undo what ran, Esc to go back.",
                               style="yellow"))
        else:
            result.update(Text("It failed. Probable cause and fix below; press u to undo what ran.",
                               style="bold red"))
            self.query_one(ExplainPanel).show(outcome.explanation or ExplainView([], []))
        for screen in self.app.screen_stack:
            screen.post_message(HostChanged())

    def action_cancel_or_back(self) -> None:
        if self.outcome is None:
            self.cancel_event.set()
            self.notify("Cancelling after the current step…")
            return
        self.app.pop_screen()

    def action_undo(self) -> None:
        if self.outcome is None:
            self.notify("Wait for the run to end (Esc cancels it).", severity="warning")
            return
        if self.undone or not self.outcome.steps_done:
            self.notify("Nothing to undo.")
            return
        lines = ["Undo will:", *self.plan.undo]
        self.app.push_screen(ConfirmModal("Undo this run?", lines, yes="Undo"), self._undo_confirmed)

    def _undo_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.run_undo()

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def run_undo(self) -> None:
        try:
            lines = self.vfio_app.backend.undo(self.plan)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.app.call_from_thread(self._undo_done, [f"Undo failed: {exc}"], False)
            return
        self.app.call_from_thread(self._undo_done, lines, True)

    def _undo_done(self, lines: list[str], ok: bool) -> None:
        self.undone = ok
        self.query_one(RichLog).write(Text("\n".join(["Undo:", *lines]), style="green" if ok else "red"))
        self.query_one("#result", Static).update(
            Text("Undone: " + "; ".join(lines), style="bold green") if ok else Text("; ".join(lines), style="red"))
        for screen in self.app.screen_stack:
            screen.post_message(HostChanged())
