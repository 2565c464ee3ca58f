"""Provides hypervisor_for(): the one rule for which libvirt goes with a host, and the domain facts
(which VM holds which device) that plans and guards take from it.

- `--connect URI` given: that URI, for any host.
- The demo (--demo) and a `vfio-tui sim-host` tree: the demo hypervisor (libvirt's test driver
  with the demo's VMs), kept in the tree's state dir for a sim-host tree so that a change made by
  one command (or the app) is seen by the next.
- The live machine: qemu:///system.
- A named remote host (--on NAME): libvirt's own remote transport, qemu+ssh://DEST/system (a
  remote sim-host tree or demo has none: its own vfio-tui reads its VMs).
- A recorded host (--host-snapshot) or a plain tree (--root DIR not made by sim-host): none. Their
  VMs were not recorded and are not this machine's, so they never fall back to this machine's
  libvirtd (nor to the demo's VMs); --connect names one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.connection import Hypervisor, demo_xml_named, open_hypervisor
from vfio_tui.core.libvirt.demo import demo_state_file
from vfio_tui.core.model import DomainFacts, DomainHold, DomainHolds

if TYPE_CHECKING:
    from vfio_tui.core.host import Host


class NoHypervisorError(InputError):
    """The host has no libvirt that goes with it (a plain tree) and none was named."""


def hypervisor_for(host: Host, uri: str | None = None, *, events: bool = False) -> Hypervisor:
    """Open the libvirt connection whose VMs are `host`'s (see the module docstring).

    Raises:
        NoHypervisorError: a plain host tree and no `uri`.
        InputError: a malformed URI.
        ConnectError: libvirt could not connect.
    """
    if uri is None and host.libvirt_uri is not None:
        uri = host.libvirt_uri
    if uri is not None:
        return open_hypervisor(uri, events=events)
    if host.kind == "demo" or (host.kind == "root" and host.simulated):
        hv = open_hypervisor(None, demo=True, events=events, state_file=demo_state_file(host),
                             demo_xml=demo_xml_named(host.extras.get("libvirt_demo")))
        _sync_running(host, hv)
        return hv
    if host.kind == "live":
        return open_hypervisor(None, events=events)
    if host.remote is not None:
        raise NoHypervisorError(f"{host.label} has no libvirt reachable from here (a host tree or demo there)",
                                fix=f"its own vfio-tui reads its VMs: `vfio-tui vms --on {host.remote}`")
    what = "a recorded host's VMs were not recorded" if host.kind == "snapshot" else "its VMs are not this machine's"
    raise NoHypervisorError(f"{host.label} has no libvirt: {what}",
                            fix="name one with --connect URI (e.g. qemu+ssh://root@thathost/system)")


def describe_hypervisor(host: Host, uri: str | None = None) -> str:
    """Which libvirt hypervisor_for() picks, in words (for headers and errors)."""
    if uri is not None or host.libvirt_uri is not None:
        return uri or str(host.libvirt_uri)
    if host.kind == "demo" or (host.kind == "root" and host.simulated):
        return "the demo VMs (libvirt's test driver)"
    return "qemu:///system" if host.kind == "live" else "none (give --connect URI)"


def domain_holds(hv: Hypervisor) -> DomainHolds:
    """{address: the domains that have it in their persistent or live definition}."""
    return {address: tuple(DomainHold(i.name, i.state, i.active, address in i.live_hostdevs) for i in infos)
            for address, infos in hv.hostdev_owners().items()}


def domain_facts(hv: Hypervisor) -> DomainFacts:
    """The domain facts of `hv`, read when a plan or a guard asks."""
    return lambda: domain_holds(hv)


def domain_facts_for(host: Host, uri: str | None = None) -> DomainFacts:
    """Domain facts read from the hypervisor that goes with `host`, connected only when asked (and
    closed again); when it cannot be reached the call raises and the asker goes on without them."""

    def ask() -> DomainHolds:
        with hypervisor_for(host, uri) as hv:
            return domain_holds(hv)

    return ask


def _sync_running(host: Host, hv: Hypervisor) -> None:
    """The demo's running VMs hold their devices on the simulated host, as QEMU does on a real one."""
    from vfio_tui.core.simulated.qemu import domain_running

    for info in hv.list_domains():
        if info.active and info.live_hostdevs:
            domain_running(host, info.name, hv.xml(info.name, inactive=False))
