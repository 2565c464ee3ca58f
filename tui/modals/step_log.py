"""Provides StepLog: the live log of a dialog that runs a host change of core's in a worker thread (the
SR-IOV count, an undo): each step event is carried to the UI thread as a message and shown as a line,
the last lines kept in view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

from vfio_tui.core.steps import StepEvent, format_step
from vfio_tui.tui.safe_text import SafeText as Text


class StepLog:
    """Mixed into a ModalScreen that has `_lines` and `_say(text)`: `post_step` is the worker's on_step."""

    class Step(Message):
        def __init__(self, event: StepEvent) -> None:
            super().__init__()
            self.event = event

    _lines: list[Text]

    if TYPE_CHECKING:
        def post_message(self, message: Message) -> bool: ...

        def _say(self, text: Text) -> None: ...

    def post_step(self, event: StepEvent) -> None:
        """A step of the change (called in the worker thread)."""
        self.post_message(StepLog.Step(event))

    def on_step_log_step(self, message: StepLog.Step) -> None:
        e = message.event
        if e.state in ("done", "failed", "info"):
            self.log_line(Text(format_step(e), style="red" if e.state == "failed" else "dim"))

    def log_line(self, text: Text, *, keep: int = 14) -> None:
        """One more line in the log, and the last `keep` of them in view."""
        self._lines.append(text)
        self._say(Text("\n").join(self._lines[-keep:]))
