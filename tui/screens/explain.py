"""Provides ExplainScreen: paste or load a log, or pick a VM whose start failed, and get the cause."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from core.errors import VfioError
from core.explain.model import ExplainReport
from core.libvirt.connection import DomainInfo
from tui.safe_text import SafeText as Text
from tui.screen_base import VfioScreen
from tui.widgets.explain_panel import ExplainPanel


class ExplainScreen(VfioScreen):
    """Three ways in (pasted text, a log file, a VM), one explanation panel out."""

    CSS_PATH = "explain.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+r,f5", "explain_pasted", "Explain pasted text", key_display="^r", priority=True),
    ]

    def __init__(self, text: str = "") -> None:
        super().__init__()
        self._initial = text
        self.report: ExplainReport | None = None
        """The last explanation shown."""

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        with Horizontal(id="explain-inputs"):
            with Vertical(id="paste-pane"):
                yield TextArea(self._initial, id="paste", soft_wrap=True)
                yield Input(placeholder="or a log file path, Enter loads it", id="path")
            yield OptionList(id="vms")
        with VerticalScroll(id="explain-pane"):
            yield Static("Paste an error (Ctrl+R explains it), load a log file, or pick a VM.", id="explain-hint")
            yield ExplainPanel(id="explanation")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#paste").border_title = "paste a log or error"
        self.query_one("#vms").border_title = "or a VM"
        self.query_one("#paste", TextArea).focus()
        self.load_vms()

    @work(thread=True, exclusive=True, group="explain-vms", exit_on_error=False)
    def load_vms(self) -> None:
        try:
            vms = self.vfio_app.backend.list_vms()
        except VfioError as exc:  # no libvirt for this host, or libvirtd not running: the list says so
            self.app.call_from_thread(self._show_vms, [], exc.detail)
            return
        self.app.call_from_thread(self._show_vms, vms, "")

    def _show_vms(self, vms: list[DomainInfo], why: str) -> None:
        options = self.query_one("#vms", OptionList)
        options.clear_options()
        if not vms:
            options.add_option(Option(Text(why or "no VMs", style="dim"), disabled=True))
        for vm in vms:
            options.add_option(Option(Text(f"{vm.name}  {vm.state}"), id=vm.name))

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

    @on(OptionList.OptionSelected, "#vms")
    def vm_chosen(self, event: OptionList.OptionSelected) -> None:
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
