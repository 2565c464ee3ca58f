"""Provides libvirt's reading of the attributes a PCI device carries: numbers, on/off switches and
PCI addresses, with the values libvirt itself accepts and refuses.

Why not int(value, 0): libvirt reads every number through virXMLPropUInt -> virStrToLong_uip
(src/util/virxml.c, src/util/virstring.c), which is C's strtoul. Base 0 takes "0x1f" as hex,
"010" as OCTAL (8, where Python refuses it) and "16" as decimal; leading whitespace and a "+"
are fine, trailing characters, a "-" anywhere and values above UINT_MAX are errors. A reader
that disagrees with libvirt on "010" names the wrong host device.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from vfio_tui.core.errors import InputError

#: C's isspace() in the "C" locale: what strtoul skips before the number.
_C_SPACE: Final = " \t\n\v\f\r"
_DIGITS: Final = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
UINT_MAX: Final = 0xFFFFFFFF


def strtoul_uint(text: str, base: int = 0) -> int | None:
    """The value virStrToLong_uip(text, NULL, base) gives, or None where it fails."""
    s = text.lstrip(_C_SPACE)
    if s[:1] in ("+", "-"):
        if s[0] == "-":
            return None  # virStrToLong_uip rejects a sign it has parsed
        s = s[1:]
    if base == 0:
        if s[:2] in ("0x", "0X") and s[2:3] and s[2] in _DIGITS[16]:
            base, s = 16, s[2:]
        elif s.startswith("0"):
            base = 8
        else:
            base = 10
    elif base == 16 and s[:2] in ("0x", "0X") and s[2:3] and s[2] in _DIGITS[16]:
        s = s[2:]
    if not s or any(c not in _DIGITS[base] for c in s):
        return None  # nothing parsed, or characters left after the number
    value = int(s, base)
    return value if value <= UINT_MAX else None


def read_uint(element: etree._Element, name: str, *, base: int = 0, default: int = 0) -> int:
    """An unsigned attribute as virXMLPropUInt reads it (absent: `default`).

    Raises:
        InputError: libvirt's own message for a value it refuses.
    """
    raw = element.get(name)
    if raw is None:
        return default
    value = strtoul_uint(raw, base)
    if value is None:
        raise InputError(f"Invalid value for attribute '{name}' in element '{_name(element)}': '{raw}'."
                         " Expected non-negative integer value")
    return value


def read_uint_or_none(element: etree._Element, name: str, base: int = 0) -> int | None:
    """An unsigned attribute as libvirt reads it; None when absent or refused."""
    if element.get(name) is None:
        return None
    try:
        return read_uint(element, name, base=base)
    except InputError:
        return None


def read_switch(element: etree._Element, name: str) -> bool | None:
    """An on/off attribute (virXMLPropTristateSwitch): None when absent.

    Raises:
        InputError: any other value (libvirt refuses it).
    """
    return _read_enum(element, name, "on", "off")


def read_yes_no(element: etree._Element, name: str) -> bool | None:
    """A yes/no attribute (virXMLPropTristateBool): None when absent.

    Raises:
        InputError: any other value.
    """
    return _read_enum(element, name, "yes", "no")


def _read_enum(element: etree._Element, name: str, true: str, false: str) -> bool | None:
    raw = element.get(name)
    if raw is None:
        return None
    if raw not in (true, false):
        raise InputError(f"Invalid value for attribute '{name}' in element '{_name(element)}': '{raw}'."
                         f" Expected '{true}' or '{false}'")
    return raw == true


def read_pci_address(element: etree._Element) -> tuple[int, int, int, int]:
    """(domain, bus, slot, function) of an <address> as virPCIDeviceAddressParseXML reads it
    (src/conf/device_conf.c): every attribute optional (0), bounds checked only when the address
    is not all-zero (virPCIDeviceAddressIsValid in src/util/virpci.c).

    Raises:
        InputError: a value libvirt refuses.
    """
    domain, bus, slot, function = (read_uint(element, n) for n in ("domain", "bus", "slot", "function"))
    read_switch(element, "multifunction")
    if domain or bus or slot:
        if bus > 0xFF:
            raise InputError(f"Invalid PCI address bus='0x{bus:x}', must be <= 0xFF")
        if slot > 0x1F:
            raise InputError(f"Invalid PCI address slot='0x{slot:x}', must be <= 0x1F")
        if function > 7:
            raise InputError(f"Invalid PCI address function=0x{function:x}, must be <= 7")
    return domain, bus, slot, function


def try_pci_address(element: etree._Element) -> tuple[int, int, int, int] | None:
    """read_pci_address, or None for a value libvirt would refuse (for scans over whole domains)."""
    try:
        return read_pci_address(element)
    except InputError:
        return None


def _name(element: etree._Element) -> str:
    tag = element.tag
    return tag if isinstance(tag, str) else "?"
