"""Provides what vfio-tui knows about GPUs that a host cannot tell (core/data/gpu.json, every entry with
its sources): the families without a working reset, how each driver lets go of a card, the firmware
framebuffer drivers, and the obsolete advice of GPU guides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

DATA: Final = Path(__file__).resolve().parent.parent / "data" / "gpu.json"

#: Platform drivers of firmware framebuffers, as sysfs names them (/sys/bus/platform/drivers/NAME).
FIRMWARE_FB_DRIVERS: Final = ("simple-framebuffer", "efi-framebuffer", "vesa-framebuffer")
#: fb names a firmware framebuffer registers (/sys/class/graphics/fbN/name, /proc/fb).
FIRMWARE_FB_NAMES: Final = ("simpledrm", "simplefb", "simple", "EFI VGA", "VESA VGA", "efifb", "vesafb")


@dataclass(frozen=True, slots=True)
class ResetBug:
    """A GPU family whose reset does not work (known, by device id)."""

    family: str
    vendor_reset: bool
    """gnif/vendor-reset supports it."""
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DriverInfo:
    """How a GPU driver lets go of a card."""

    name: str
    clean_unbind: bool
    """False: unbinding it while its stack is loaded can hang (its modules are unloaded instead)."""
    why: str = ""
    sources: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    """Device-node prefixes of the whole driver (/dev/nvidia*, /dev/kfd), beside /dev/dri."""


@dataclass(frozen=True, slots=True)
class ObsoleteAdvice:
    id: str
    advice: str
    status: str
    instead: str
    sources: tuple[str, ...] = ()


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def reset_bug(vendor_id: str, device_id: str) -> ResetBug | None:
    """The known reset problem of this card's family, or None."""
    for entry in _data()["reset_bugs"]:
        if entry["vendor"] == vendor_id.lower() and device_id.lower() in entry["devices"]:
            return ResetBug(entry["family"], bool(entry.get("vendor_reset")), tuple(entry.get("sources", ())))
    return None


def reset_bug_effect() -> str:
    return str(_data()["reset_bug_effect"])


def vendor_reset_note() -> str:
    return str(_data()["vendor_reset_note"])


def driver_info(name: str | None) -> DriverInfo | None:
    """What is known about a GPU driver (None: not a GPU driver vfio-tui knows)."""
    if not name:
        return None
    entry = _data()["drivers"].get(name)
    if entry is None:
        return None
    return DriverInfo(name, bool(entry.get("clean_unbind", True)), str(entry.get("why", "")),
                      tuple(entry.get("sources", ())), tuple(entry.get("nodes", ())))


def gpu_drivers() -> frozenset[str]:
    return frozenset(_data()["drivers"])


def obsolete_advice(ident: str) -> ObsoleteAdvice:
    for entry in _data()["obsolete_advice"]:
        if entry["id"] == ident:
            return ObsoleteAdvice(entry["id"], entry["advice"], entry["status"], entry["instead"],
                                  tuple(entry.get("sources", ())))
    raise KeyError(ident)


def is_firmware_fb(name: str) -> bool:
    """Whether an fb name (/proc/fb, /sys/class/graphics/fbN/name) is a firmware framebuffer's."""
    low = name.strip().lower()
    return any(low == n.lower() or low.startswith(n.lower()) for n in FIRMWARE_FB_NAMES)
