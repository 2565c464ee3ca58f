"""Provides the app's host switching (the hook VfioApp calls): choose a host, fetch it in a worker, and
start the app's screens again on it. The host the app was opened on stays open to come back to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from vfio_tui.tui.backend import Backend

if TYPE_CHECKING:
    from vfio_tui.tui.app import VfioApp


def choose_host(app: VfioApp) -> None:
    from vfio_tui.tui.fleet_session import named_hosts
    from vfio_tui.tui.modals.hosts import HOME, HostSwitchModal

    home = app.home_backend.host.label
    hosts = [(e.name, e.ssh_target) for e in named_hosts()]
    current = app.backend.host.remote if app.backend is not app.home_backend else None

    def picked(choice: str | None) -> None:
        if choice is None or choice == (current or HOME):
            return
        open_named_host(app, None if choice == HOME else choice)

    app.push_screen(HostSwitchModal(home, current, hosts), picked)


def open_named_host(app: VfioApp, name: str | None) -> None:
    if name is None:
        switch_to(app, app.home_backend)
        return
    app.notify(f"Reading {name} over ssh…", timeout=4)
    _fetch(app, name)


@work(thread=True, exclusive=True, group="switch-host", exit_on_error=False)
def _fetch(app: VfioApp, name: str) -> None:
    from vfio_tui.core.errors import VfioError
    from vfio_tui.tui.fleet_session import open_named

    try:
        host = open_named(name)
    except VfioError as exc:
        app.call_from_thread(app.notify, f"{name}: {exc}", severity="error", timeout=10)
        return
    app.call_from_thread(switch_to, app, Backend(host))


def switch_to(app: VfioApp, backend: Backend) -> None:
    """Every screen drew the old host: close it (unless it is the home host) and start from the tree."""
    from vfio_tui.tui.screens.devices import DevicesScreen

    old = app.backend
    if old is backend:
        return
    app.backend = backend
    app.sub_title = backend.host.label
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(DevicesScreen())
    if old is not app.home_backend:
        old.close()
        old.host.close()
    app.notify(f"Now on {backend.host.label}", timeout=4)
