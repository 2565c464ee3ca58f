"""Provides domain_uses(): which PCI devices libvirt domains hold, as HostUse facts.

The binding guard (core.usage, core.binding) refuses to take a device another VM holds;
this is where that fact comes from when a hypervisor is reachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import HostUse

if TYPE_CHECKING:
    from vfio_tui.core.libvirt.connection import DomainInfo, Hypervisor


def domain_uses(hv: Hypervisor) -> dict[PciAddress, tuple[HostUse, ...]]:
    """{address: (HostUse(kind="domain", ...), ...)} for every PCI hostdev of every domain,
    <interface type='hostdev'> included (libvirt claims those VFs at start like any hostdev)."""
    out: dict[PciAddress, tuple[HostUse, ...]] = {}
    for address, infos in hv.hostdev_owners().items():
        out[address] = tuple(
            HostUse("domain", f"{_element_name(info, address)} of VM {info.name!r} ({info.state})",
                    fix=f"vfio-tui detach {address} {info.name}"
                        + (" (and stop the VM, or detach --live)" if info.active else ""))
            for info in infos)
    return out


def _element_name(info: DomainInfo, address: PciAddress) -> str:
    """<hostdev>, or <interface type='hostdev'> for an SR-IOV VF given as a NIC (the other
    definition, live or persistent, may say otherwise; the one read wins)."""
    for hostdev in info.details:
        if hostdev.address == address:
            return hostdev.element_name
    return "<hostdev>"
