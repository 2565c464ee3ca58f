"""Provides parsing of PCI configuration space: header fields and the capability walks.

The kernel returns only the first 64 bytes of `config` to a reader without CAP_SYS_ADMIN
(drivers/pci/pci-sysfs.c pci_read_config()), so every fact that lives beyond them is
reported as "needs root" rather than as absent.

The walks follow the kernel and lspci (pciutils lib/caps.c, ls-caps.c):
- standard capabilities: from the pointer at 0x34 (0x14 on CardBus), never below 0x40, stop
  at id 0xff ("chain broken"), at a loop, or after 48 hops (the kernel's PCI_FIND_CAP_TTL);
- extended capabilities (0x100+): only for a function with a PCI Express or PCI-X capability
  (a conventional function has no extended space: lspci's can_have_ext_caps), and not when the
  space at 0x100 repeats the header, i.e. the device decodes only 8 address bits and 0x100
  aliases 0x000 (the kernel's pci_ext_cfg_is_aliased()); stop at a zero or all-ones header,
  a next pointer below 0x100, a loop, or (0x1000 - 0x100) / 8 hops (libvirt's guard).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

PCI_CAP_ID_PM: Final = 0x01
PCI_CAP_ID_PCIX: Final = 0x07
PCI_CAP_ID_SSVID: Final = 0x0D
PCI_CAP_ID_EXP: Final = 0x10
PCI_CAP_ID_AF: Final = 0x13
PCI_EXT_CAP_ID_ACS: Final = 0x000D
PCI_EXT_CAP_ID_SRIOV: Final = 0x0010

#: Advanced Features capability register bits (include/uapi/linux/pci_regs.h PCI_AF_CAP_*).
PCI_AF_CAP_TP: Final = 0x01
PCI_AF_CAP_FLR: Final = 0x02

#: PCIe capability "Device/Port Type" values (PCI_EXP_FLAGS_TYPE >> 4), include/uapi/linux/pci_regs.h
PCIE_PORT_TYPES: Final[dict[int, str]] = {
    0x0: "endpoint",
    0x1: "legacy_endpoint",
    0x4: "root_port",
    0x5: "upstream_port",
    0x6: "downstream_port",
    0x7: "pcie_to_pci_bridge",
    0x8: "pci_to_pcie_bridge",
    0x9: "rc_integrated_endpoint",
    0xA: "rc_event_collector",
}

#: ACS capability/control bits, in the order lspci and the kernel name them.
ACS_BITS: Final[tuple[tuple[str, int], ...]] = (
    ("SV", 0x0001),
    ("TB", 0x0002),
    ("RR", 0x0004),
    ("CR", 0x0008),
    ("UF", 0x0010),
    ("EC", 0x0020),
    ("DT", 0x0040),
)

#: What the IOMMU core requires on a path for separate groups (drivers/iommu/iommu.c REQ_ACS_FLAGS).
REQ_ACS_FLAGS: Final = 0x0001 | 0x0004 | 0x0008 | 0x0010

#: The kernel's bound on standard-capability hops (drivers/pci/pci.c PCI_FIND_CAP_TTL).
_MAX_STD_CAPS: Final = 48
# libvirt's guard against looping extended-capability chains (virpci.c).
_MAX_EXT_CAPS: Final = (0x1000 - 0x100) // 8

#: Reads up to 8 bytes of extended config space at an offset (b"" past the end).
ExtReader = Callable[[int], bytes]


class ConfigFacts(NamedTuple):
    """What the configuration space says about a function.

    A NamedTuple rather than a frozen dataclass: one is made per function, and building a
    tuple costs a quarter of a frozen dataclass's 23 attribute sets.
    """

    vendor_id: int
    device_id: int
    revision: int
    class_code: int
    """24-bit class code: base class, subclass, programming interface."""
    header_type: int
    """0 endpoint, 1 PCI-PCI bridge, 2 CardBus bridge (multifunction bit removed)."""
    multifunction: bool
    subsystem_vendor_id: int | None
    subsystem_device_id: int | None
    """From the header (type 0 and 2) or a bridge's Subsystem ID capability (type 1)."""
    complete: bool
    """False when the read stopped at the unprivileged 64-byte limit."""
    pcie_port_type: str | None
    """PCIe Device/Port type, None for conventional PCI (or when not readable)."""
    pcie_flr: bool
    af_flr: bool
    """Advanced Features capability with both TP and FLR set (what the kernel's pci_af_flr() needs)."""
    has_pm: bool
    pm_no_soft_reset: bool
    acs_cap: int | None
    acs_ctrl: int | None
    sriov_cap: bool
    standard_caps: tuple[int, ...]
    extended_caps: tuple[int, ...]
    has_pcix: bool = False
    """A PCI-X capability (such a function may have extended config space, as PCIe does)."""
    ext_aliased: bool = False
    """The space at 0x100 repeats the header: no extended space, so no extended capabilities."""

    @property
    def may_have_ext_caps(self) -> bool:
        """PCI Express or PCI-X: the only functions whose extended space is walked."""
        return self.pcie_port_type is not None or self.has_pcix


class ConfigSpaceError(ValueError):
    """The bytes are not a PCI configuration space."""


def _walk_standard(data: bytes, htype: int) -> tuple[list[int], dict[int, int]]:
    """Standard capability ids in chain order, and the offset of the first of each id."""
    ids: list[int] = []
    first: dict[int, int] = {}
    n = len(data)
    ptr_off = 0x14 if htype == 2 else 0x34
    if n <= ptr_off or not (data[0x06] & 0x10):  # Status: Capabilities List
        return ids, first
    ptr = data[ptr_off] & 0xFC
    seen: set[int] = set()
    while ptr >= 0x40 and ptr + 2 <= n and ptr not in seen and len(seen) < _MAX_STD_CAPS:
        seen.add(ptr)
        cid = data[ptr]
        if cid == 0xFF:  # lspci "<chain broken>"; the kernel stops here too
            break
        ids.append(cid)
        first.setdefault(cid, ptr)
        ptr = data[ptr + 1] & 0xFC
    return ids, first


def parse_config(data: bytes, *, complete: bool | None = None, read_ext: ExtReader | None = None) -> ConfigFacts:
    """Parse a configuration space dump (64, 256 or 4096 bytes, or anything in between).

    Args:
        data: the bytes read from sysfs `config` (at least the standard 256 for the extended walk).
        complete: whether the whole space was readable; by default, True when longer than 64 bytes.
        read_ext: where the extended capability headers beyond `data` come from (the sysfs
            reader reads 8 bytes per header instead of all 4 KiB); by default there is nothing
            beyond `data`.

    Raises:
        ConfigSpaceError: fewer than 16 bytes, or vendor id 0xffff (no device).
    """
    n = len(data)
    if n < 16:
        raise ConfigSpaceError(f"config space has {n} bytes, at least 16 are needed")
    vendor = data[0] | (data[1] << 8)
    if vendor in (0xFFFF, 0x0000):
        raise ConfigSpaceError(f"config space has vendor id {vendor:04x} (no device)")
    if complete is None:
        complete = n > 64
    htype_raw = data[0x0E]
    htype = htype_raw & 0x7F

    std, first = _walk_standard(data, htype)

    sub_v = sub_d = None
    if htype == 0 and n >= 0x30:
        sub_v, sub_d = data[0x2C] | (data[0x2D] << 8), data[0x2E] | (data[0x2F] << 8)
    elif htype == 2 and n >= 0x44:
        sub_v, sub_d = data[0x40] | (data[0x41] << 8), data[0x42] | (data[0x43] << 8)
    elif htype == 1 and PCI_CAP_ID_SSVID in first:
        # A bridge's subsystem ids live in its SSVID capability (drivers/pci/probe.c pci_setup_device()).
        pos = first[PCI_CAP_ID_SSVID]
        if pos + 8 <= n:  # (a capability cut off by a short read is as good as absent)
            sub_v, sub_d = data[pos + 4] | (data[pos + 5] << 8), data[pos + 6] | (data[pos + 7] << 8)

    port_type: str | None = None
    pcie_flr = False
    pos = first.get(PCI_CAP_ID_EXP, n)
    if pos + 8 <= n:
        pt = (data[pos + 2] >> 4) & 0xF
        port_type = PCIE_PORT_TYPES.get(pt) or f"type_{pt:x}"
        pcie_flr = bool(data[pos + 7] & 0x10)  # DevCap bit 28, PCI_EXP_DEVCAP_FLR
    has_pm = pm_nsr = False
    pos = first.get(PCI_CAP_ID_PM, n)
    if pos + 6 <= n:
        has_pm = True
        pm_nsr = bool(data[pos + 4] & 0x8)  # PMCSR No_Soft_Reset
    af_flr = False
    pos = first.get(PCI_CAP_ID_AF, n)
    if pos + 4 <= n:
        af = data[pos + 3]
        af_flr = bool(af & PCI_AF_CAP_TP) and bool(af & PCI_AF_CAP_FLR)  # pci_af_flr() needs both
    has_pcix = PCI_CAP_ID_PCIX in first

    ext: list[int] = []
    acs_cap = acs_ctrl = None
    sriov = aliased = False
    if (port_type is not None or has_pcix) and (read_ext is not None or n >= 0x104):
        hdr_bytes = data[0x100:0x108] if read_ext is None or n >= 0x108 else read_ext(0x100)
        if len(hdr_bytes) >= 4 and hdr_bytes[:4] == data[:4]:
            aliased = True
        else:
            ext, acs_cap, acs_ctrl, sriov = _walk_extended(data, read_ext, hdr_bytes)

    return ConfigFacts(
        vendor_id=vendor,
        device_id=data[2] | (data[3] << 8),
        revision=data[0x08],
        class_code=data[0x09] | (data[0x0A] << 8) | (data[0x0B] << 16),
        header_type=htype,
        multifunction=bool(htype_raw & 0x80),
        subsystem_vendor_id=sub_v,
        subsystem_device_id=sub_d,
        complete=complete,
        pcie_port_type=port_type,
        pcie_flr=pcie_flr,
        af_flr=af_flr,
        has_pm=has_pm,
        pm_no_soft_reset=pm_nsr,
        acs_cap=acs_cap,
        acs_ctrl=acs_ctrl,
        sriov_cap=sriov,
        standard_caps=tuple(std),
        extended_caps=tuple(ext),
        has_pcix=has_pcix,
        ext_aliased=aliased,
    )


def _walk_extended(data: bytes, read_ext: ExtReader | None,
                   chunk: bytes) -> tuple[list[int], int | None, int | None, bool]:
    """Extended capability ids, the ACS registers and whether SR-IOV is there; `chunk` is the
    first header (8 bytes at 0x100)."""
    ext: list[int] = []
    acs_cap = acs_ctrl = None
    sriov = False
    off = 0x100
    seen: set[int] = set()
    while len(chunk) >= 4 and off not in seen and len(seen) < _MAX_EXT_CAPS:
        seen.add(off)
        hdr = int.from_bytes(chunk[:4], "little")
        if hdr == 0 or hdr == 0xFFFFFFFF:
            break
        cid = hdr & 0xFFFF
        ext.append(cid)
        if cid == PCI_EXT_CAP_ID_ACS and len(chunk) >= 8:
            acs_cap, acs_ctrl = chunk[4] | (chunk[5] << 8), chunk[6] | (chunk[7] << 8)
        elif cid == PCI_EXT_CAP_ID_SRIOV:
            sriov = True
        off = (hdr >> 20) & 0xFFC
        if off < 0x100:  # 0 ends the chain; anything else below 0x100 is not extended space
            break
        chunk = data[off:off + 8] if read_ext is None or off + 8 <= len(data) else read_ext(off)
    return ext, acs_cap, acs_ctrl, sriov


def acs_flag_names(bits: int) -> list[str]:
    """Names of the ACS bits set in a capability or control register value."""
    return [name for name, bit in ACS_BITS if bits & bit]
