"""Provides FixModal: a check's fix (or its undo) as a diff, then — after an explicit yes — applied
with a backup and a journal entry, through the same core calls as `vfio-tui check --fix ID` and
`vfio-tui check --undo ID`."""

from __future__ import annotations

from typing import Literal

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from vfio_tui.core.checks import FixResult
from vfio_tui.core.errors import VfioError
from vfio_tui.tui.backend import Backend
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import ChangesHost


def diff_text(result: FixResult) -> Text:
    """The unified diff of every file, coloured, then the other actions and the follow-up."""
    text = Text()
    for change in result.changes:
        for line in change.diff.splitlines():
            style = ("bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+")
                     else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "")
            text.append(f"{line}\n", style=style)
    for action in result.actions:
        text.append(f"  {action}\n")
    if result.followup:
        text.append("Afterwards you run (vfio-tui does not): ", style="bold")
        text.append("; ".join(result.followup) + "\n")
    return text


def done_text(result: FixResult, *, undo: bool) -> Text:
    text = Text()
    verb = "Undone" if undo else "Applied"
    text.append(f"{verb}: {result.fix_id} ({result.journal_id}).\n", style="bold green")
    for change in result.changes:
        if undo:
            text.append(f"  restored {change.path}\n")
        else:
            text.append(f"  edited {change.path}" + (f" (backup: {change.backup})\n" if change.backup
                                                      else " (new file)\n"))
    for line in (*result.actions, *result.messages):
        text.append(f"  {line}\n")
    if result.followup:
        text.append("Now run (vfio-tui does not): ", style="bold")
        text.append("; ".join(result.followup) + "\n")
    if not undo:
        text.append(f"U on the checks screen undoes it (vfio-tui check --undo {result.journal_id}).\n", style="dim")
    return text


class FixModal(ChangesHost, ModalScreen[FixResult | None]):
    """Shows the diff, asks, applies (or undoes), shows what changed; dismisses with the result."""

    DEFAULT_CSS = """
    FixModal { align: center middle; }
    FixModal #dialog { width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: thick $warning; background: $panel; padding: 0 1; }
    FixModal #title { text-style: bold; color: $warning; }
    FixModal #body { height: auto; max-height: 18; }
    FixModal #buttons { height: 3; align-horizontal: right; }
    FixModal Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("y", "apply", "Apply", show=False),
        Binding("n,escape", "close", "Close"),
    ]

    def __init__(self, backend: Backend, ident: str, mode: Literal["apply", "undo"] = "apply") -> None:
        super().__init__()
        self.backend = backend
        self.ident = ident
        """The check id (or journal id cfg-N, for an undo)."""
        self.mode = mode
        self.preview: FixResult | None = None
        self.result: FixResult | None = None
        self.running = False

    def compose(self) -> ComposeResult:
        verb = "Fix" if self.mode == "apply" else "Undo the fix of"
        with Vertical(id="dialog"):
            yield Static(Text(f"{verb} {self.ident}?"), id="title")
            with VerticalScroll(id="body"):
                yield Static(Text("Reading the files…"), id="text")
            with Horizontal(id="buttons"):
                yield Button("Apply (y)" if self.mode == "apply" else "Undo (y)", variant="warning", id="apply")
                yield Button("Cancel (n)", id="close")

    def on_mount(self) -> None:
        self.query_one("#apply").display = False
        self.query_one("#close", Button).focus()
        self.load_preview()

    def busy(self) -> str | None:
        return f"A fix is being written ({self.ident})." if self.running else None

    def _say(self, text: Text) -> None:
        self.query_one("#text", Static).update(text)

    @work(thread=True, exclusive=True, group="fix-preview", exit_on_error=False)
    def load_preview(self) -> None:
        try:
            preview = (self.backend.preview_fix(self.ident) if self.mode == "apply"
                       else self.backend.preview_undo_fix(self.ident))
        except VfioError as exc:
            self.app.call_from_thread(self._say, Text(str(exc), style="yellow"))
            return
        self.app.call_from_thread(self._show_preview, preview)

    def _show_preview(self, preview: FixResult) -> None:
        self.preview = preview
        text = Text()
        where = ", ".join(c.path for c in preview.changes) or "no file"
        text.append(f"{'This change' if self.mode == 'apply' else 'Putting back'} {where}:\n", style="bold")
        text.append_text(diff_text(preview))
        text.append("\nA backup is kept and the change is journaled; nothing else is touched.\n" if self.mode == "apply"
                    else "\nThe files go back to what they were before the fix.\n", style="dim")
        self._say(text)
        self.query_one("#apply").display = True

    @on(Button.Pressed, "#apply")
    def _pressed_apply(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#close")
    def _pressed_close(self) -> None:
        self.action_close()

    def action_apply(self) -> None:
        if self.preview is None or self.running or self.result is not None:
            return
        self.running = True
        self.query_one("#apply").display = False
        self._say(Text("Writing…", style="bold"))
        self.write()

    @work(thread=True, exclusive=True, group="fix-write", exit_on_error=False)
    def write(self) -> None:
        try:
            result = (self.backend.apply_fix(self.ident) if self.mode == "apply"
                      else self.backend.undo_fix(self.ident))
        except VfioError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._done, result)

    def _failed(self, error: str) -> None:
        self.running = False
        self._say(Text(f"Nothing was changed: {error}", style="bold red"))

    def _done(self, result: FixResult) -> None:
        self.running = False
        self.result = result
        self.query_one("#title", Static).update(Text("Done"))
        self.query_one("#close", Button).label = "Close (Esc)"
        self._say(done_text(result, undo=self.mode == "undo"))

    def action_close(self) -> None:
        if self.running:
            self.notify("The fix is being written; wait for it to finish.", severity="warning")
            return
        self.dismiss(self.result)
