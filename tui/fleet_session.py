"""Provides the app's calls for more than one host (typed, blocking: screens call them from thread
workers): the named hosts, the fleet read, and opening a named host to switch to."""

from __future__ import annotations

from collections.abc import Callable

from vfio_tui.core.fleet import HostSummary, read_fleet
from vfio_tui.core.host import Host
from vfio_tui.core.remote.hosts import HostEntry, load_hosts


def named_hosts() -> list[HostEntry]:
    """The hosts added with `vfio-tui hosts add`, in the order they were added."""
    return list(load_hosts().hosts.values())


def fleet(on_host: Callable[[HostSummary], None], timeout: float = 120.0) -> list[HostSummary]:
    """Every named host's summary (in parallel); `on_host` is called as each one answers."""
    return read_fleet(named_hosts(), timeout=timeout, on_host=on_host)


def open_named(name: str) -> Host:
    """The named host, fetched now (RemoteError / HostDataError when it cannot be read)."""
    from vfio_tui.core.open_host import remote_host

    return remote_host(load_hosts().get(name))[0]
