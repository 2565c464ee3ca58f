"""Provides parsing of PCI configuration space: header fields and the capability walks.

The kernel returns only the first 64 bytes of `config` to a reader without CAP_SYS_ADMIN
(drivers/pci/pci-sysfs.c pci_read_config()), so every fact that lives beyond them is
reported as "needs root" rather than as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PCI_CAP_ID_PM: Final = 0x01
PCI_CAP_ID_EXP: Final = 0x10
PCI_CAP_ID_AF: Final = 0x13
PCI_EXT_CAP_ID_ACS: Final = 0x000D
PCI_EXT_CAP_ID_SRIOV: Final = 0x0010

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

# libvirt's guard against looping extended-capability chains (virpci.c).
_MAX_EXT_CAPS: Final = (0x1000 - 0x100) // 8


def _u16(data: bytes, off: int) -> int:
    return data[off] | (data[off + 1] << 8)


def _u32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off:off + 4], "little")


@dataclass(frozen=True, slots=True)
class ConfigFacts:
    """What the configuration space says about a function."""

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
    complete: bool
    """False when the read stopped at the unprivileged 64-byte limit."""
    pcie_port_type: str | None
    """PCIe Device/Port type, None for conventional PCI (or when not readable)."""
    pcie_flr: bool
    af_flr: bool
    has_pm: bool
    pm_no_soft_reset: bool
    acs_cap: int | None
    acs_ctrl: int | None
    sriov_cap: bool
    standard_caps: tuple[int, ...]
    extended_caps: tuple[int, ...]


class ConfigSpaceError(ValueError):
    """The bytes are not a PCI configuration space."""


def parse_config(data: bytes, *, complete: bool | None = None) -> ConfigFacts:
    """Parse a configuration space dump (64, 256 or 4096 bytes, or anything in between).

    Args:
        data: the bytes read from sysfs `config`.
        complete: whether the whole space was readable; by default, True when longer than 64 bytes.

    Raises:
        ConfigSpaceError: fewer than 16 bytes, or vendor id 0xffff (no device).
    """
    if len(data) < 16:
        raise ConfigSpaceError(f"config space has {len(data)} bytes, at least 16 are needed")
    vendor = _u16(data, 0)
    if vendor in (0xFFFF, 0x0000):
        raise ConfigSpaceError(f"config space has vendor id {vendor:04x} (no device)")
    if complete is None:
        complete = len(data) > 64
    htype_raw = data[0x0E]
    htype = htype_raw & 0x7F
    class_code = data[0x09] | (data[0x0A] << 8) | (data[0x0B] << 16)
    sub_v = sub_d = None
    if htype == 0 and len(data) >= 0x30:
        sub_v, sub_d = _u16(data, 0x2C), _u16(data, 0x2E)
    elif htype == 2 and len(data) >= 0x44:
        sub_v, sub_d = _u16(data, 0x40), _u16(data, 0x42)

    std: list[int] = []
    port_type: str | None = None
    pcie_flr = af_flr = has_pm = pm_nsr = False
    status = _u16(data, 0x06)
    cap_ptr_off = 0x14 if htype == 2 else 0x34
    if status & 0x10 and len(data) > cap_ptr_off:
        ptr = data[cap_ptr_off] & 0xFC
        seen: set[int] = set()
        while ptr >= 0x40 and ptr not in seen and ptr + 2 <= len(data) and len(seen) < 48:
            seen.add(ptr)
            cid = data[ptr]
            std.append(cid)
            if cid == PCI_CAP_ID_EXP and ptr + 8 <= len(data):
                flags = _u16(data, ptr + 2)
                pt = (flags >> 4) & 0xF
                port_type = PCIE_PORT_TYPES.get(pt, f"type_{pt:x}")
                pcie_flr = bool(_u32(data, ptr + 4) & (1 << 28))
            elif cid == PCI_CAP_ID_PM and ptr + 6 <= len(data):
                has_pm = True
                pm_nsr = bool(_u16(data, ptr + 4) & 0x8)
            elif cid == PCI_CAP_ID_AF and ptr + 4 <= len(data):
                af_flr = bool(data[ptr + 3] & 0x2)
            ptr = data[ptr + 1] & 0xFC

    ext: list[int] = []
    acs_cap = acs_ctrl = None
    sriov = False
    if len(data) >= 0x104:
        off = 0x100
        seen = set()
        while off and off not in seen and off + 4 <= len(data) and len(seen) < _MAX_EXT_CAPS:
            seen.add(off)
            hdr = _u32(data, off)
            if hdr in (0, 0xFFFFFFFF):
                break
            cid = hdr & 0xFFFF
            ext.append(cid)
            if cid == PCI_EXT_CAP_ID_ACS and off + 8 <= len(data):
                acs_cap, acs_ctrl = _u16(data, off + 4), _u16(data, off + 6)
            elif cid == PCI_EXT_CAP_ID_SRIOV:
                sriov = True
            nxt = (hdr >> 20) & 0xFFC
            if nxt and nxt < 0x100:
                break
            off = nxt

    return ConfigFacts(
        vendor_id=vendor,
        device_id=_u16(data, 2),
        revision=data[0x08],
        class_code=class_code,
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
    )


def acs_flag_names(bits: int) -> list[str]:
    """Names of the ACS bits set in a capability or control register value."""
    return [name for name, bit in ACS_BITS if bits & bit]
