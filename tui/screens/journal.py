"""Provides JournalScreen: what vfio-tui changed on this host, and restoring it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from tui.backend import NotAvailable
from tui.messages import HostChanged
from tui.modals.confirm import ConfirmModal
from tui.screen_base import VfioScreen

if TYPE_CHECKING:
    pass


class JournalScreen(VfioScreen):
    """The recovery journal (changes not yet undone) and this session's log; R restores everything."""

    CSS_PATH = "journal.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("R", "restore_all", "Restore all", key_display="R"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[str] | None = None
        """Journal entries still pending recovery (None until read, or when unavailable)."""

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        yield Static("Undo / journal: what vfio-tui changed on this host", classes="section-title",
                     id="journal-title")
        with VerticalScroll(id="journal-pane"):
            yield Static("Reading the journal…", id="journal")
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.read_journal()

    @work(thread=True, exclusive=True, group="journal", exit_on_error=False)
    def read_journal(self) -> None:
        backend = self.vfio_app.backend
        try:
            entries: list[str] | None = backend.journal()
            note = ""
        except NotAvailable as exc:
            entries, note = None, str(exc)
        except Exception as exc:  # noqa: BLE001 - shown
            entries, note = None, f"Cannot read the journal: {exc}"
        try:
            inv = backend.inventory()
            on_vfio = [f"{d.address}  {d.name}" for d in inv.devices.values() if d.on_vfio]
        except Exception as exc:  # noqa: BLE001 - shown
            on_vfio = [f"cannot read the host: {exc}"]
        self.app.call_from_thread(self._show, entries, note, list(backend.session_log), on_vfio)

    def _show(self, entries: list[str] | None, note: str, session: list[str], on_vfio: list[str]) -> None:
        self.entries = entries
        text = Text()
        text.append("Interrupted runs to recover (the binding journal)\n", style="bold underline")
        if note:
            text.append(f"  {note}\n", style="yellow")
        elif not entries:
            text.append("  none: no bind was cut short\n", style="green")
        for line in entries or []:
            text.append(f"  {line}\n", style="yellow")
        text.append("\nOn vfio-pci now\n", style="bold underline")
        for line in on_vfio or ["no device"]:
            text.append(f"  {line}\n")
        text.append("\nThis session\n", style="bold underline")
        for line in session or ["no changes yet"]:
            text.append(f"  {line}\n", style="" if session else "dim")
        text.append("\nPress R to restore every device to its original driver (asks first).", style="dim")
        self.query_one("#journal", Static).update(text)

    def action_restore_all(self) -> None:
        lines = ["Every device vfio-tui moved to vfio-pci goes back to its original driver,",
                 "and driver_override is cleared. Running VMs using them must be stopped first."]
        self.app.push_screen(ConfirmModal("Restore everything?", lines, yes="Restore"), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self.restore_all()

    @work(thread=True, exclusive=True, group="restore", exit_on_error=False)
    def restore_all(self) -> None:
        try:
            lines = self.vfio_app.backend.restore_all()
            severity = "information"
        except Exception as exc:  # noqa: BLE001 - NotAvailable included: shown as a notification
            lines, severity = [str(exc)], "error"
        self.app.call_from_thread(self.notify, "\n".join(lines), severity=severity)
        self.app.call_from_thread(self._after_restore)

    def _after_restore(self) -> None:
        for screen in self.app.screen_stack:
            screen.post_message(HostChanged())
        self.action_reload()
