"""Provides ChecksScreen: every passthrough prerequisite with pass/warn/fail, evidence, notes and
fix — and `f` to apply a fix (diff, confirm, backup, journal) and `U` to undo it, the same core
calls as `vfio-tui check --fix ID` / `--undo ID`."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Header, LoadingIndicator, Static
from textual.widgets.option_list import Option

from vfio_tui.core.checks import FixResult
from vfio_tui.core.checks.result import CheckResult
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.safe_text import SafeText as Text
from vfio_tui.tui.screen_base import VfioScreen
from vfio_tui.tui.widgets.key_footer import KeyFooter
from vfio_tui.tui.widgets.nav_list import NavList

STATUS_STYLE = {"pass": ("✓ PASS", "bold green"), "warn": ("! WARN", "bold yellow"),
                "fail": ("✗ FAIL", "bold red"), "n/a": ("- n/a ", "dim"), "skip": ("- SKIP", "dim")}
ORDER = {"fail": 0, "warn": 1, "pass": 2}


def check_text(row: CheckResult) -> Text:
    """One check as the CLI prints it: summary, evidence, notes, fix, and how to apply it."""
    label, style = STATUS_STYLE.get(row.status, (row.status.upper(), ""))
    text = Text()
    text.append(f"{label} ", style=style)
    text.append(row.title, style="bold")
    text.append(f"  [{row.id}]", style="dim")
    if row.summary:
        text.append(f"\n   {row.summary}")
    for line in list(row.evidence)[:6]:
        text.append(f"\n   · {line}", style="dim")
    for note in row.notes:
        text.append("\n   note: ", style="bold")
        text.append(note)
    if row.fix and row.status != "pass":
        text.append("\n   fix: ", style="bold green")
        text.append(row.fix)
    if row.fix_id and row.status in ("warn", "fail"):
        text.append("\n   apply: ", style="bold green")
        text.append("f here", style="bold")
        text.append(f" (vfio-tui check --fix {row.fix_id}): the diff first, then a backup and undo")
    return text


def summary_text(rows: list[CheckResult]) -> Text:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    fixable = sum(1 for r in rows if r.fix_id and r.status in ("warn", "fail"))
    # A fixed order (the one the list is sorted in, fail first) so the line reads the same on every host.
    order = ["fail", "warn", "pass", "n/a"]
    shown = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    text = Text("  ".join(f"{n} {s}" for s, n in shown), style="bold")
    if fixable:
        text.append(f"  ·  {fixable} with a fix f applies", style="green")
    return text


class ChecksScreen(VfioScreen):
    """Runs the checks in a thread worker; the rest of the app stays usable meanwhile."""

    CSS_PATH = "checks.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f", "fix", "Apply fix"),
        Binding("U", "undo_fix", "Undo fix", key_display="U"),
        Binding("r", "rerun", "Run again", show=False),
    ]

    def __init__(self, address: str | None = None) -> None:
        super().__init__()
        self.address = address
        """Check what passing this device would need too (None: host-wide checks only)."""
        self.rows: list[CheckResult] | None = None
        self.applied: dict[str, str] = {}
        """{check id: journal id} of the fixes applied from this screen (U undoes them, newest first)."""

    def compose(self) -> ComposeResult:
        from vfio_tui.tui.app import HEADER_ICON

        yield Header(icon=HEADER_ICON)
        scope = f" for {self.address}" if self.address else ""
        yield Static(Text(f"Prerequisite checks{scope}"), classes="section-title", id="checks-title")
        yield Static("", id="checks-summary", classes="status-line")
        yield LoadingIndicator(id="checks-loading")
        yield NavList(id="checks")
        yield KeyFooter()

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
        self.query_one(LoadingIndicator).display = False
        self.query_one("#checks-summary", Static).update(Text(text, style="red"))

    def _show_rows(self, rows: list[CheckResult]) -> None:
        keep = self._highlighted_id()
        self.rows = sorted(rows, key=lambda r: ORDER.get(r.status, 3))
        self.query_one(LoadingIndicator).display = False
        self.query_one("#checks-summary", Static).update(summary_text(rows))
        options = self.query_one(NavList)
        options.clear_options()
        options.add_options([Option(check_text(r), id=r.id) for r in self.rows])
        ids = [r.id for r in self.rows]
        options.highlighted = ids.index(keep) if keep in ids else 0
        # The check the user is on, at the top: after a fix, its new state is the first thing read.
        self.call_after_refresh(options.scroll_to_highlight, top=True)
        options.focus()

    def _highlighted_id(self) -> str | None:
        options = self.query_one(NavList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    def _highlighted(self) -> CheckResult | None:
        ident = self._highlighted_id()
        return next((r for r in self.rows or [] if r.id == ident), None)

    def action_fix(self) -> None:
        row = self._highlighted()
        if row is None:
            return
        if not row.fix_id or row.status not in ("warn", "fail"):
            why = "it passes" if row.status == "pass" else (f"its fix is not a file edit vfio-tui makes: {row.fix}"
                                                            if row.fix else "it has no fix")
            self.notify(printable(f"Nothing for f to apply on {row.id}: {why}"), severity="warning", timeout=8,
                        markup=False)
            return
        from vfio_tui.tui.modals.fix import FixModal

        self.app.push_screen(FixModal(self.vfio_app.backend, row.id, "apply"), self._fixed)

    def action_undo_fix(self) -> None:
        """U: undo the fix of the highlighted check if one was applied here, else the latest one."""
        row = self._highlighted()
        ident = (self.applied.get(row.id) if row is not None else None) or \
            (next(reversed(self.applied.values())) if self.applied else (row.id if row is not None else None))
        if ident is None:
            return
        from vfio_tui.tui.modals.fix import FixModal

        self.app.push_screen(FixModal(self.vfio_app.backend, ident, "undo"), self._undone)

    def _fixed(self, result: FixResult | None) -> None:
        if result is not None and result.journal_id:
            self.applied[result.check_id] = result.journal_id
            self._changed()

    def _undone(self, result: FixResult | None) -> None:
        if result is not None:
            self.applied = {c: j for c, j in self.applied.items() if j != result.journal_id}
            self._changed()

    def _changed(self) -> None:
        self.action_rerun()
        self.host_changed()
