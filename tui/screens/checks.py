"""Provides ChecksScreen: every passthrough prerequisite with pass/warn/fail, evidence and fix."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, LoadingIndicator, Static

from core.checks.result import CheckResult
from tui.safe_text import SafeText as Text
from tui.screen_base import VfioScreen

STATUS_STYLE = {"pass": ("✓ PASS", "bold green"), "warn": ("! WARN", "bold yellow"),
                "fail": ("✗ FAIL", "bold red"), "skip": ("- SKIP", "dim")}


def checks_text(rows: list[CheckResult]) -> Text:
    text = Text()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    text.append("  ".join(f"{n} {s}" for s, n in counts.items()) + "\n\n", style="bold")
    order = {"fail": 0, "warn": 1, "pass": 2}
    for row in sorted(rows, key=lambda r: order.get(r.status, 3)):
        label, style = STATUS_STYLE.get(row.status, (row.status.upper(), ""))
        text.append(f"{label} ", style=style)
        text.append(f"{row.title}", style="bold")
        text.append(f"  [{row.id}]\n", style="dim")
        if row.summary:
            text.append(f"       {row.summary}\n")
        for line in list(row.evidence)[:6]:
            text.append(f"       {line}\n", style="dim")
        if row.fix and row.status != "pass":
            text.append("       fix: ", style="green")
            text.append(f"{row.fix}\n")
    return text


class ChecksScreen(VfioScreen):
    """Runs the checks in a thread worker; the rest of the app stays usable meanwhile."""

    CSS_PATH = "checks.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "rerun", "Run again"),
    ]

    def __init__(self, address: str | None = None) -> None:
        super().__init__()
        self.address = address
        """Check what passing this device would need too (None: host-wide checks only)."""
        self.rows: list[CheckResult] | None = None

    def compose(self) -> ComposeResult:
        from tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        scope = f" for {self.address}" if self.address else ""
        yield Static(Text(f"Prerequisite checks{scope}"), classes="section-title", id="checks-title")
        yield LoadingIndicator(id="checks-loading")
        with VerticalScroll(id="checks-pane"):
            yield Static("", id="checks")
        yield Footer()

    def on_mount(self) -> None:
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one(LoadingIndicator).display = True
        self.run_checks()

    @work(thread=True, exclusive=True, group="checks", exit_on_error=False, description="Running checks")
    def run_checks(self) -> None:
        rows = self.vfio_app.backend.checks(for_address=self.address)
        self.app.call_from_thread(self._show_rows, rows)

    def show_worker_error(self, what: str, text: str) -> None:
        self._show_text(Text(text, style="red"))

    def _show_rows(self, rows: list[CheckResult]) -> None:
        self.rows = rows
        self._show_text(checks_text(rows))

    def _show_text(self, text: Text) -> None:
        self.query_one(LoadingIndicator).display = False
        self.query_one("#checks", Static).update(text)
