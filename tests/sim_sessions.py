"""Reopening one simulated host the way each CLI command reopens it: (host, hypervisor) pairs on a
sim-host tree, every pair closed (the demo hypervisor's state saved) at the end. For the fixtures of
tests/passthrough and tests/gpu."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.libvirt.for_host import hypervisor_for
from vfio_tui.core.open_host import open_host

Session = Callable[[], tuple[Host, Hypervisor]]


def reopened_sessions(root: Path) -> Iterator[Session]:
    """A generator fixture body: yields session() -> (host, hypervisor) on `root`, closes them after."""
    opened: list[tuple[Host, Hypervisor]] = []

    def make() -> tuple[Host, Hypervisor]:
        host = open_host(HostOptions(root=root))
        hv = hypervisor_for(host)
        opened.append((host, hv))
        return host, hv

    yield make
    for host, hv in opened:
        hv.close()
        host.close()
