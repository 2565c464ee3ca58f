"""Provides check_gpu_extras(): the strict checks of a recording's GPU facts (`vfio_tui.gpu`, rendered into a
simulated tree by core/simulated/gpu_tree.py) before anything is built from them. Every value that becomes a
path component — a card's address, DRM/sound/fb node names, vtconsole and platform device names, module,
unit and driver names — must be one plain name (or a canonical PCI address); the /proc/iomem lines are
bounded text; ROMs are hex of at most 16 MiB; processes' open files are absolute /dev paths (they become
link targets that are only ever read, never followed).
"""

from __future__ import annotations

import re
from typing import Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.snapshot_schema import SchemaError, is_name

MAX_ROM_HEX: Final = 2 * 16 * 1024 * 1024
_NODE: Final = re.compile(r"^/dev/(dri/(card|renderD)\d{1,4}|nvidia[a-z0-9-]{0,16}|snd/[A-Za-z0-9]{1,32}"
                          r"|fb\d{1,3}|kfd)$")
_IOMEM_TAG: Final = re.compile(r"^(sysfb|fbdrv|claim):[A-Za-z0-9_.:-]{1,64}$")


def _address(value: object, where: str) -> str:
    if not isinstance(value, str) or PciAddress.try_parse(value) is None or value != str(PciAddress.parse(value)):
        raise SchemaError(f"{where}: {str(value)[:40]!r} is not a PCI address")
    return value


def _names(values: object, where: str) -> None:
    if not isinstance(values, list) or not all(is_name(v) for v in values):
        raise SchemaError(f"{where}: not a list of plain names")


def _check_card(addr: str, card: Any, where: str) -> None:
    if not isinstance(card, dict):
        raise SchemaError(f"{where}: not an object")
    if card.get("driver") is not None and not is_name(card["driver"]):
        raise SchemaError(f"{where}.driver: not a plain name")
    for key in ("drm", "sound"):
        _names(card.get(key, []), f"{where}.{key}")
    for fb in card.get("fb", []) if isinstance(card.get("fb", []), list) else [None]:
        if not isinstance(fb, dict) or not is_name(fb.get("fb")) or not isinstance(fb.get("name"), str):
            raise SchemaError(f"{where}.fb: not a list of {{fb, name}}")
    minor = card.get("nvidia_minor")
    if minor is not None and (not isinstance(minor, int) or isinstance(minor, bool) or not 0 <= minor < 256):
        raise SchemaError(f"{where}.nvidia_minor: not a minor number")


def check_gpu_extras(gpu: object) -> None:
    """Raise SchemaError unless `gpu` is usable GPU facts (see the module docstring)."""
    if not isinstance(gpu, dict):
        raise SchemaError("vfio_tui.gpu: not an object")
    where = "vfio_tui.gpu"
    for i, line in enumerate(gpu.get("iomem", [])):
        if (not isinstance(line, list) or len(line) != 4 or not isinstance(line[0], int) or not 0 <= line[0] <= 64
                or not all(isinstance(x, str) and len(x) <= 200 for x in line[1:3])
                or (line[3] is not None and not (isinstance(line[3], str) and _IOMEM_TAG.match(line[3])))):
            raise SchemaError(f"{where}.iomem[{i}]: not [indent, range, name, tag]")
    for i, vt in enumerate(gpu.get("vtconsoles", [])):
        if not isinstance(vt, dict) or not is_name(vt.get("name")) or not isinstance(vt.get("desc"), str):
            raise SchemaError(f"{where}.vtconsoles[{i}]: not {{name, desc, bind}}")
    for i, pf in enumerate(gpu.get("platform_fbs", [])):
        if not isinstance(pf, dict) or not is_name(pf.get("device")) or not is_name(pf.get("driver")):
            raise SchemaError(f"{where}.platform_fbs[{i}]: not {{device, driver, ...}}")
        if pf.get("pci") is not None:
            _address(pf["pci"], f"{where}.platform_fbs[{i}].pci")
        fb = pf.get("fb")
        if fb is not None and (not isinstance(fb, dict) or not is_name(fb.get("fb"))):
            raise SchemaError(f"{where}.platform_fbs[{i}].fb: not {{fb, name}}")
    cards = gpu.get("cards", {})
    if not isinstance(cards, dict):
        raise SchemaError(f"{where}.cards: not an object")
    for addr, card in cards.items():
        _check_card(_address(addr, f"{where}.cards"), card, f"{where}.cards.{addr}")
    for i, mod in enumerate(gpu.get("modules", [])):
        if not isinstance(mod, dict) or not is_name(mod.get("name")):
            raise SchemaError(f"{where}.modules[{i}]: no plain name")
        _names(mod.get("users", []), f"{where}.modules[{i}].users")
        if mod.get("driver") is not None and not is_name(mod["driver"]):
            raise SchemaError(f"{where}.modules[{i}].driver: not a plain name")
        params = mod.get("params", {})
        if not isinstance(params, dict) or not all(is_name(k) and isinstance(v, str) for k, v in params.items()):
            raise SchemaError(f"{where}.modules[{i}].params: not {{name: text}}")
        if not all(isinstance(n, str) and _NODE.match(n) for n in mod.get("nodes", [])):
            raise SchemaError(f"{where}.modules[{i}].nodes: not /dev nodes of a GPU")
    for i, proc in enumerate(gpu.get("processes", [])):
        pid = proc.get("pid") if isinstance(proc, dict) else None
        if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < 1 << 22 or not is_name(proc.get("comm")):
            raise SchemaError(f"{where}.processes[{i}]: not {{pid, comm, ...}}")
        if not all(isinstance(n, str) and _NODE.match(n) for n in proc.get("open", [])):
            raise SchemaError(f"{where}.processes[{i}].open: not /dev nodes of a GPU")
        if proc.get("stops_with") is not None and not is_name(proc["stops_with"]):
            raise SchemaError(f"{where}.processes[{i}].stops_with: not a unit name")
    services = gpu.get("services", {})
    if not isinstance(services, dict) or not all(is_name(k) for k in services):
        raise SchemaError(f"{where}.services: not {{unit: ...}}")
    if gpu.get("display_manager") is not None and not is_name(gpu["display_manager"]):
        raise SchemaError(f"{where}.display_manager: not a unit name")
    roms = gpu.get("roms", {})
    if not isinstance(roms, dict):
        raise SchemaError(f"{where}.roms: not an object")
    for addr, hexdata in roms.items():
        _address(addr, f"{where}.roms")
        if not isinstance(hexdata, str) or len(hexdata) > MAX_ROM_HEX or not re.fullmatch(r"[0-9a-fA-F]*", hexdata):
            raise SchemaError(f"{where}.roms.{addr}: not hex of at most 16 MiB")
