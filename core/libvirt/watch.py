"""Provides watch_domain(): wait for a VM to stop (libvirt lifecycle events) and give its
devices back to the host.

libvirt hands managed='yes' devices back itself when the domain stops; what is left on
vfio-pci afterwards (managed='no' devices bound by vfio-tui, or a device whose live detach
the guest never completed, lab step 5) is restored through the binding engine's journal.
Events need libvirt's default event loop, registered before the connection is opened
(open_hypervisor(..., events=True)) and run in a daemon thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor

#: virDomainEventType -> name (include/libvirt/libvirt-domain.h).
EVENT_NAMES: Final = {0: "defined", 1: "undefined", 2: "started", 3: "suspended", 4: "resumed", 5: "stopped",
                      6: "shutdown", 7: "pmsuspended", 8: "crashed"}
VIR_DOMAIN_EVENT_STOPPED: Final = 5

_loop_lock = threading.Lock()
_loop_started = False

Restorer = Callable[["Host", Sequence[PciAddress]], object]


def enable_events() -> None:
    """Register libvirt's default event loop and run it in a daemon thread (once per process)."""
    global _loop_started
    from vfio_tui.core.libvirt.connection import import_libvirt

    with _loop_lock:
        if _loop_started:
            return
        lv = import_libvirt()
        lv.virEventRegisterDefaultImpl()

        def run() -> None:
            while True:
                lv.virEventRunDefaultImpl()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        _loop_started = True


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """A lifecycle event of the watched VM."""

    vm: str
    event: str
    detail: int


@dataclass
class WatchResult:
    stopped: bool
    restored: list[PciAddress] = field(default_factory=list)
    message: str = ""
    events: list[WatchEvent] = field(default_factory=list)


def binding_restore(host: Host, addresses: Sequence[PciAddress]) -> object:
    """The binding engine's restore (imported late: it is a separate part of vfio-tui)."""
    from vfio_tui.core import binding  # type: ignore[attr-defined,unused-ignore]

    return binding.restore(host, list(addresses))


def watch_domain(hv: Hypervisor, vm: str, host: Host, *, restore: Restorer | None = binding_restore,
                 on_event: Callable[[WatchEvent], None] | None = None, timeout: float | None = None,
                 ready: threading.Event | None = None) -> WatchResult:
    """Block until `vm` stops (or `timeout` seconds pass), then restore what is left on vfio-pci.

    `ready` is set once the event callback is registered (for callers that stop the VM).
    """
    from vfio_tui.core.libvirt.xml import DomainXml

    lv = hv.libvirt
    dom = hv.lookup(vm)
    xmls = [hv.xml(dom, inactive=True)] + ([hv.xml(dom, inactive=False)] if dom.isActive() else [])
    addresses = sorted({h.address for x in xmls for h in DomainXml(x).hostdevs()})
    result = WatchResult(stopped=False)
    stopped = threading.Event()

    def callback(_conn: Any, d: Any, event: int, detail: int, _opaque: Any) -> None:
        ev = WatchEvent(str(d.name()), EVENT_NAMES.get(event, str(event)), detail)
        result.events.append(ev)
        if on_event is not None:
            on_event(ev)
        if event == VIR_DOMAIN_EVENT_STOPPED:
            stopped.set()

    try:
        callback_id = hv.conn.domainEventRegisterAny(dom, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, None)
    except lv.libvirtError as exc:
        from vfio_tui.core.libvirt.errors import operation_error

        raise operation_error(f"watching {vm}", exc, fix="open the connection with events enabled") from None
    try:
        if ready is not None:
            ready.set()
        result.stopped = stopped.wait(timeout)
    finally:
        try:
            hv.conn.domainEventDeregisterAny(callback_id)
        except lv.libvirtError:
            pass
    if not result.stopped:
        result.message = f"{vm} did not stop within {timeout:g} s" if timeout else f"{vm} did not stop"
        return result
    inv = host.inventory()
    left = [a for a in addresses if (d := inv.device(a)) is not None and d.on_vfio]
    if not left:
        result.message = f"{vm} stopped; its devices are back on the host" if addresses else f"{vm} stopped"
        return result
    if restore is None:
        result.message = f"{vm} stopped; still on vfio-pci: {', '.join(map(str, left))}"
        return result
    try:
        outcome = restore(host, left)
    except ImportError:
        result.message = (f"{vm} stopped; still on vfio-pci: {', '.join(map(str, left))}"
                          " (the binding engine is not installed: use `vfio-tui restore`)")
        return result
    except VfioError as exc:
        result.message = f"{vm} stopped; restoring {', '.join(map(str, left))} failed: {exc}"
        return result
    # core.binding.restore returns a RestoreResult whose .failed lists (address, why)
    failed = {str(a): why for a, why in getattr(outcome, "failed", ())}
    result.restored = [a for a in left if str(a) not in failed]
    result.message = f"{vm} stopped; gave back to the host: {', '.join(map(str, result.restored)) or 'nothing'}"
    if failed:
        result.message += "; failed: " + "; ".join(f"{a}: {why}" for a, why in failed.items())
    return result
