"""libvirt integration: domains, <hostdev> XML, attach/detach, start with progress, watch.

Modules: `xml` (Hostdev <-> lxml, DomainXml edited in place), `policy` (which functions, where
in the guest), `connection` (open_hypervisor, Hypervisor, DomainInfo), `attach` (plan_attach,
apply_attach, detach), `start` (start_domain), `failure` (FailureRecord), `watch`.
libvirt-python itself is imported only inside functions.
"""

from __future__ import annotations

from collections.abc import Iterable

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import PlanRefusedError
from vfio_tui.core.libvirt.attach import AttachPlan, AttachResult, Problem, apply_attach, detach, plan_attach
from vfio_tui.core.libvirt.connection import DEFAULT_URI, DomainInfo, Hypervisor, demo_uri, open_hypervisor
from vfio_tui.core.libvirt.errors import ConnectError, LibvirtError, UnknownDomainError
from vfio_tui.core.libvirt.failure import FailureRecord, collect_failure, load_failure, save_failure
from vfio_tui.core.libvirt.for_host import (
    NoHypervisorError,
    describe_hypervisor,
    domain_facts,
    domain_holds,
    hypervisor_for,
)
from vfio_tui.core.libvirt.policy import PLACEHOLDER_SLOT, build_hostdevs
from vfio_tui.core.libvirt.start import StartResult, start_domain
from vfio_tui.core.libvirt.usage import domain_uses
from vfio_tui.core.libvirt.watch import WatchResult, enable_events, watch_domain
from vfio_tui.core.libvirt.xml import GuestAddress, Hostdev, hostdev_text
from vfio_tui.core.steps import StepEvent, format_step

__all__ = [
    "DEFAULT_URI",
    "AttachPlan",
    "AttachResult",
    "ConnectError",
    "DomainInfo",
    "FailureRecord",
    "GuestAddress",
    "Hostdev",
    "Hypervisor",
    "LibvirtError",
    "NoHypervisorError",
    "PlanRefusedError",
    "Problem",
    "StartResult",
    "StepEvent",
    "UnknownDomainError",
    "WatchResult",
    "apply_attach",
    "collect_failure",
    "demo_uri",
    "describe_hypervisor",
    "detach",
    "domain_facts",
    "domain_holds",
    "domain_uses",
    "enable_events",
    "format_step",
    "hostdev_xml",
    "hypervisor_for",
    "load_failure",
    "open_hypervisor",
    "plan_attach",
    "save_failure",
    "start_domain",
    "watch_domain",
]


def hostdev_xml(addresses: Iterable[PciAddress | str], *, managed: bool = True, rom_bar: bool | None = None,
                guest_slot: tuple[int, int] | None = None) -> str:
    """The <hostdev> element(s) for `addresses`.

    Several functions of one physical slot get guest addresses on one guest slot with the
    host's function numbers (multifunction='on' on the first); `guest_slot` (bus, slot)
    says where, default bus 0 slot 0x10. A single function gets no guest address.
    """
    addrs = [a if isinstance(a, PciAddress) else PciAddress.parse(a) for a in addresses]
    hostdevs, _ = build_hostdevs(addrs, managed=managed, rom_bar=rom_bar)
    if guest_slot is not None and guest_slot != PLACEHOLDER_SLOT:
        bus, slot = guest_slot
        hostdevs = [h if h.guest is None else Hostdev(
            h.address, managed=h.managed, driver=h.driver, rom_bar=h.rom_bar,
            guest=GuestAddress(0, bus, slot, h.guest.function, h.guest.multifunction)) for h in hostdevs]
    return "".join(hostdev_text(h) for h in hostdevs)
