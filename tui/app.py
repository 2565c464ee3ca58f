"""Provides VfioApp, make_app() and run_app(): the Textual app over one host."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from vfio_tui.core.textsafe import printable
from vfio_tui.tui.backend import Backend, HostView, HypervisorFactory
from vfio_tui.tui.messages import HostStateChanged
from vfio_tui.tui.screen_base import ChangesHost

if TYPE_CHECKING:
    from vfio_tui.core.host import Host, HostOptions

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

SIXTEEN_COLOURS = ("standard", "windows")
"""Rich's names for a 16-colour terminal (TERM=xterm, the Linux console)."""


class VfioApp(App[int]):
    """vfio-tui: see which devices can be passed through, and pass them through safely."""

    CSS_PATH = "app.tcss"
    TITLE = "vfio-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-normal"), (160, "-wide")]
    """Screens lay out by width: below 100 columns (80×24 over SSH) the detail goes under the tree."""
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

    def __init__(self, backend: Backend, *, ansi: bool | None = None) -> None:
        # NO_COLOR: Textual greys every colour out (its Monochrome filter), which drew red safety text
        # dark grey on dark grey; with the terminal's own colours it drops them instead (NoColor), and
        # app.tcss marks cursors with reverse video, so nothing needs a colour to be read.
        no_color = "NO_COLOR" in os.environ
        super().__init__(ansi_color=True if no_color else None)
        if no_color:
            self.add_class("-no-color")
        self.backend = backend
        """Every call into core goes through this (in thread workers)."""
        self.home_backend = backend
        """The host the app was opened on (the host switcher goes back to it; run_app closes it)."""
        self.sub_title = printable(backend.host.label, newlines=False)
        self.host_view: HostView | None = None
        """The latest read of the host (what every screen draws from)."""
        self._ansi = ansi

    def on_mount(self) -> None:
        from vfio_tui.tui.screens.devices import DevicesScreen

        ansi = self.console.color_system in SIXTEEN_COLOURS if self._ansi is None else self._ansi
        if ansi:
            # Textual's own theme maps its colours into 16 by distance, which drew "bindable" bright
            # red and "blocked" magenta; the ANSI theme uses the terminal's own palette instead.
            self.theme = "ansi-dark"
        self.push_screen(DevicesScreen())
        self.refresh_host()

    # -- the one host-state change event -------------------------------------------------------------
    def refresh_host(self) -> None:
        """Read the host again and tell every screen (after any run, undo, restore, fix or reload)."""
        self.read_host()

    @work(thread=True, exclusive=True, group="host", exit_on_error=False, description="Reading the host")
    def read_host(self) -> None:
        inventory = self.backend.inventory()
        if self.host_view is None:
            # The first paint does not wait for libvirt: the tree shows, then the VMs fill in.
            self.call_from_thread(self._publish, _with_states(HostView(inventory, {}, "reading the VMs…")))
        self.call_from_thread(self._publish, _with_states(self.backend.read_view(inventory)))

    def _publish(self, view: HostView | None, error: str = "") -> None:
        if view is not None:
            self.host_view = view
        for screen in self.screen_stack:
            screen.post_message(HostStateChanged(view, error))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.group == "host":
            self._publish(None, f"{event.worker.description} failed: {event.worker.error}")

    # -- palette and global keys ---------------------------------------------------------------------
    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for action, title, help_text in ACTIONS:
            yield SystemCommand(title, help_text, lambda a=action: self.run_action(a))

    def _push_once(self, screen_type: type[Screen[Any]], make: Any) -> None:
        if isinstance(self.screen, screen_type):
            return
        self.push_screen(make())

    def action_devices(self) -> None:
        from vfio_tui.tui.screens.devices import DevicesScreen

        while len(self.screen_stack) > 2 and not isinstance(self.screen, DevicesScreen):
            self.pop_screen()

    def action_passthrough(self) -> None:
        from vfio_tui.tui.screens.devices import DevicesScreen

        if isinstance(self.screen, DevicesScreen):
            self.screen.action_passthrough()
            return
        # From another screen the tree's cursor is not a choice the user just made (it may sit on
        # the host bridge): go back to the tree and let them pick.
        self.action_devices()
        self.notify("Highlight the device to pass through, then press p.")

    def action_checks(self, address: str | None = None) -> None:
        from vfio_tui.tui.screens.checks import ChecksScreen

        self._push_once(ChecksScreen, lambda: ChecksScreen(address))

    def action_explain(self) -> None:
        from vfio_tui.tui.screens.explain import ExplainScreen

        self._push_once(ExplainScreen, ExplainScreen)

    def action_journal(self) -> None:
        from vfio_tui.tui.screens.journal import JournalScreen

        self._push_once(JournalScreen, JournalScreen)

    def action_help(self) -> None:
        from vfio_tui.tui.screens.help import HelpScreen

        self._push_once(HelpScreen, HelpScreen)

    # -- more than one host (tui/fleet_hooks.py) -------------------------------------------------------
    def action_fleet(self) -> None:
        from vfio_tui.tui.screens.fleet import FleetScreen

        self._push_once(FleetScreen, FleetScreen)

    def action_hosts(self) -> None:
        from vfio_tui.tui.fleet_hooks import choose_host

        choose_host(self)

    def open_named_host(self, name: str | None) -> None:
        """Work on the named host (None: the one the app was opened on); fetched in a worker."""
        from vfio_tui.tui.fleet_hooks import open_named_host

        open_named_host(self, name)

    async def action_quit(self) -> None:
        """Quit — but first ask when something is changing the host, or this session changed it."""
        from vfio_tui.tui.modals.confirm import ConfirmModal

        if isinstance(self.screen, ConfirmModal):
            return
        busy = [b for s in self.screen_stack if isinstance(s, ChangesHost) and (b := s.busy())]
        if busy:
            lines = [*busy, "", "Quitting now stops it half-way; the next vfio-tui command finds it and names",
                     "the command that takes it back (vfio-tui undo)."]
            self.push_screen(ConfirmModal("Quit while the host is being changed?", lines, yes="Quit anyway"),
                             self._quit_confirmed)
        elif self.backend.session_log:
            lines = ["This session changed the host:", *(f"  {line}" for line in self.backend.session_log), "",
                     "The changes stay after you quit. u (the journal) or `vfio-tui undo` takes a run back."]
            self.push_screen(ConfirmModal("Quit vfio-tui?", lines, yes="Quit"), self._quit_confirmed)
        else:
            self.exit(0)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.exit(0)


def _with_states(view: HostView) -> HostView:
    from dataclasses import replace

    from vfio_tui.tui.rows import group_state

    inv = view.inventory
    return replace(view, states={gid: group_state(inv, gid, view.holds) for gid in inv.groups})


def make_app(host: Host, *, hypervisor_factory: HypervisorFactory | None = None,
             ansi: bool | None = None) -> VfioApp:
    """The app over a host; the hypervisor is core's pairing (hypervisor_for) unless given (tests).

    ansi: use the terminal's 16 ANSI colours (None: when the terminal has no more).
    """
    return VfioApp(Backend(host, hypervisor_factory), ansi=ansi)


def run_app(options: HostOptions, args: argparse.Namespace | None = None) -> int:
    """Open the host the options name and run the app until the user quits."""
    from vfio_tui.core.open_host import open_host

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
