"""Provides group viability by the kernel's rules (kernel-semantics A1).

Linux >= 5.19: a group can be claimed by VFIO iff no member is bound to a driver that counts
as a DMA-API owner, i.e. every member is unbound, on vfio-pci (or a variant: vfio-dev dir),
pci-stub or pcieport (`driver_managed_dma = true`).
Linux < 5.19 (removed `vfio_dev_viable()`): unbound, a vfio driver, pci-stub, or any bridge
(header type != normal) with any driver.
"""

from __future__ import annotations

from collections.abc import Iterable

from vfio_tui.core.model import PciDevice


def kernel_before_5_19(release: str | None) -> bool:
    """True for a kernel release older than 5.19 ("5.15.0-91-generic"); False when unknown."""
    if not release:
        return False
    parts = release.split(".")
    try:
        major = int(parts[0])
        minor = int("".join(c for c in (parts[1] if len(parts) > 1 else "0").split("-")[0] if c.isdigit()) or 0)
    except ValueError:
        return False
    return (major, minor) < (5, 19)


def binding_keeps_viable(driver: str | None, *, is_bridge: bool, on_vfio: bool, release: str | None) -> bool:
    """Whether a member bound to `driver` lets VFIO claim its group on that kernel."""
    if driver is None or on_vfio or driver in ("vfio-pci", "pci-stub"):
        return True
    if kernel_before_5_19(release):
        return is_bridge
    return driver == "pcieport"


def member_keeps_viable(dev: PciDevice, release: str | None) -> bool:
    """Whether this member's binding lets VFIO claim the group on that kernel."""
    return binding_keeps_viable(dev.driver, is_bridge=dev.is_bridge, on_vfio=dev.on_vfio, release=release)


def viability_problems(members: Iterable[PciDevice], release: str | None) -> list[str]:
    """Why the group is not viable (empty when it is)."""
    return [
        f"{d.address} is bound to {d.driver}, which owns DMA for the host; the group is not viable"
        for d in members if not member_keeps_viable(d, release)
    ]


def group_viable(members: Iterable[PciDevice], release: str | None) -> bool:
    return not viability_problems(members, release)
