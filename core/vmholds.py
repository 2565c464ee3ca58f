"""Provides which VMs held which devices when a host was recorded (host extras key `vm_devices`, the
same records the sriov branch writes: {pci, vm, state, active, live}), so a replayed or fetched host
still says which devices its VMs have: the fleet's "held by VMs" and "free" come from here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import DomainHold, DomainHolds

VM_DEVICES_KEY: Final = "vm_devices"
"""Host extras key: which libvirt domains had which PCI devices when the host was recorded."""


def holds_to_extras(holds: DomainHolds) -> list[dict[str, Any]]:
    """Domain facts in the recorded form ({pci, vm, state, active, live})."""
    return [{"pci": str(a), "vm": h.vm, "state": h.state, "active": h.active, "live": h.live}
            for a, hs in sorted(holds.items()) for h in hs]


def recorded_holds(extras: Mapping[str, Any]) -> DomainHolds | None:
    """The domain facts a recording carries (None: it carries none, so VM use is unknown)."""
    raw = extras.get(VM_DEVICES_KEY)
    if not isinstance(raw, list):
        return None
    out: dict[PciAddress, list[DomainHold]] = {}
    for e in raw:
        if not isinstance(e, Mapping) or not isinstance(e.get("pci"), str) or not isinstance(e.get("vm"), str):
            continue
        addr = PciAddress.try_parse(str(e["pci"]))
        if addr is None:
            continue
        out.setdefault(addr, []).append(DomainHold(str(e["vm"]), str(e.get("state") or "?"), e.get("active") is True,
                                                   e.get("live") is True))
    return {a: tuple(h) for a, h in out.items()}
