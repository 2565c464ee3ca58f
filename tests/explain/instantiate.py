"""Fill a source format string with realistic values and the prefix its printer adds.

Used by test_inventory.py and scripts/explain_coverage.py: "vfio %s: group %d is not viable" from
QEMU becomes the line a user sees in a libvirt QEMU log.
"""

from __future__ import annotations

import re

from vfio_tui.core.explain.fmtmatch import _CONV
from vfio_tui.core.explain.sources import Message

BDF = "0000:02:00.0"
_PREFIX = {
    "dev": "vfio-pci 0000:02:00.0: ",
    "pr": "[  812.331245] ",
    "qemu": "2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: "
            "vfio 0000:02:00.0: ",
    "libvirt": "error: internal error: ",
    "xen": "libxl: error: libxl_pci.c:1508:pci_add_dm_done: Domain 3:",
}
_RESOURCE = "[mem 0xc0000000-0xcfffffff 64bit pref]"


def _value(spec: str, before: str) -> str:
    low = before.lower()
    conv = spec[-1]
    if spec.startswith("%p"):
        return {"R": _RESOURCE, "e": "-EBUSY"}.get(spec[2:3], "0xffff9a0c4b2f0000")
    if conv == "m":
        return "Device or resource busy"
    if conv in "diu":
        return "13"
    if conv in "xXo":
        return "1f"
    if conv == "c":
        return "x"
    if conv in "fFeEgG":
        return "1.5"
    if low.endswith(("context '", "label '", "context ")):
        return "system_u:object_r:vfio_device_t:s0"
    if low.endswith(("device ", "device '", "devices ", "for ", "for '", "pci ")) or "pci" in low or "device" in low:
        return BDF
    if not low or low.endswith(("open ", "open '", "access ", "path ", " on ", " on '", "'", " ", "(")):
        return "/dev/vfio/13"
    if low.endswith(("driver ", "driver '", "from ")):
        return "e1000e"
    if low.endswith(("domain ", "domain '", "vm='")):
        return "win10"
    return BDF


def fill(fmt: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _CONV.finditer(fmt):
        out.append(fmt[pos:m.start()])
        out.append("%" if m.group(0) == "%%" else _value(m.group(0), "".join(out)[-20:]))
        pos = m.end()
    out.append(fmt[pos:])
    return re.sub(r"\s*\n\s*", " ", "".join(out))


def instantiate(msg: Message) -> str:
    """The line as printed: printer prefix + filled format (+ strerror for the errno printers)."""
    text = fill(msg.format)
    if msg.errno_tail:
        text += ": Device or resource busy"
    if msg.project == "linux":
        prefix = _PREFIX["dev"] if msg.kind == "dev" else _PREFIX["pr"]
        if msg.kind == "pr" and "vfio" not in text.lower() and msg.file.startswith("drivers/vfio"):
            prefix += "vfio-pci: "
    elif msg.project == "qemu":
        prefix = _PREFIX["qemu"]
    elif msg.project == "libvirt":
        prefix = _PREFIX["libvirt"]
    elif msg.project == "xen":
        prefix = _PREFIX["xen"] if msg.file.startswith("tools/") else "(XEN) "
    else:
        prefix = ""
    return prefix + text
