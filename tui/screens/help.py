"""Provides HelpScreen (`?`): every screen, every key, and what vfio-tui will never do silently."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from vfio_tui.tui.rows import STATE_STYLE
from vfio_tui.tui.safe_text import SafeText as Text

NAVIGATION: tuple[tuple[str, str], ...] = (
    ("↑ ↓  k j", "move (lists stop at their ends; keys typed while a list loads are kept)"),
    ("→ l", "open a group; on an open one, go to its first row"),
    ("← h", "close a group; on a device, go to its group or bridge"),
    ("g G  Home End", "first / last row"),
    ("Enter Space", "open/close a group; pick the highlighted entry"),
    ("Tab", "next pane (the detail, the plan's folded part)"),
    ("Esc", "leave a text box first (a filter is cleared), then back"),
)
BADGES: tuple[tuple[str, str, str], ...] = (
    ("host-used", "bold red", "the host uses it (mount, swap, address, route, SSH, console, keyboard): blocked"),
    ("running in x", "bold blue", "VM x runs with it (its QEMU has it); d gives it back"),
    ("in VM x", "blue", "VM x has it in its definition (not running)"),
    ("vfio-pci", "bold green", "bound to vfio-pci"),
    ("N VFs", "red", "an SR-IOV PF with VFs enabled: vfio-pci refuses it"),
    ("boot VGA", "magenta", "the firmware's boot display"),
    ("chipset", "red", "a chipset device (host bridge, LPC/ISA bridge): never passed through"),
    ("ACS ✗", "red", "this port does not isolate what is below it (the group is shaped by it)"),
    ("ACS ✓", "green", "this port isolates what is below it"),
    ("ACS ?root", "yellow", "only root can read ACS (config space beyond 64 bytes)"),
    ("no reset", "red", "no way to reset it between VM runs"),
    ("FLR", "green", "function-level reset (the best one)"),
    ("bus reset", "yellow", "reset through its bus (also resets the rest of the slot)"),
    ("reset ?root", "yellow", "only root can read how it resets"),
    ("host use unknown", "yellow", "a recording without host-usage facts: plans need --assume-unused"),
)
STATES: tuple[tuple[str, str], ...] = (
    ("ready", "every endpoint on vfio-pci: add it to a VM and start it"),
    ("bindable", "nothing on the host needs it: p binds the whole group"),
    ("blocked", "the host uses a member, or a member cannot be passed: the detail says what and how to free it"),
    ("in VM", "a running VM has it"),
)


def _keys(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding):
            out.append((b.key_display or b.key, b.description or b.action))
    return out


def help_text() -> Text:
    from vfio_tui.tui.app import ACTIONS, VfioApp
    from vfio_tui.tui.screens.checks import ChecksScreen
    from vfio_tui.tui.screens.devices import DevicesScreen
    from vfio_tui.tui.screens.explain import ExplainScreen
    from vfio_tui.tui.screens.journal import JournalScreen
    from vfio_tui.tui.screens.run import RunScreen
    from vfio_tui.tui.screens.wizard import WizardScreen

    text = Text()
    text.append("vfio-tui: pass PCI devices through to VMs, safely\n\n", style="bold")
    text.append("Moving around\n", style="bold underline")
    for key, desc in NAVIGATION:
        text.append(f"  {key:>12}  ", style="bold cyan")
        text.append(f"{desc}\n")
    text.append("\n")
    text.append("Everywhere\n", style="bold underline")
    for key, desc in [*_keys(list(VfioApp.BINDINGS)), ("ctrl+p", "command palette (every action)")]:
        text.append(f"  {key:>12}  ", style="bold cyan")
        text.append(f"{desc}\n")
    screens: list[tuple[str, type[Screen[Any]]]] = [
        ("Devices (main screen)", DevicesScreen), ("Passthrough wizard", WizardScreen),
        ("Running a plan", RunScreen), ("Checks", ChecksScreen), ("Explain", ExplainScreen),
        ("Undo / journal", JournalScreen)]
    for title, screen in screens:
        text.append(f"\n{title}\n", style="bold underline")
        for key, desc in _keys(list(screen.BINDINGS)):
            text.append(f"  {key:>12}  ", style="bold cyan")
            text.append(f"{desc}\n")
    text.append("\nActions (also in the command palette)\n", style="bold underline")
    for _, title, desc in ACTIONS:
        text.append(f"  {title}: ", style="bold")
        text.append(f"{desc}\n")
    text.append("\nBadges (on rows; safety facts are never cut, informative ones give way first)\n",
                style="bold underline")
    for badge, style, meaning in BADGES:
        text.append(f"  [{badge}]", style=style)
        text.append(f"  {meaning}\n")
    text.append("\nGroup states\n", style="bold underline")
    for state, meaning in STATES:
        text.append(f"  {state:<9}", style=STATE_STYLE[state])
        text.append(f" {meaning}\n")
    text.append("\n\nNothing changes the host without a plan shown first and a confirm step;"
                " every change can be undone (u).\n")
    return text


class HelpScreen(ModalScreen[None]):
    """Keys and screens, generated from the bindings so it never goes stale."""

    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close"),
        Binding("j,down", "scroll_by(1)", "Down", show=False),
        Binding("k,up", "scroll_by(-1)", "Up", show=False),
        Binding("g,home", "scroll_to(False)", "Top", show=False),
        Binding("G,end", "scroll_to(True)", "Bottom", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(help_text(), id="help")

    def on_mount(self) -> None:
        self.query_one("#help-body").border_title = "Help (Esc closes; j/k scroll)"

    def action_scroll_by(self, lines: int) -> None:
        self.query_one("#help-body", VerticalScroll).scroll_relative(y=lines, animate=False)

    def action_scroll_to(self, bottom: bool) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        body.scroll_end(animate=False) if bottom else body.scroll_home(animate=False)
