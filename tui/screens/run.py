"""Provides RunScreen: runs a confirmed plan (bind → verify → attach → start) with live progress,
through core's passthrough transaction, then shows what is true now — or why the VM did not start."""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Header, RichLog, Static

from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.core.passthrough import PassthroughPlan, RunResult, UndoResult
from vfio_tui.core.steps import StepEvent
from vfio_tui.tui.modals.undo import UndoModal
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import ChangesHost, VfioScreen
from vfio_tui.tui.widgets.explain_panel import ExplainPanel
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.step_list import StepList

STEP_TITLES = {"bind": "Bind the group to vfio-pci", "verify": "Verify every member is on vfio-pci",
               "attach": "Add the hostdev to the VM", "start": "Start the VM"}


class RunScreen(ChangesHost, VfioScreen):
    """The live step list, the streaming log, then a summary or the explanation panel."""

    CSS_PATH = "run.tcss"
    BINDINGS = [
        Binding("escape", "cancel_or_back", "Cancel / back"),
        Binding("u", "undo", "Undo"),
        Binding("l", "toggle_log", "Log", show=False),
    ]

    class Step(Message):
        """A step changed state (posted from the run worker)."""

        def __init__(self, event: StepEvent) -> None:
            super().__init__()
            self.event = event

    class Finished(Message):
        """The run ended (success, failure or cancel)."""

        def __init__(self, result: RunResult, explanation: ExplainReport | None) -> None:
            super().__init__()
            self.result = result
            self.explanation = explanation

    def __init__(self, plan: PassthroughPlan) -> None:
        super().__init__()
        self.plan = plan
        self.result: RunResult | None = None
        """How the run ended (None while it runs)."""
        self.cancel_event = threading.Event()
        self.undo_result: UndoResult | None = None

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        steps = ["bind", "verify"] + (["attach"] if self.plan.vm else []) + (["start"] if self.plan.start else [])
        yield Header(icon=HEADER_ICON)
        target = f" → {self.plan.vm}" if self.plan.vm else " (bind only)"
        yield Static(Text(f"Running: {self.plan.address}{target}"), classes="section-title", id="run-title")
        yield StepList([(s, STEP_TITLES[s]) for s in steps], id="steps")
        yield RichLog(id="log", wrap=True, max_lines=2000, min_width=20)
        with VerticalScroll(id="result-pane"):
            yield Static("", id="result")
            yield ExplainPanel(id="explain")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#result-pane").display = False
        self.run_plan()

    @work(thread=True, exclusive=True, group="run", exit_on_error=False, description="Running the plan")
    def run_plan(self) -> None:
        backend = self.vfio_app.backend

        def on_step(event: StepEvent) -> None:
            self.post_message(self.Step(event))

        result = backend.run(self.plan, on_step, self.cancel_event)
        self.post_message(self.Finished(result, backend.explain_run(result)))

    def show_worker_error(self, what: str, text: str) -> None:
        self.query_one(StepList).skip_rest()
        self.query_one("#result-pane").display = True
        self.add_class("-finished")
        self.query_one("#result", Static).update(Text(f"{text}. Nothing after that step ran.", style="bold red"))
        self.result = RunResult(None, False, (), error=text)
        self.host_changed()

    @on(Step)
    def step(self, message: Step) -> None:
        e = message.event
        log = self.query_one(RichLog)
        if e.phase and e.step == e.phase:
            self.query_one(StepList).mark(e.phase, e.state, e.seconds or 0.0, _first_line(e.detail))
            verb = {"started": "→", "done": "✓", "failed": "✗", "info": "·"}[e.state]
            took = f" ({e.seconds:.2f}s)" if e.seconds is not None else ""
            log.write(Text(f"{verb} {STEP_TITLES.get(e.phase, e.phase)}{took}" + (f": {e.detail}" if e.detail else ""),
                           style="red" if e.state == "failed" else ""))
            return
        if e.state != "started":
            took = f" {e.seconds:.2f}s" if e.seconds else ""
            log.write(Text(f"  {e.step}: {e.state}" + (f" ({e.detail})" if e.detail else "") + took,
                           style="red" if e.state == "failed" else "dim"))

    @on(Finished)
    def finished(self, message: Finished) -> None:
        result = self.result = message.result
        self.query_one(StepList).skip_rest()
        self.query_one("#result-pane").display = True
        self.add_class("-finished")
        text = self.query_one("#result", Static)
        if result.ok:
            line = Text("Done. ", style="bold green")
            line.append(f"{result.message}.\nSteps: {', '.join(result.done)}. Press u to undo ({result.run_id}),"
                        " Esc to go back.")
            text.update(line)
        elif result.cancelled:
            text.update(Text(f"{result.message}. Press u to undo what ran, Esc to go back.", style="yellow"))
        else:
            cause = message.explanation.findings[0].title if message.explanation and message.explanation.findings \
                else _first_line(result.error)
            what = "The VM did not start" if result.failed_phase == "start" else f"{result.failed_phase} failed"
            text.update(Text(f"{what}: {cause}\n{result.message}.\nProbable cause and fix below; press u to undo what"
                             " ran.", style="bold red"))
            self.query_one(ExplainPanel).show(message.explanation)
        self.host_changed()

    def busy(self) -> str | None:
        if self.result is None:
            target = f" to {self.plan.vm}" if self.plan.vm else ""
            return f"A passthrough run is under way: {self.plan.address}{target}."
        return None

    def action_cancel_or_back(self) -> None:
        if self.result is None:
            self.cancel_event.set()
            self.notify("Cancelling after the current step…")
            return
        self.app.pop_screen()

    def action_toggle_log(self) -> None:
        """l: the full log of every write and libvirt call (folded under 100 columns once finished)."""
        self.toggle_class("-log-open")

    def action_undo(self) -> None:
        if self.result is None:
            self.notify("Wait for the run to end (Esc cancels it).", severity="warning")
            return
        if self.result.run_id is None or (self.undo_result is not None and self.undo_result.ok):
            self.notify("Nothing to undo.")
            return
        self.app.push_screen(UndoModal(self.vfio_app.backend, self.result.run_id), self._undone)

    def _undone(self, result: UndoResult | None) -> None:
        if result is None:
            return
        self.undo_result = result
        self.query_one(RichLog).write(Text(result.summary, style="green" if result.ok else "red"))
        self.query_one("#result", Static).update(Text(result.summary, style="bold green" if result.ok else "bold red"))
        self.host_changed()


def _first_line(text: str, width: int = 110) -> str:
    """A long libvirt/QEMU error as one line (the full text is in the log and the explanation)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"
