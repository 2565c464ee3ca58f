"""Provides ExplainScreen: paste or load a log, or pick a VM whose start failed, and get the cause."""

from __future__ import annotations

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Header, Input, Static, TextArea
from textual.widgets.option_list import Option

from vfio_tui.core.errors import VfioError
from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.core.libvirt.connection import DomainInfo
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import VfioScreen
from vfio_tui.tui.widgets.explain_panel import ExplainPanel
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.nav_list import NavList


class ExplainScreen(VfioScreen):
    """Three ways in (pasted text, a log file, a VM), one explanation panel out."""

    CSS_PATH = "explain.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("i", "edit", "Type"),
        Binding("o", "open_path", "Open file"),
        Binding("ctrl+r,f5", "explain_pasted", "Explain", key_display="^r", priority=True),
    ]

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._initial = text
        self.report: ExplainReport | None = None
        """The last explanation shown."""

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        with Horizontal(id="explain-inputs"):
            with Vertical(id="paste-pane"):
                yield TextArea(self._initial, id="paste", soft_wrap=True)
                yield Input(placeholder="or a log file path, Enter loads it", id="path")
            yield NavList(id="vms")
        with VerticalScroll(id="explain-pane"):
            yield Static("Paste an error (Ctrl+R explains it), load a log file, or pick a VM.", id="explain-hint")
            yield ExplainPanel(id="explanation")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#paste").border_title = "paste a log or error"
        self.query_one("#vms").border_title = "or a VM"
        # Focus starts on the VM list, not in the text box: there c x u q are the app's keys, and a
        # paste (Ctrl+Shift+V, or the terminal's) still lands in the text box (on_paste).
        self.query_one("#vms", NavList).focus()
        self.load_vms()

    def action_back(self) -> None:
        """Esc leaves a text box first (back to the VM list); from elsewhere it leaves the screen."""
        if isinstance(self.focused, (TextArea, Input)):
            self.query_one("#vms", NavList).focus()
        else:
            self.app.pop_screen()

    def action_edit(self) -> None:
        self.query_one("#paste", TextArea).focus()

    def action_open_path(self) -> None:
        self.query_one("#path", Input).focus()

    def on_paste(self, event: events.Paste) -> None:
        """A paste that reached the screen (focus on the VM list) goes into the text box."""
        if not isinstance(self.focused, (TextArea, Input)):
            area = self.query_one("#paste", TextArea)
            area.insert(event.text)
            area.focus()
            event.stop()

    @work(thread=True, exclusive=True, group="explain-vms", exit_on_error=False)
    def load_vms(self) -> None:
        try:
            vms = self.vfio_app.backend.list_vms()
        except VfioError as exc:  # no libvirt for this host, or libvirtd not running: the list says so
            self.app.call_from_thread(self._show_vms, [], exc.detail)
            return
        self.app.call_from_thread(self._show_vms, vms, "")

    def _show_vms(self, vms: list[DomainInfo], why: str) -> None:
        options = self.query_one("#vms", NavList)
        options.clear_options()
        if not vms:
            options.add_option(Option(Text(why or "no VMs", style="dim"), disabled=True))
        for vm in vms:
            label = Text(f"{vm.name:<12} ")
            label.append(vm.state, style="green" if vm.state == "running" else "dim")
            options.add_option(Option(label, id=vm.name))
        if vms:
            options.highlighted = 0

    def action_explain_pasted(self) -> None:
        text = self.query_one("#paste", TextArea).text
        if not text.strip():
            self.notify("Paste an error message or log first.", severity="warning")
            return
        self.explain(("text", text))

    @on(Input.Submitted, "#path")
    def load_path(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.explain(("file", event.value.strip()))

    @on(NavList.OptionSelected, "#vms")
    def vm_chosen(self, event: NavList.OptionSelected) -> None:
        if event.option.id:
            self.explain(("vm", event.option.id))

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False, description="Explaining")
    def explain(self, source: tuple[str, str]) -> None:
        backend = self.vfio_app.backend
        kind, value = source
        self.app.call_from_thread(self._hint, f"Explaining {kind} {value[:40]!r}…" if kind != "text" else
                                  "Explaining the pasted text…")
        try:
            if kind == "vm":
                report = backend.explain_vm(value)
            else:
                text = backend.read_log_file(value) if kind == "file" else value
                if kind == "file":
                    self.app.call_from_thread(self._set_paste, text)
                report = backend.explain_text(text)
        except VfioError as exc:
            self.app.call_from_thread(self._show, None, f"Cannot explain: {exc}")
            return
        self.app.call_from_thread(self._show, report, "")

    def show_worker_error(self, what: str, text: str) -> None:
        self._show(None, text)

    def _set_paste(self, text: str) -> None:
        self.query_one("#paste", TextArea).load_text(text)

    def _hint(self, text: str) -> None:
        self.query_one("#explain-hint", Static).update(Text(text))

    def _show(self, report: ExplainReport | None, note: str) -> None:
        self.report = report
        n = len(report.findings) if report is not None else 0
        self._hint(f"{n} probable cause{'s' if n != 1 else ''}" if n else "")
        self.query_one(ExplainPanel).show(report, note)
        # What was asked for is now below: the focus goes there (↑↓ scroll it; i or o go back to
        # editing), out of the text boxes, where the app's keys would have been typed.
        pane = self.query_one("#explain-pane", VerticalScroll)
        pane.scroll_home(animate=False)
        pane.focus()
