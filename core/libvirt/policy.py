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
from collections.abc import Sequence
from dataclasses import dataclass, field

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError
from vfio_tui.core.libvirt.guestpci import GuestPci
from vfio_tui.core.libvirt.xml import DomainXml, GuestAddress, Hostdev, PciController
from vfio_tui.core.model import HostInventory

#: First guest slot tried on an i440fx root bus: 0 is the host bridge, 1 the PIIX3, 2 the emulated
#: VGA (core.libvirt.guestpci reserves them; kept for callers of the original API).
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


class NoGuestSlotError(VfioError):
    """The guest has no PCI slot for a multi-function device and no room to add a bus (plan refused)."""

    exit_code = 3


@dataclass
class GuestLayout:
    """Where new hostdevs go in a guest, and what has to be added to make room."""

    guest: dict[PciAddress, GuestAddress | None] = field(default_factory=dict)
    new_controllers: list[PciController] = field(default_factory=list)
    """PCI controllers to add first: pcie-root-ports on a PCIe guest, pci-bridges on a conventional one."""
    problem: str = ""
    """Why some functions found no slot (they are left out of `guest`); "" when all did."""
    fix: str = ""

    @property
    def new_root_ports(self) -> list[int]:
        """Indexes of the pcie-root-ports among new_controllers (the original API)."""
        return [c.index for c in self.new_controllers if c.model == "pcie-root-port"]


def _slots_for(domain: DomainXml | None, needed: int,
               singles: int = 0) -> tuple[list[tuple[int, int]], list[PciController], str, str]:
    """`needed` guest slots that take a multi-function device, the controllers to add for them,
    and (problem, fix) when there are not enough. `singles` devices that libvirt places itself
    must still find room after that: libvirt's own attempt on a full guest ends in a confusing
    error ("PCI controller at index 1 (0x01) has bus='0x01', but index must be larger than bus")."""
    if domain is None:
        bus, slot = PLACEHOLDER_SLOT
        return [(bus, slot + i) for i in range(needed)], [], "", ""
    topo = GuestPci.of(domain)
    spots: list[tuple[int, int]] = []
    added: list[PciController] = []
    index = topo.next_index
    if topo.family == "pcie":
        # a PCIe port first (the device keeps its link); a new root port where libvirt has room;
        # conventional slots behind bridges (libvirt takes a PCIe device there from the config) last
        ports, room, conventional = topo.free_ports(), topo.root_port_room(), topo.free_conventional_slots()
        spots += ports[:needed]
        for _ in range(min(needed - len(spots), room)):
            added.append(PciController(index, "pcie-root-port"))
            spots.append((index, 0))
            index += 1
        spots += conventional[:needed - len(spots)]
        left = len(ports) + room + len(conventional) - len(spots)
        if len(spots) < needed or left < singles:
            return spots, added, (
                f"VM {domain.name!r} has no free pcie-root-port for the device and no room for a"
                " new one (pcie-root slots 1-30 and every pcie-expander-bus are full)"), (
                f"free a root port or a pcie-root slot (virsh edit {domain.name}), or add a pcie-expander-bus")
        return spots, added, "", ""
    free = topo.free_conventional_slots()
    while len(free) < needed and free:
        # not enough slots: the last free one takes a pci-bridge, which brings 31 more
        bus, slot = free.pop()
        added.append(PciController(index, "pci-bridge", GuestAddress(0, bus, slot, 0)))
        free += [(index, s) for s in range(1, 32)]
        index += 1
    spots = free[:needed]
    if len(spots) < needed or len(free) - len(spots) < singles:
        return spots, added, (
            f"VM {domain.name!r} has no free guest PCI slot for the device: bus 0 and its pci-bridges"
            " are full, so there is no slot for a new pci-bridge either (an i440fx guest takes no pcie-root-port)"), (
            f"free a slot on bus 0 or on a pci-bridge (virsh edit {domain.name})")
    return spots, added, "", ""


def guest_layout(addresses: Sequence[PciAddress], domain: DomainXml | None = None) -> GuestLayout:
    """Place host functions in the guest.

    A slot with one function gets no explicit address (libvirt picks one). A slot with several
    gets one guest slot with the host's function numbers: on a PCIe guest (q35) a free
    pcie-root-port or downstream port, else a new pcie-root-port; on a conventional guest
    (i440fx) a free slot on bus 0, a pci-bridge or an expander bus, else a new pci-bridge. When
    nothing fits, `problem` says why and those functions stay out of `guest`.
    """
    layout = GuestLayout()
    by_slot: dict[tuple[int, int, int], list[PciAddress]] = defaultdict(list)
    for a in addresses:
        by_slot[a.slot_key].append(a)
    multi = [sorted(fns) for fns in by_slot.values() if len(fns) > 1]  # in the order given
    for fns in by_slot.values():
        if len(fns) == 1:
            layout.guest[fns[0]] = None
    singles = len(by_slot) - len(multi)
    spots, layout.new_controllers, layout.problem, layout.fix = _slots_for(domain, len(multi), singles)
    for functions, (bus, slot) in zip(multi, spots, strict=False):
        first = functions[0].function
        for f in functions:
            layout.guest[f] = GuestAddress(0, bus, slot, f.function, multifunction=f.function == first)
    return layout


def place_hostdevs(addresses: Sequence[PciAddress], *, managed: bool = True, rom_bar: bool | None = None,
                   domain: DomainXml | None = None, place: bool = True) -> tuple[list[Hostdev], GuestLayout]:
    """Hostdevs for `addresses` with their guest placement, and the layout (controllers to add
    first, or the problem when some functions found no slot: those get no hostdev)."""
    layout = guest_layout(addresses, domain) if place else GuestLayout({a: None for a in addresses})
    hostdevs = [Hostdev(a, managed=managed, rom_bar=rom_bar, guest=layout.guest[a])
                for a in addresses if a in layout.guest]
    return hostdevs, layout


def build_hostdevs(addresses: Sequence[PciAddress], *, managed: bool = True, rom_bar: bool | None = None,
                   domain: DomainXml | None = None, place: bool = True) -> tuple[list[Hostdev], list[int]]:
    """Hostdevs for `addresses` with their guest placement, and root ports to add first.

    The original API, which can only add pcie-root-ports: use place_hostdevs to get pci-bridges
    on conventional guests too.

    Raises:
        NoGuestSlotError: no slot fits, or only a new pci-bridge would make room.
    """
    hostdevs, layout = place_hostdevs(addresses, managed=managed, rom_bar=rom_bar, domain=domain, place=place)
    if layout.problem:
        raise NoGuestSlotError(layout.problem, fix=layout.fix)
    bridges = [c for c in layout.new_controllers if c.model != "pcie-root-port"]
    if bridges:
        b = bridges[0]
        where = f" (bus {b.address.bus:#04x} slot {b.address.slot:#04x})" if b.address else ""
        raise NoGuestSlotError(
            f"VM {domain.name if domain else ''!r} needs a new pci-bridge for these multi-function devices, which"
            " this command cannot add", fix=f"add <controller type='pci' index='{b.index}' model='pci-bridge'/>"
            f"{where} with virsh edit, then run it again")
    return hostdevs, layout.new_root_ports


def parse_managed(text: str) -> bool:
    """--managed yes|no."""
    return text.strip().lower() in ("yes", "on", "true", "1")


def parse_rom_bar(text: str | None) -> bool | None:
    """--rom-bar on|off (None: leave QEMU's default)."""
    if text is None:
        return None
    return text.strip().lower() in ("on", "yes", "true", "1")
