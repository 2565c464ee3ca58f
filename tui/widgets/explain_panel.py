"""Provides ExplainPanel: probable cause, evidence, fix and check result of a failure."""

from __future__ import annotations

from textual.widgets import Static

from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.tui.safe_text import SafeText as Text


def explanation_text(report: ExplainReport | None, note: str = "") -> Text:
    text = Text()
    if note:
        text.append(f"{note}\n", style="yellow")
    if report is None:
        return text
    if not report.findings:
        text.append("No known cause matched. ", style="bold yellow")
        text.append("The relevant lines are below; `vfio-tui check` may show what is missing.\n")
    for i, f in enumerate(report.findings, 1):
        text.append(f"{i}. {f.title}\n", style="bold red")
        if f.explanation:
            text.append(f"{f.explanation.strip()}\n")
        if f.evidence:
            text.append("Evidence\n", style="bold underline")
            for line in f.evidence:
                text.append(f"  {line}\n", style="dim")
        if f.fix:
            text.append("Fix: ", style="bold green")
            text.append(f"{f.fix.strip()}\n")
        if f.check is not None:
            text.append("Check on this host: ", style="bold")
            text.append(f"{f.check.status}: {f.check.summary}\n")
        text.append("\n")
    if report.relevant_lines and not report.findings:
        text.append("Relevant lines\n", style="bold underline")
        for line in report.relevant_lines[-12:]:
            text.append(f"  {line}\n", style="dim")
    return text


class ExplainPanel(Static):
    """Shows an explanation (attributes down: call show())."""

    DEFAULT_CSS = """
    ExplainPanel { height: auto; padding: 0 1; }
    """

    def show(self, report: ExplainReport | None, note: str = "") -> None:
        self.update(explanation_text(report, note))
