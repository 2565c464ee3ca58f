"""Provides ExplainPanel: probable cause, evidence, fix and check result of a failure."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.views import ExplainView


def explanation_text(view: ExplainView) -> Text:
    text = Text()
    if view.note:
        text.append(f"{view.note}\n", style="yellow")
    if not view.findings:
        text.append("No known cause matched. ", style="bold yellow")
        text.append("The relevant lines are below; `vfio-tui check` may show what is missing.\n")
    for i, f in enumerate(view.findings, 1):
        text.append(f"{i}. {f.title}\n", style="bold red")
        if f.explanation:
            text.append(f"{f.explanation}\n")
        if f.evidence:
            text.append("Evidence\n", style="bold underline")
            for line in f.evidence:
                text.append(f"  {line}\n", style="dim")
        if f.fix:
            text.append("Fix: ", style="bold green")
            text.append(f"{f.fix}\n")
        if f.check:
            text.append("Check on this host: ", style="bold")
            text.append(f"{f.check}\n")
        text.append("\n")
    if view.lines:
        text.append("Relevant lines\n", style="bold underline")
        for line in view.lines[-12:]:
            text.append(f"  {line}\n", style="dim")
    return text


class ExplainPanel(Static):
    """Shows an ExplainView (attributes down: call show())."""

    DEFAULT_CSS = """
    ExplainPanel { height: auto; padding: 0 1; }
    """

    def show(self, view: ExplainView) -> None:
        self.update(explanation_text(view))
