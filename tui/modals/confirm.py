"""Provides ConfirmModal: the yes/no step before anything changes the host."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from vfio_tui.tui.safe_text import SafeText as Text


class ConfirmModal(ModalScreen[bool]):
    """Asks before a host-changing action; dismisses with True only on an explicit yes."""

    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal #dialog { width: 76; max-width: 100%; height: auto; max-height: 90%;
        border: thick $warning; background: $panel; padding: 0 1; }
    ConfirmModal #title { text-style: bold; color: $warning; }
    ConfirmModal #body { height: auto; max-height: 14; }
    ConfirmModal #buttons { height: 3; align-horizontal: right; }
    ConfirmModal Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, lines: list[str], yes: str = "Yes, do it") -> None:
        super().__init__()
        self._title = title
        """What is about to happen, in a few words."""
        self._lines = lines
        """The details of the change (plain text, not markup)."""
        self._yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text(self._title), id="title")
            with VerticalScroll(id="body"):
                yield Static(Text("\n".join(self._lines)))
            with Horizontal(id="buttons"):
                yield Button(f"{self._yes} (y)", variant="warning", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed, "#yes")
    def yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def no(self) -> None:
        self.dismiss(False)

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)
