"""Provides the hostdev decisions: which host functions a passthrough needs, and where they go
in the guest.

Why the whole group: QEMU opens the device's IOMMU group, and the kernel refuses a group
that is not entirely on vfio-pci ("group N is not viable", kernel-semantics E05), so every
endpoint of the group must go to the same VM (or be bound by hand). Bridges and ports
stay on the host (libvirt refuses them: "Non-endpoint PCI devices cannot be assigned", L03).

Why matching function numbers: a multi-function card (GPU + HDMI audio, a dual-port NIC)
is driven as one device by guest drivers that look for the sibling at the same slot; they
go to one guest slot with the host's function numbers and multifunction='on' on the first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.address import PciAddress
from core.libvirt.xml import DomainXml, GuestAddress, Hostdev
from core.model import HostInventory

#: First guest slot tried on a conventional PCI root bus: 0 is the host bridge, 1 the PIIX3/ICH,
#: 2 the emulated VGA on i440fx.
FIRST_FREE_SLOT = 3
#: A placeholder guest slot for `hostdev-xml --all-functions` without a domain (bus 0, slot 0x10).
PLACEHOLDER_SLOT = (0, 0x10)


def needed_functions(inventory: HostInventory, address: PciAddress) -> list[PciAddress]:
    """The device and every other endpoint of its IOMMU group, sorted (the device itself first)."""
    group = inventory.group_of(address)
    if group is None:
        return [address]
    others = [a for a in group.members if a != address
              and (dev := inventory.device(a)) is not None and not dev.is_bridge]
    return [address, *sorted(others)]


def slot_functions(inventory: HostInventory, address: PciAddress) -> list[PciAddress]:
    """Every function of the device's physical slot that the host has (for --all-functions)."""
    return sorted(a for a in inventory.devices if a.slot_key == address.slot_key)


@dataclass
class GuestLayout:
    """Where new hostdevs go in a guest, and what has to be added to make room."""

    guest: dict[PciAddress, GuestAddress | None] = field(default_factory=dict)
    new_root_ports: list[int] = field(default_factory=list)
    """Indexes of pcie-root-port controllers to add (q35 guest with no free port)."""


def _is_pcie_guest(domain: DomainXml) -> bool:
    return "q35" in domain.machine or any(model == "pcie-root" for _, model in domain.pci_controllers())


def _free_slots(domain: DomainXml | None) -> Iterable[tuple[int, int]]:
    """Yield (bus, slot) pairs where a multi-function device fits, in the order they are used."""
    if domain is None:
        yield PLACEHOLDER_SLOT
        return
    used = domain.used_guest_slots()
    controllers = domain.pci_controllers()
    if _is_pcie_guest(domain):
        # A PCIe device goes to slot 0 of a root port; the port's bus number is its index.
        for index, model in sorted(controllers):
            if model == "pcie-root-port" and (index, 0) not in used:
                yield (index, 0)
        return
    for slot in range(FIRST_FREE_SLOT, 32):
        if (0, slot) not in used:
            yield (0, slot)


def guest_layout(addresses: Sequence[PciAddress], domain: DomainXml | None = None) -> GuestLayout:
    """Place host functions in the guest.

    A slot with one function gets no explicit address (libvirt picks one). A slot with
    several gets one guest slot: a free pcie-root-port on q35 (a new one when none is
    free), else a free slot on bus 0; function numbers match the host's.
    """
    layout = GuestLayout()
    by_slot: dict[tuple[int, int, int], list[PciAddress]] = defaultdict(list)
    for a in addresses:
        by_slot[a.slot_key].append(a)
    free = iter(_free_slots(domain))
    next_index = max((i for i, _ in domain.pci_controllers()), default=0) + 1 if domain is not None else 1
    for functions in by_slot.values():
        if len(functions) == 1:
            layout.guest[functions[0]] = None
            continue
        spot = next(free, None)
        if spot is None:
            # q35 with every root port taken: add one; libvirt assigns the port's own address.
            layout.new_root_ports.append(next_index)
            spot = (next_index, 0)
            next_index += 1
        bus, slot = spot
        first = min(f.function for f in functions)
        for f in sorted(functions):
            layout.guest[f] = GuestAddress(0, bus, slot, f.function, multifunction=f.function == first)
    return layout


def build_hostdevs(addresses: Sequence[PciAddress], *, managed: bool = True, rom_bar: bool | None = None,
                   domain: DomainXml | None = None, place: bool = True) -> tuple[list[Hostdev], list[int]]:
    """Hostdevs for `addresses` with their guest placement, and root ports to add first."""
    layout = guest_layout(addresses, domain) if place else GuestLayout({a: None for a in addresses})
    hostdevs = [Hostdev(a, managed=managed, rom_bar=rom_bar, guest=layout.guest.get(a)) for a in addresses]
    return hostdevs, layout.new_root_ports


def parse_managed(text: str) -> bool:
    """--managed yes|no."""
    return text.strip().lower() in ("yes", "on", "true", "1")


def parse_rom_bar(text: str | None) -> bool | None:
    """--rom-bar on|off (None: leave QEMU's default)."""
    if text is None:
        return None
    return text.strip().lower() in ("on", "yes", "true", "1")
