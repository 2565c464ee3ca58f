"""Provides what undo needs from libvirt: stop a VM (ACPI shutdown, wait, destroy only when asked),
hot-unplug hostdevs and wait until the guest lets go, and take hostdevs (and the controllers added
for them) out of a definition.

A guest that never acknowledges the ACPI unplug keeps the device: libvirt leaves it in the live
definition until the guest does (qemuDomainDetachDeviceLive waits for DEVICE_DELETED). Both waits
end with a clear error after their timeout instead of hanging.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.libvirt.errors import VIR_ERR_NO_SUPPORT, error_fields, operation_error
from vfio_tui.core.libvirt.xml import DomainXml, element_text
from vfio_tui.core.steps import StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor

SHUTDOWN_TIMEOUT: Final = 60.0
UNPLUG_TIMEOUT: Final = 30.0
_POLL: Final = 0.2


class VmStillRunningError(VfioError):
    """The VM did not shut down in time (and destroying it was not allowed)."""


class UnplugTimeoutError(VfioError):
    """The guest did not acknowledge the hot-unplug in time: the device is still in the VM."""


def _no_support(hv: Hypervisor, exc: BaseException) -> bool:
    return isinstance(exc, hv.libvirt.libvirtError) and error_fields(exc)[0] == VIR_ERR_NO_SUPPORT


def notify_simulation_stopped(hv: Hypervisor, host: Host | None, vm: str, xml: str) -> None:
    """Tell the simulated host that the demo's QEMU for `vm` is gone (managed devices go back, the
    group is closed), as libvirt and the kernel do on a real host when a VM stops."""
    hv.save_state()
    if host is not None and hv.demo and host.simulated:
        from vfio_tui.core.simulated.qemu import domain_stopped

        domain_stopped(host, vm, xml)


def stop_domain(hv: Hypervisor, vm: str, rep: StepReporter, *, host: Host | None = None, force: bool = False,
                timeout: float = SHUTDOWN_TIMEOUT) -> None:
    """Shut `vm` down (ACPI), wait until it is off; destroy it after `timeout` only with force.

    Raises:
        VmStillRunningError: still running after `timeout` and not force.
    """
    lv = hv.libvirt
    dom = hv.lookup(vm)
    if not dom.isActive():
        return
    live_xml = hv.xml(dom, inactive=False)
    with rep.step(f"shut down {vm} (ACPI power button)"):
        try:
            dom.shutdown()
        except lv.libvirtError as exc:
            raise operation_error(f"shutting down {vm}", exc) from None
    with rep.step(f"wait until {vm} is off (up to {timeout:g} s)"):
        deadline = time.monotonic() + timeout
        while dom.isActive() and time.monotonic() < deadline:
            time.sleep(_POLL)
        if dom.isActive() and not force:
            raise VmStillRunningError(f"{vm} did not shut down within {timeout:g} s (its guest may ignore ACPI)",
                                      fix="shut it down from inside the guest, or add --force to power it off"
                                          " (virsh destroy: unsaved guest data is lost)")
    if dom.isActive():
        with rep.step(f"power off {vm} (virsh destroy: --force)"):
            try:
                dom.destroy()
            except lv.libvirtError as exc:
                raise operation_error(f"destroying {vm}", exc) from None
    notify_simulation_stopped(hv, host, vm, live_xml)


def unplug_live(hv: Hypervisor, vm: str, addresses: Iterable[PciAddress], rep: StepReporter, *,
                host: Host | None = None, timeout: float = UNPLUG_TIMEOUT) -> None:
    """Hot-unplug the hostdevs of `addresses` from running `vm` and wait until the guest lets go.

    Raises:
        VfioError: the hypervisor cannot hot-unplug (libvirt's test driver), or libvirt refused.
        UnplugTimeoutError: the guest did not release them within `timeout`.
    """
    lv = hv.libvirt
    dom = hv.lookup(vm)
    wanted = set(addresses)
    live = DomainXml(hv.xml(dom, inactive=False))
    managed = [h.address for h in live.hostdevs() if h.address in wanted and h.managed]
    for a in sorted(wanted):
        element = live.find_hostdev(a)
        if element is None:
            continue
        name = f"hot-unplug {a} from {vm}"
        with rep.step(name, address=str(a)):
            try:
                dom.detachDeviceFlags(element_text(element), lv.VIR_DOMAIN_AFFECT_LIVE)
            except lv.libvirtError as exc:
                fix = ("this hypervisor cannot hot-unplug (libvirt's test driver); undo with --stop-vm instead"
                       if _no_support(hv, exc) else "undo with --stop-vm instead")
                raise operation_error(name, exc, fix=fix) from None
    with rep.step(f"wait until {vm}'s guest releases {', '.join(map(str, sorted(wanted)))} (up to {timeout:g} s)"):
        deadline = time.monotonic() + timeout
        left = wanted
        while True:
            left = {h.address for h in DomainXml(hv.xml(dom, inactive=False)).hostdevs()} & wanted
            if not left or time.monotonic() >= deadline or not dom.isActive():
                break
            time.sleep(_POLL)
        if not left and host is not None and hv.demo and host.simulated:
            # QEMU closed the devices (and their groups' fds): the simulated host sees that too.
            from vfio_tui.core.simulated.qemu import devices_unplugged

            devices_unplugged(host, vm, sorted(wanted), managed)
        if left and dom.isActive():
            raise UnplugTimeoutError(
                f"{vm}'s guest has not released {', '.join(map(str, sorted(left)))} within {timeout:g} s: the guest"
                " must acknowledge the ACPI unplug, and libvirt keeps the device until it does",
                fix="undo with --stop-vm (shuts the VM down first)")


def remove_from_definition(hv: Hypervisor, vm: str, addresses: Iterable[PciAddress], controllers: Iterable[int],
                           rep: StepReporter) -> list[PciAddress]:
    """Take the hostdevs of `addresses` (and the root ports of `controllers` left empty) out of
    `vm`'s persistent definition. Returns the addresses that were there."""
    dom = hv.lookup(vm)
    domain = DomainXml(hv.xml(dom, inactive=True))
    present = [a for a in sorted(set(addresses)) if domain.find_hostdev(a) is not None]
    if not present and not controllers:
        return []
    with rep.step(f"remove {', '.join(map(str, present)) or 'the added controllers'} from {vm}'s definition"):
        for a in present:
            domain.remove_hostdev(a)
        for index in sorted(controllers, reverse=True):  # a bridge behind a bridge goes first
            try:
                domain.remove_controller(index)
            except InputError:
                pass  # something else was put on that bus since: the controller stays with it
        hv.define(domain.to_string())
        hv.save_state()
    return present


def domain_state(hv: Hypervisor, vm: str) -> tuple[bool, set[PciAddress], set[PciAddress]]:
    """(running, hostdevs in the persistent definition, hostdevs in the live definition)."""
    dom: Any = hv.lookup(vm)
    active = bool(dom.isActive())
    config = {h.address for h in DomainXml(hv.xml(dom, inactive=True)).hostdevs()} if dom.isPersistent() else set()
    live = {h.address for h in DomainXml(hv.xml(dom, inactive=False)).hostdevs()} if active else set()
    return active, config, live
