"""Provides VfioApp, make_app() and run_app(): the Textual app over one host."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from core.textsafe import printable
from tui.backend import Backend, HypervisorFactory

if TYPE_CHECKING:
    from core.host import Host, HostOptions

HEADER_ICON = "≡"
"""Textual's default icon (U+2B58) has no glyph in DejaVu Sans Mono, the usual SSH/console font."""

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("devices", "Devices", "The IOMMU group tree with drivers, ACS, reset and verdicts"),
    ("passthrough", "Pass a device through", "Plan, confirm and run bind → verify → attach → start"),
    ("checks", "Run checks", "Every passthrough prerequisite with evidence and fix"),
    ("explain", "Explain a failure", "Paste or load a log, or pick a VM whose start failed"),
    ("journal", "Undo / journal", "What vfio-tui changed on this host, and restore it"),
    ("fleet", "Fleet", "Every named host: IOMMU state, free devices by class, VMs, failing checks"),
    ("hosts", "Switch host", "Work on another named host (vfio-tui hosts add), or back on this one"),
    ("help", "Help", "Every key and screen"),
)
"""Every action the app offers: the command palette and the help screen list these."""


class VfioApp(App[int]):
    """vfio-tui: see which devices can be passed through, and pass them through safely."""

    CSS_PATH = "app.tcss"
    TITLE = "vfio-tui"
    BINDINGS = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("c", "checks", "Checks"),
        Binding("x", "explain", "Explain"),
        Binding("u", "journal", "Undo"),
        Binding("F", "fleet", "Fleet", key_display="F", show=False),
        Binding("H", "hosts", "Hosts", key_display="H", show=False),
        Binding("q", "quit", "Quit"),
    ]
    """Keys that work on every screen (screens add their own)."""

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self.backend = backend
        """Every call into core goes through this (in thread workers)."""
        self.home_backend = backend
        """The host the app was opened on (the host switcher goes back to it; run_app closes it)."""
        self.sub_title = printable(backend.host.label, newlines=False)

    def on_mount(self) -> None:
        from tui.screens.devices import DevicesScreen

        self.push_screen(DevicesScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action, title, help_text in ACTIONS:
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a))

    def _push_once(self, screen_type: type[Screen[Any]], make: Any) -> None:
        if isinstance(self.screen, screen_type):
            return
        self.push_screen(make())

    def action_devices(self) -> None:
        from tui.screens.devices import DevicesScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, DevicesScreen):
            self.pop_screen()

    def action_passthrough(self) -> None:
        from tui.screens.devices import DevicesScreen

        self.action_devices()
        if isinstance(self.screen, DevicesScreen):
            self.screen.action_passthrough()

    def action_checks(self, address: str | None = None) -> None:
        from tui.screens.checks import ChecksScreen

        self._push_once(ChecksScreen, lambda: ChecksScreen(address))

    def action_explain(self) -> None:
        from tui.screens.explain import ExplainScreen

        self._push_once(ExplainScreen, ExplainScreen)

    def action_journal(self) -> None:
        from tui.screens.journal import JournalScreen

        self._push_once(JournalScreen, JournalScreen)

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self._push_once(HelpScreen, HelpScreen)

    # -- more than one host (tui/fleet_hooks.py) -------------------------------------------------------
    def action_fleet(self) -> None:
        from tui.screens.fleet import FleetScreen

        self._push_once(FleetScreen, FleetScreen)

    def action_hosts(self) -> None:
        from tui.fleet_hooks import choose_host

        choose_host(self)

    def open_named_host(self, name: str | None) -> None:
        """Work on the named host (None: the one the app was opened on); fetched in a worker."""
        from tui.fleet_hooks import open_named_host

        open_named_host(self, name)


def make_app(host: Host, *, hypervisor_factory: HypervisorFactory | None = None) -> VfioApp:
    """The app over a host; the hypervisor is core's pairing (hypervisor_for) unless given (tests)."""
    return VfioApp(Backend(host, hypervisor_factory))


def run_app(options: HostOptions, args: argparse.Namespace | None = None) -> int:
    """Open the host the options name and run the app until the user quits."""
    from core.open_host import open_host

    with open_host(options) as host:
        app = make_app(host)
        try:
            result = app.run()
        finally:
            app.backend.close()
            if app.backend is not app.home_backend:  # switched to a named host: its temp copy too
                app.home_backend.close()
                app.backend.host.close()
    return int(result or 0)
