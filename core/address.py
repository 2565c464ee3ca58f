"""Provides PciAddress: a PCI function address (domain:bus:slot.function) and its parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from vfio_tui.core.errors import InputError

# Domains are 16 bits on most hosts, but Intel VMD creates domains from 0x10000 up,
# which the kernel prints with five hex digits ("10000:e1:00.0").
_FULL: Final = re.compile(r"^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")
_NODEDEV: Final = re.compile(r"^pci_([0-9a-fA-F]{4,8})_([0-9a-fA-F]{2})_([0-9a-fA-F]{2})_([0-7])$")


@dataclass(frozen=True, slots=True, order=True)
class PciAddress:
    """A PCI function address such as 0000:0b:00.0."""

    domain: int
    """PCI domain (segment), usually 0."""
    bus: int
    """Bus number, 0-255."""
    slot: int
    """Device (slot) number, 0-31."""
    function: int
    """Function number, 0-7."""

    def __post_init__(self) -> None:
        if not (0 <= self.domain <= 0xFFFFFFFF and 0 <= self.bus <= 0xFF
                and 0 <= self.slot <= 0x1F and 0 <= self.function <= 7):
            raise InputError(f"not a valid PCI address: {self.domain:x}:{self.bus:x}:{self.slot:x}.{self.function}")

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """Parse "0000:0b:00.0", "0b:00.0" (domain 0) or a libvirt name "pci_0000_0b_00_0".

        Raises:
            InputError: the text is not a PCI address.
        """
        if not isinstance(text, str):
            raise InputError(f"not a PCI address: {text!r}")
        stripped = text.strip()
        m = _FULL.match(stripped)
        if m:
            dom, bus, slot, fn = m.groups()
            slot_n = int(slot, 16)
            if slot_n > 0x1F:
                raise InputError(f"not a PCI address: {text!r} (slot {slot} is above 1f)")
            return cls(int(dom, 16) if dom else 0, int(bus, 16), slot_n, int(fn))
        m = _NODEDEV.match(stripped)
        if m:
            dom, bus, slot, fn = m.groups()
            slot_n = int(slot, 16)
            if slot_n > 0x1F:
                raise InputError(f"not a PCI address: {text!r} (slot {slot} is above 1f)")
            return cls(int(dom, 16), int(bus, 16), slot_n, int(fn))
        raise InputError(
            f"not a PCI address: {text!r}",
            fix="use the form 0000:0b:00.0 (domain:bus:slot.function) as lspci -D prints it",
        )

    @classmethod
    def try_parse(cls, text: str) -> PciAddress | None:
        """Like parse(), but None instead of an error (for directory names that may be anything)."""
        try:
            return cls.parse(text)
        except InputError:
            return None

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @property
    def short(self) -> str:
        """bus:slot.function, with the domain only when it is not 0 (lspci style)."""
        if self.domain:
            return str(self)
        return f"{self.bus:02x}:{self.slot:02x}.{self.function:x}"

    @property
    def slot_key(self) -> tuple[int, int, int]:
        """(domain, bus, slot): functions with the same key are one physical device."""
        return (self.domain, self.bus, self.slot)

    @property
    def nodedev_name(self) -> str:
        """libvirt's node device name: pci_0000_0b_00_0."""
        return f"pci_{self.domain:04x}_{self.bus:02x}_{self.slot:02x}_{self.function:x}"
