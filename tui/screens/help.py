"""Provides HelpScreen (`?`): every screen, every key, and what vfio-tui will never do silently."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.safe_text import SafeText as Text


def _keys(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            out.append((b.key_display or b.key, b.description or b.action))
    return out


def help_text() -> Text:
    from tui.app import ACTIONS, VfioApp
    from tui.screens.checks import ChecksScreen
    from tui.screens.devices import DevicesScreen
    from tui.screens.explain import ExplainScreen
    from tui.screens.journal import JournalScreen
    from tui.screens.run import RunScreen
    from tui.screens.wizard import WizardScreen

    text = Text()
    text.append("vfio-tui: pass PCI devices through to VMs, safely\n\n", style="bold")
    text.append("Everywhere\n", style="bold underline")
    for key, desc in [*_keys(list(VfioApp.BINDINGS)), ("ctrl+p", "command palette (every action)")]:
        text.append(f"  {key:>8}  ", style="bold cyan")
        text.append(f"{desc}\n")
    screens: list[tuple[str, type[Screen[Any]]]] = [
        ("Devices (main screen)", DevicesScreen), ("Passthrough wizard", WizardScreen),
        ("Running a plan", RunScreen), ("Checks", ChecksScreen), ("Explain", ExplainScreen),
        ("Undo / journal", JournalScreen)]
    for title, screen in screens:
        text.append(f"\n{title}\n", style="bold underline")
        for key, desc in _keys(list(screen.BINDINGS)):
            text.append(f"  {key:>8}  ", style="bold cyan")
            text.append(f"{desc}\n")
    text.append("\nActions (also in the command palette)\n", style="bold underline")
    for _, title, desc in ACTIONS:
        text.append(f"  {title}: ", style="bold")
        text.append(f"{desc}\n")
    text.append("\nBadges\n", style="bold underline")
    for badge, meaning in [("ACS ✓/✗", "the port isolates what is below it / does not"),
                           ("ACS ?root", "only root can read ACS (config space beyond 64 bytes)"),
                           ("FLR / bus reset / no reset", "how the device can be reset between VM runs"),
                           ("host-used", "the host uses it (disk, route, console…): blocked"),
                           ("vfio-pci", "already bound to vfio-pci"), ("in VM x", "VM x has it as a hostdev")]:
        text.append(f"  {badge}: ", style="bold")
        text.append(f"{meaning}\n")
    text.append("\nGroup colours: ", style="bold")
    text.append("ready", style="bold green")
    text.append(" (all on vfio-pci) · ")
    text.append("bindable", style="bold yellow")
    text.append(" · ")
    text.append("blocked", style="bold red")
    text.append("\n\nNothing changes the host without a plan shown first and a confirm step;"
                " every change can be undone (u).\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Keys and screens, generated from the bindings so it never goes stale."""

    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(help_text(), id="help")

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "Help (Esc closes)"
