"""Provides JournalScreen: what vfio-tui changed on this host — passthrough runs (undo any of them),
interrupted binds, what is on vfio-pci now — and "Restore all", refused while a VM holds a device."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Header, Static
from textual.widgets.option_list import Option

from vfio_tui.core.binding.restore import PendingRun, RestoreResult
from vfio_tui.core.errors import VfioError
from vfio_tui.core.passthrough import RunRecord, UndoResult
from vfio_tui.core.passthrough.records import FINISHED
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.messages import HostStateChanged
from vfio_tui.tui.modals.confirm import ConfirmModal
from vfio_tui.tui.modals.undo import UndoModal
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import ChangesHost, VfioScreen
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.nav_list import NavList


@dataclass(frozen=True)
class JournalState:
    """What the screen shows, read in one worker."""

    runs: list[RunRecord]
    interrupted: list[RunRecord]
    pending: list[PendingRun]
    on_vfio: list[str]


class JournalScreen(ChangesHost, VfioScreen):
    """Runs (u undoes the highlighted one), interrupted work, devices on vfio-pci; R restores all."""

    CSS_PATH = "journal.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("u", "undo_run", "Undo run"),
        Binding("R", "restore_all", "Restore all", key_display="R"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: JournalState | None = None
        self._restoring = False

    def busy(self) -> str | None:
        return "Restore all is giving devices back to their drivers." if self._restoring else None

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        yield Static("Undo / journal: what vfio-tui changed on this host", classes="section-title",
                     id="journal-title")
        yield NavList(id="runs")
        with VerticalScroll(id="journal-pane"):
            yield Static("Reading the journal…", id="journal")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#runs").border_title = "passthrough runs (u undoes the highlighted one)"
        self.read_journal()

    def action_reload(self) -> None:
        self.host_changed()

    @work(thread=True, exclusive=True, group="journal", exit_on_error=False, description="Reading the journal")
    def read_journal(self) -> None:
        backend = self.vfio_app.backend
        view = self.vfio_app.host_view  # the same read the tree shows
        inv = view.inventory if view is not None else backend.inventory()
        state = JournalState(backend.runs(), backend.interrupted(), backend.pending_binds(),
                             [f"{d.address}  {d.name}" for d in inv.devices.values() if d.on_vfio])
        self.app.call_from_thread(self._show, state, list(backend.session_log))

    def show_worker_error(self, what: str, text: str) -> None:
        self._restoring = False
        self.query_one("#journal", Static).update(Text(text, style="red"))

    def _show(self, state: JournalState, session: list[str]) -> None:
        self.state = state
        runs = self.query_one("#runs", NavList)
        runs.clear_options()
        for run in reversed(state.runs):
            style = "dim" if run.status in FINISHED else ""
            runs.add_option(Option(Text(run.summary(), style=style), id=run.id))
        if not state.runs:
            runs.add_option(Option(Text("no passthrough runs on this host yet", style="dim"), disabled=True))
        else:
            runs.highlighted = 0
        text = Text()
        if state.interrupted:
            text.append("Runs cut short (kill -9, power loss, SSH drop): undo them\n", style="bold yellow underline")
            for run in state.interrupted:
                text.append(f"  {run.summary()}\n", style="yellow")
        text.append("Interrupted binds (the binding journal)\n", style="bold underline")
        if not state.pending:
            text.append("  none: no bind was cut short\n", style="green")
        for p in state.pending:
            text.append(f"  group {p.group} ({', '.join(p.devices)}), started {p.started}, {p.steps_done} steps done;"
                        f" journal {p.journal}\n", style="yellow")
        text.append("\nOn vfio-pci now\n", style="bold underline")
        for line in state.on_vfio or ["no device"]:
            text.append(f"  {line}\n")
        text.append("\nThis session\n", style="bold underline")
        for line in session or ["no changes yet"]:
            text.append(f"  {line}\n", style="" if session else "dim")
        text.append("\nu undoes the highlighted run (the VM first, then the drivers). R gives every device back to its"
                    " original driver, refused while a VM or a process still holds one.", style="dim")
        self.query_one("#journal", Static).update(text)

    @on(NavList.OptionSelected, "#runs")
    def _run_chosen(self) -> None:
        self.action_undo_run()

    def action_undo_run(self) -> None:
        runs = self.query_one("#runs", NavList)
        if runs.highlighted is None:
            self.notify("No run to undo.", severity="warning")
            return
        run_id = runs.get_option_at_index(runs.highlighted).id
        if not run_id:
            self.notify("No run to undo.", severity="warning")
            return
        self.app.push_screen(UndoModal(self.vfio_app.backend, run_id), self._undone)

    def _undone(self, result: UndoResult | None) -> None:
        if result is not None:
            self.host_changed()

    def action_restore_all(self) -> None:
        lines = ["Every device vfio-tui moved to vfio-pci goes back to its original driver, and driver_override",
                 "is cleared. Refused (nothing changes) while a running VM or a process still holds any of them:",
                 "undo that run first (u), which takes the device out of the VM."]
        self.app.push_screen(ConfirmModal("Restore everything?", lines, yes="Restore"), self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if yes:
            self._restoring = True
            self.restore_all()

    @work(thread=True, exclusive=True, group="restore", exit_on_error=False, description="Restoring")
    def restore_all(self) -> None:
        try:
            result = self.vfio_app.backend.restore_all()
        except VfioError as exc:
            self.app.call_from_thread(self._refused, str(exc))
            return
        self.app.call_from_thread(self._restored, result)

    def _refused(self, text: str) -> None:
        self._restoring = False
        self.notify(printable(text), severity="error", timeout=12, markup=False)

    def _restored(self, result: RestoreResult) -> None:
        self._restoring = False
        lines = [f"{a}: back on {d or 'no driver'}" for a, d in result.restored]
        lines += [f"{a}: FAILED: {e}" for a, e in result.failed]
        self.notify(printable("\n".join(lines)) or "nothing to restore",
                    severity="error" if result.failed else "information", markup=False)
        self.host_changed()

    def on_host_state_changed(self, message: HostStateChanged) -> None:
        self.read_journal()
