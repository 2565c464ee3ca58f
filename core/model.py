"""Provides the host model: PciDevice, IommuGroup, GroupVerdict and HostInventory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import REQ_ACS_FLAGS, acs_flag_names

NeedsRoot: TypeAlias = Literal["needs root"]
NEEDS_ROOT: Final[NeedsRoot] = "needs root"
"""The value of a fact that only root may read (config space beyond 64 bytes)."""

VerdictKind: TypeAlias = Literal["ready", "bindable", "blocked"]

#: Drivers whose binding keeps a group viable on Linux >= 5.19 (driver_managed_dma = true),
#: kernel-semantics A1. vfio-pci variants are recognised by their vfio-dev directory instead.
VFIO_DRIVER: Final = "vfio-pci"
VIABLE_DRIVERS: Final = frozenset({"vfio-pci", "pci-stub", "pcieport"})

#: Port types whose ACS control bits decide how the IOMMU core splits groups below them.
ACS_RELEVANT_PORTS: Final = frozenset({"root_port", "downstream_port"})


@dataclass(frozen=True, slots=True)
class AcsState:
    """ACS capability and control registers of a port or multifunction device."""

    cap: int
    """ACS Capability register (what the device can do)."""
    ctrl: int
    """ACS Control register (what is switched on)."""

    @property
    def cap_flags(self) -> list[str]:
        return acs_flag_names(self.cap)

    @property
    def ctrl_flags(self) -> list[str]:
        return acs_flag_names(self.ctrl)

    @property
    def isolates(self) -> bool:
        """Whether SV, RR, CR and UF are on, as far as the device offers them.

        The kernel masks the required flags by the capability (pci_acs_flags_enabled()).
        """
        required = REQ_ACS_FLAGS & self.cap
        return (self.ctrl & required) == required and required != 0

    @property
    def missing(self) -> list[str]:
        """Required flags (SV RR CR UF) that are not enabled."""
        return acs_flag_names(REQ_ACS_FLAGS & ~self.ctrl)


@dataclass(frozen=True, slots=True)
class HostUse:
    """Something on the host that uses a device: passing it through would take it away."""

    kind: str
    """mount, swap, netdev-address, default-route, ssh-session, console, display, keyboard, domain, ..."""
    detail: str
    """What exactly, e.g. "/ on /dev/nvme0n1p2"."""
    fix: str = ""
    """How to free the device, when there is a way."""
    blocking: bool = True
    """False for a use that does not stop a passthrough, only worth knowing (a sound server with a GPU's
    HDMI audio open: the unbind waits until it lets go, which it does when the card disappears)."""

    def describe(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True, slots=True)
class DomainHold:
    """A libvirt domain that has a PCI device in its definition (persistent or live)."""

    vm: str
    state: str
    """virsh's words: running, shut off, paused, ..."""
    active: bool
    """The domain runs."""
    live: bool
    """The device is in the running domain's live definition: QEMU has it."""


DomainHolds: TypeAlias = Mapping[PciAddress, tuple[DomainHold, ...]]
DomainFacts: TypeAlias = Callable[[], DomainHolds]
"""Asked only when needed (it talks to libvirt): which domains hold which devices."""


@dataclass(frozen=True, slots=True)
class PciDevice:
    """One PCI function as the host's sysfs shows it."""

    address: PciAddress
    vendor_id: str
    """Four lowercase hex digits, e.g. "1077"."""
    device_id: str
    class_code: str
    """Six hex digits: base class, subclass, prog-if ("0c0400")."""
    revision: str | None = None
    subsystem_vendor_id: str | None = None
    subsystem_device_id: str | None = None
    vendor_name: str | None = None
    device_name: str | None = None
    class_name: str | None = None
    driver: str | None = None
    driver_override: str | None = None
    iommu_group: int | None = None
    header_type: int = 0
    multifunction: bool = False
    """Part of a multi-function device (function 0 says so, or this is not function 0)."""
    pcie_port_type: str | NeedsRoot | None = None
    acs: AcsState | NeedsRoot | None = None
    flr: bool | NeedsRoot = False
    reset_methods: tuple[str, ...] | NeedsRoot = ()
    boot_vga: bool = False
    sriov_total_vfs: int | None = None
    sriov_num_vfs: int | None = None
    physfn: PciAddress | None = None
    parent: PciAddress | None = None
    """The bridge directly above, from the sysfs device path."""
    upstream: tuple[PciAddress, ...] = ()
    """Every bridge above, nearest first."""
    has_vfio_dev: bool = False
    """A vfio-dev directory: bound to vfio-pci or a vfio-pci variant driver (kernel >= 6.1)."""
    net_interfaces: tuple[str, ...] = ()
    config_complete: bool = True

    @property
    def is_bridge(self) -> bool:
        """PCI-PCI or CardBus bridge (header type 1 or 2): never assignable, vfio-pci refuses it."""
        return self.header_type in (1, 2)

    @property
    def ids(self) -> str:
        return f"{self.vendor_id}:{self.device_id}"

    @property
    def class_short(self) -> str:
        """Base class and subclass, four hex digits ("0c04"), as lspci -n prints it."""
        return self.class_code[:4]

    @property
    def name(self) -> str:
        """Vendor and device name from pci.ids, or the ids when the names are unknown."""
        if self.vendor_name and self.device_name:
            return f"{self.vendor_name} {self.device_name}"
        if self.vendor_name:
            return f"{self.vendor_name} device {self.device_id}"
        return f"device {self.ids}"

    @property
    def kind_label(self) -> str:
        """A short label for what the function is: "PCIe root port", "Ethernet controller", ..."""
        if self.pcie_port_type == "root_port":
            return "PCIe root port"
        if self.pcie_port_type == "downstream_port":
            return "PCIe switch downstream port"
        if self.pcie_port_type == "upstream_port":
            return "PCIe switch upstream port"
        if self.pcie_port_type == "pcie_to_pci_bridge":
            return "PCIe-to-PCI bridge"
        if self.is_bridge:
            return self.class_name or "PCI bridge"
        return self.class_name or f"class {self.class_short}"

    @property
    def on_vfio(self) -> bool:
        """Bound to vfio-pci or one of its variant drivers."""
        return self.driver == VFIO_DRIVER or (self.driver is not None and self.has_vfio_dev)

    @property
    def keeps_group_viable(self) -> bool:
        """Whether this member's current binding allows VFIO to claim its group (Linux >= 5.19 rule)."""
        return self.driver is None or self.driver in VIABLE_DRIVERS or self.on_vfio

    @property
    def is_vf(self) -> bool:
        return self.physfn is not None

    @property
    def is_chipset(self) -> bool:
        """Host bridge or ISA/LPC bridge: part of the chipset, never something to pass through."""
        return self.class_code[:4] in ("0600", "0601")

    @property
    def is_vga(self) -> bool:
        return self.class_code[:4] == "0300"


@dataclass(frozen=True, slots=True)
class GpuInfo:
    """What the host does with a GPU card (core.gpu reads it): on the card's display function and on each of
    its other functions (HDMI audio, USB-C, UCSI), so every view can show the card as one."""

    card: PciAddress
    """The card's display function (class 03xx)."""
    functions: tuple[PciAddress, ...]
    """Every function of the card (the same slot): display, audio, USB-C xHCI, UCSI."""
    boot_vga: bool = False
    console: str | None = None
    """"fbcon on fb0 (simpledrm, firmware framebuffer)" when the host's text console draws on it."""
    framebuffers: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    """"gnome-shell (pid 1412): /dev/dri/card0" — every process with one of its nodes open."""
    driver_stack: tuple[str, ...] = ()
    """The driver's loaded modules in unload order, with what matters ("nvidia_drm (modeset=Y)")."""
    reset: str | None = None
    """A known reset problem ("AMD Polaris 10: no working reset; vendor-reset not installed")."""
    single: bool = False
    """The host's only GPU: passing it blanks the host's screen."""

    def to_json(self) -> dict[str, object]:
        return {"card": str(self.card), "functions": [str(a) for a in self.functions], "boot_vga": self.boot_vga,
                "console": self.console, "framebuffers": list(self.framebuffers), "clients": list(self.clients),
                "driver_stack": list(self.driver_stack), "reset": self.reset, "single": self.single}


@dataclass(frozen=True, slots=True)
class VfNic:
    """What a NIC's PF driver reports for one of its VFs (netlink IFLA_VF_*: `ip link show PF`)."""

    mac: str | None = None
    vlan: int | None = None
    """0: no VLAN tag."""
    qos: int | None = None
    spoofchk: bool | None = None
    trust: bool | None = None
    link_state: str | None = None
    """auto, enable or disable."""


@dataclass(frozen=True, slots=True)
class VfInfo:
    """One SR-IOV virtual function of a PF."""

    address: PciAddress
    index: int
    """N of the PF's virtfnN link (the VF number `ip link` uses)."""
    iommu_group: int | None
    driver: str | None
    own_group: bool
    """Alone in its IOMMU group: it can be passed without anything else (no missing ACS above it)."""
    nic: VfNic | None = None
    """None: not a NIC VF, or nothing reports its settings (a recording without them)."""
    held_by: tuple[str, ...] | None = None
    """The VMs that have it in their definition (with their state); None: not asked (no libvirt)."""


@dataclass(frozen=True, slots=True)
class PfSriov:
    """A PF's SR-IOV state: how many VFs, which, and how new VFs are probed."""

    address: PciAddress
    total_vfs: int
    num_vfs: int
    drivers_autoprobe: bool | None
    """sriov_drivers_autoprobe: new VFs are probed by a host driver at once (None: not readable)."""
    vfs: tuple[VfInfo, ...] = ()
    offset: int | None = None
    stride: int | None = None
    vf_device: str | None = None
    ifname: str | None = None
    """The PF's network interface that reported the VF settings."""


@dataclass(frozen=True, slots=True)
class IommuGroup:
    """An IOMMU group: the smallest set of functions the IOMMU can isolate."""

    id: int
    members: tuple[PciAddress, ...]


@dataclass(frozen=True, slots=True)
class GroupVerdict:
    """Whether a group can be passed through as it stands, and why not."""

    kind: VerdictKind
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Things worth knowing that do not block (e.g. a bridge that will stay on pcieport)."""


@dataclass(frozen=True)
class HostInventory:
    """Everything vfio-tui knows about a host's PCI devices and IOMMU groups."""

    devices: Mapping[PciAddress, PciDevice]
    groups: Mapping[int, IommuGroup]
    iommu_enabled: bool
    kernel: str | None = None
    privileged: bool = True
    """False when config space reads were cut at 64 bytes (not root)."""
    host_use: Mapping[PciAddress, tuple[HostUse, ...]] = field(default_factory=dict)
    verdicts: Mapping[int, GroupVerdict] = field(default_factory=dict)
    iommu_units: tuple[str, ...] = ()
    """Entries of /sys/class/iommu (dmar0, ivhd0, ...)."""
    host_use_known: bool = True
    """False when nothing says what the host uses its devices for (a recording without those facts,
    a plain tree): an empty host_use then means "not recorded", never "unused"."""
    gpu: Mapping[PciAddress, GpuInfo] = field(default_factory=dict)
    """Per function of every GPU card (core.gpu.inventory adds it)."""
    sriov: Mapping[PciAddress, PfSriov] = field(default_factory=dict)
    """Every SR-IOV PF with its VFs (core.sriovinfo.read.with_sriov fills it in)."""
    partial_group: int | None = None
    """Set when only this IOMMU group was read (a bind plan's read, core.sysfs_reader): the devices
    are its members and the PFs of its VFs, and `groups` holds it alone."""

    def __iter__(self) -> Iterator[PciDevice]:
        return iter(self.devices.values())

    def device(self, address: PciAddress) -> PciDevice | None:
        return self.devices.get(address)

    def group_of(self, address: PciAddress) -> IommuGroup | None:
        dev = self.devices.get(address)
        if dev is None or dev.iommu_group is None:
            return None
        return self.groups.get(dev.iommu_group)

    def members(self, group_id: int) -> list[PciDevice]:
        group = self.groups.get(group_id)
        if group is None:
            return []
        devices = self.devices  # one lookup per member (an address hash is a Python call)
        return [d for a in group.members if (d := devices.get(a)) is not None]

    def uses_of(self, address: PciAddress) -> tuple[HostUse, ...]:
        return self.host_use.get(address, ()) if self.host_use else ()

    def children(self, address: PciAddress) -> list[PciDevice]:
        return [d for d in self.devices.values() if d.parent == address]

    def ungrouped(self) -> list[PciDevice]:
        """Devices without an IOMMU group (all of them when the IOMMU is off)."""
        return [d for d in self.devices.values() if d.iommu_group is None]
