"""Provides GuestPci: a domain's guest PCI buses as libvirt's address code sees them, which of
them take a passed-through device, and which slots are already taken.

The rules are libvirt's (src/conf/domain_addr.c virDomainPCIAddressBusSetModel,
src/qemu/qemu_domain_address.c): a device given an address in the config may sit on any bus
that takes endpoint devices, PCI or PCIe alike (virDomainPCIAddressFlagsCompatible adds both
when the address came from the config, and qemuDomainDeviceCalculatePCIConnectFlags does not ask
an addressed hostdev for hot-plug):

| bus (controller model)        | slots | takes                                          |
|-------------------------------|-------|------------------------------------------------|
| pci-root (i440fx, pseries)    | 1-31  | endpoints, pci-bridge, pci-expander-bus        |
| pci-bridge                    | 1-31  | endpoints, pci-bridge (slot 0 is the SHPC)     |
| pci-expander-bus              | 0-31  | endpoints, pci-bridge                          |
| dmi-to-pci-bridge             | 0-31  | endpoints, pci-bridge (no hot-plug)            |
| pcie-to-pci-bridge            | 1-31  | endpoints, pci-bridge                          |
| pcie-root-port, pcie-switch-downstream-port | 0 | one endpoint (all 8 functions)      |
| pcie-root (q35, virt)         | 1-31  | pcie-root-port, dmi-to-pci-bridge, pcie-expander-bus* |
| pcie-expander-bus             | 0-31  | pcie-root-port, dmi-to-pci-bridge              |
| pcie-switch-upstream-port     | 0-31  | pcie-switch-downstream-port                    |

(*) and endpoints as integrated devices, which cannot be unplugged: libvirt never puts one there
itself, and neither does vfio-tui.

So a pcie-root-port on an i440fx guest is refused ("a PCI slot is needed to connect a PCI
controller model='pcie-root-port', but none is available"): conventional guests grow with a
pci-bridge, PCIe guests with a pcie-root-port.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from vfio_tui.core.libvirt.xml import DomainXml
from vfio_tui.core.libvirt.xmlattrs import try_pci_address

#: Buses a device with a config address may use: model -> (first slot, last slot).
ENDPOINT_BUSES: Final = {
    "pci-root": (1, 31), "pci-bridge": (1, 31), "pci-expander-bus": (0, 31), "dmi-to-pci-bridge": (0, 31),
    "pcie-to-pci-bridge": (1, 31), "pcie-root-port": (0, 0), "pcie-switch-downstream-port": (0, 0),
}
#: Buses a new pcie-root-port plugs into (libvirt aggregates up to 8 into one slot's functions).
ROOT_PORT_BUSES: Final = {"pcie-root": (1, 31), "pcie-expander-bus": (0, 31)}
#: Buses a new pci-bridge plugs into.
BRIDGE_BUSES: Final = ("pci-root", "pci-bridge", "pci-expander-bus", "dmi-to-pci-bridge", "pcie-to-pci-bridge")
#: A PCIe port: one slot, where a device keeps its PCIe link (guest GPU drivers want one).
PORT_MODELS: Final = ("pcie-root-port", "pcie-switch-downstream-port")
#: q35: slot 0x1f holds the ICH9 LPC, SATA and SMBus functions, always (qemuDomainValidateDevicePCISlotsQ35).
Q35_CHIPSET_SLOT: Final = 0x1F
#: i440fx: slot 1 holds the PIIX3 (ISA, IDE, USB, PM), always (qemuDomainValidateDevicePCISlotsPIIX3).
PIIX3_SLOT: Final = 1


def machine_family(domain: DomainXml) -> str:
    """"pcie" (a pcie-root: q35, aarch64/riscv virt) or "pci" (a pci-root: i440fx, pseries, ...).

    The root controller decides (qemuDomainHasPCIeRoot); without one in the XML, the machine
    type does, as in qemuDomainDefAddDefaultDevices.
    """
    models = {model for index, model in domain.pci_controllers() if index == 0}
    if "pcie-root" in models:
        return "pcie"
    if "pci-root" in models:
        return "pci"
    machine = domain.machine
    if "q35" in machine or (machine.startswith("virt") and domain.arch in ("aarch64", "armv7l", "riscv64")):
        return "pcie"
    return "pci"


def is_i440fx(domain: DomainXml) -> bool:
    """An x86 'pc' machine (PIIX3 chipset): pc, pc-i440fx-*, the old pc-0.x/pc-1.x, or unset."""
    machine = domain.machine
    if domain.arch not in ("", "i686", "x86_64"):
        return False
    return machine in ("", "pc") or machine.startswith(("pc-i440fx", "pc-0.", "pc-1."))


def _video_wants_slot(domain: DomainXml) -> bool:
    """Whether libvirt will put the primary video on the chipset's video slot (00:02 on i440fx,
    00:01 on q35): it has no address of its own and is a PCI device (not none/ramfb)."""
    video = domain.root.find("devices/video")
    if video is None:
        return domain.root.find("devices/graphics") is not None  # libvirt adds a default video then
    model = video.find("model")
    kind = model.get("type") if model is not None else None
    return kind not in ("none", "ramfb") and video.find("address") is None


@dataclass
class GuestBus:
    """One guest PCI bus: the controller that provides it and the functions taken on it."""

    index: int
    model: str
    used: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    """slot -> functions with an explicit address."""
    root_port_slots: set[int] = field(default_factory=set)
    """Slots whose functions all hold pcie-root-ports (libvirt aggregates more ports there)."""

    def free_slots(self, slots: tuple[int, int]) -> list[int]:
        first, last = slots
        return [s for s in range(first, last + 1) if not self.used.get(s)]


@dataclass
class GuestPci:
    """The guest PCI topology of a domain."""

    family: str
    buses: dict[int, GuestBus]
    reserved: set[tuple[int, int]] = field(default_factory=set)
    """(bus, slot) pairs libvirt keeps for chipset devices and the primary video."""
    unplaced_controllers: int = 0
    """PCI controllers without an address: libvirt gives each a slot before anything new."""

    @classmethod
    def of(cls, domain: DomainXml) -> GuestPci:
        family = machine_family(domain)
        buses: dict[int, GuestBus] = {}
        for index, model in domain.pci_controllers():
            if not model:
                model = ("pcie-root" if family == "pcie" else "pci-root") if index == 0 else \
                    ("pcie-root-port" if family == "pcie" else "pci-bridge")
            buses.setdefault(index, GuestBus(index, model))
        buses.setdefault(0, GuestBus(0, "pcie-root" if family == "pcie" else "pci-root"))
        topo = cls(family, buses)
        port_functions: dict[tuple[int, int], int] = defaultdict(int)
        for el in domain.root.iter("address"):
            parent = el.getparent()
            if el.get("type") != "pci" or parent is None or parent.tag == "source":
                continue
            addr = try_pci_address(el)
            if addr is None:
                continue
            _, bus, slot, function = addr
            topo.buses.setdefault(bus, GuestBus(bus, "unknown")).used[slot].add(function)
            if parent.tag == "controller" and parent.get("model") == "pcie-root-port":
                port_functions[(bus, slot)] += 1
        for (bus, slot), n in port_functions.items():
            if n == len(topo.buses[bus].used[slot]):
                topo.buses[bus].root_port_slots.add(slot)
        topo.unplaced_controllers = sum(
            1 for el in domain.root.iterfind("devices/controller")
            if el.get("type") == "pci" and el.get("index") not in (None, "0") and el.find("address") is None)
        if family == "pcie":
            topo.reserved.add((0, Q35_CHIPSET_SLOT))
            if _video_wants_slot(domain):
                topo.reserved.add((0, 1))
        elif is_i440fx(domain):
            topo.reserved.add((0, PIIX3_SLOT))
            if _video_wants_slot(domain):
                topo.reserved.add((0, 2))
        return topo

    @property
    def next_index(self) -> int:
        """The index (= bus number) of a new controller: above every existing one, as libvirt
        wants a bridge's index above the bus it plugs into."""
        return max(self.buses) + 1

    def _free(self, bus: GuestBus, slots: tuple[int, int]) -> list[tuple[int, int]]:
        return [(bus.index, s) for s in bus.free_slots(slots) if (bus.index, s) not in self.reserved]

    def free_ports(self) -> list[tuple[int, int]]:
        """Empty pcie-root-ports and downstream ports: (bus, 0), by index."""
        return [spot for bus in sorted(self.buses.values(), key=lambda b: b.index) if bus.model in PORT_MODELS
                for spot in self._free(bus, ENDPOINT_BUSES[bus.model])]

    def free_conventional_slots(self) -> list[tuple[int, int]]:
        """Free slots on conventional PCI buses (the root bus of a pci-root guest first, then
        bridges and expander buses by index)."""
        return [spot for bus in sorted(self.buses.values(), key=lambda b: b.index)
                if bus.model in ENDPOINT_BUSES and bus.model not in PORT_MODELS
                for spot in self._free(bus, ENDPOINT_BUSES[bus.model])]

    def root_port_room(self) -> int:
        """How many new pcie-root-ports libvirt can still plug in: 8 per free slot of pcie-root
        (and of pcie-expander-buses), plus the free functions of slots that hold root ports, less
        the controllers that are waiting for an address."""
        room = 0
        for bus in self.buses.values():
            if bus.model not in ROOT_PORT_BUSES:
                continue
            room += 8 * len(self._free(bus, ROOT_PORT_BUSES[bus.model]))
            room += sum(8 - len(bus.used[s]) for s in bus.root_port_slots)
        return max(0, room - self.unplaced_controllers)
