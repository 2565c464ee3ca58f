"""Provides the `--for ADDR` checks: the device's group (viability, members, host users),
its reset capability, and for a GPU the boot VGA / firmware framebuffer that may hold it
(kernel-semantics A1, A3 and the "BAR conflicts" check).
"""

from __future__ import annotations

import re

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.model import NEEDS_ROOT, HostInventory, PciDevice

_FB_NAMES = re.compile(r"BOOTFB|efifb|simplefb|simple-framebuffer|simpledrm|vesafb|VESA VGA|EFI VGA", re.I)


def _device(ctx: CheckContext, cid: str, title: str) -> tuple[HostInventory | None, PciDevice | None,
                                                              CheckResult | None]:
    inv = ctx.inventory()
    if inv is None:
        return None, None, cannot_tell(cid, title, f"the PCI inventory cannot be read: {ctx.inventory_error}",
                                       status="warn")
    assert ctx.for_address is not None
    dev = inv.device(ctx.for_address)
    if dev is None:
        return inv, None, cannot_tell(cid, title, f"there is no PCI device {ctx.for_address} on this host",
                                      status="fail")
    return inv, dev, None


def _member_line(inv: HostInventory, d: PciDevice) -> str:
    kind = "bridge" if d.is_bridge else "endpoint"
    return f"{d.address} {d.name} ({kind}, driver {d.driver or 'none'})"


def check_group(ctx: CheckContext) -> CheckResult:
    cid, title = "device-group", f"IOMMU group of {ctx.for_address}"
    inv, dev, early = _device(ctx, cid, title)
    if early is not None:
        return early
    assert inv is not None and dev is not None
    if dev.iommu_group is None:
        return CheckResult(cid, title, "fail", "the device has no IOMMU group: the IOMMU is off",
                           (f"/sys/bus/pci/devices/{dev.address}/iommu_group: missing",),
                           "see the iommu-kernel check")
    gid = dev.iommu_group
    members = inv.members(gid)
    ev = [f"/sys/kernel/iommu_groups/{gid}/devices: {len(members)} member(s)"]
    ev += ["  " + _member_line(inv, m) for m in members]
    verdict = inv.verdicts.get(gid)
    notes = tuple(verdict.notes) if verdict else ()
    if dev.is_bridge:
        return CheckResult(cid, title, "fail", f"{dev.address} is a bridge/port: vfio-pci refuses bridges",
                           tuple(ev), "pass an endpoint behind it instead", notes=notes)
    if verdict is None:
        return cannot_tell(cid, title, "no verdict for this group", evidence=tuple(ev))
    if verdict.kind == "ready":
        return CheckResult(cid, title, "pass", f"group {gid} is viable: every endpoint is on vfio-pci",
                           tuple(ev), notes=notes)
    if verdict.kind == "bindable":
        others = [m for m in members if not m.is_bridge and m.address != dev.address]
        extra = f" together with {', '.join(str(m.address) for m in others)}" if others else ""
        return CheckResult(cid, title, "warn", f"group {gid} is not viable yet: bind it to vfio-pci{extra}",
                           tuple(ev), f"vfio-tui bind {dev.address}   # binds the whole group, shows the plan first"
                           "\n(or use managed='yes' in the <hostdev>: libvirt detaches it at VM start)", notes=notes)
    return CheckResult(cid, title, "fail", f"group {gid} is blocked: " + "; ".join(verdict.reasons), tuple(ev),
                       "free the members listed, pass a device from another group, or move the card to a slot"
                       " whose group it does not share (pcie_acs_override is not a fix: it fakes isolation)",
                       notes=notes)


def check_host_use(ctx: CheckContext) -> CheckResult:
    cid, title = "device-host-use", f"Host users of {ctx.for_address}'s group"
    inv, dev, early = _device(ctx, cid, title)
    if early is not None:
        return early
    assert inv is not None and dev is not None
    members = inv.members(dev.iommu_group) if dev.iommu_group is not None else [dev]
    uses = [(m, u) for m in members for u in inv.uses_of(m.address) if u.blocking]
    aside = tuple(f"{m.address}: {u.describe()}" + (f" ({u.fix})" if u.fix else "")
                  for m in members for u in inv.uses_of(m.address) if not u.blocking)
    if not uses:
        return CheckResult(cid, title, "pass", "nothing on the host is known to use the group's devices",
                           tuple(f"{m.address}: no host use" for m in members), notes=aside)
    ev = tuple(f"{m.address}: {u.describe()}" for m, u in uses)
    fixes = [f"{m.address}: {u.fix}" for m, u in uses if u.fix]
    return CheckResult(cid, title, "fail", f"{len(uses)} host use(s): passing the group through takes them away",
                       ev, "\n".join(fixes) or "stop using these devices on the host first", notes=aside)


def check_reset(ctx: CheckContext) -> CheckResult:
    cid, title = "device-reset", f"Reset capability of {ctx.for_address}"
    inv, dev, early = _device(ctx, cid, title)
    if early is not None:
        return early
    assert inv is not None and dev is not None
    methods = dev.reset_methods
    if methods == NEEDS_ROOT:
        return cannot_tell(cid, title, "reading the reset capabilities needs root (config space beyond 64 bytes)")
    ev = (f"/sys/bus/pci/devices/{dev.address}/reset_method: {' '.join(methods) or '(empty)'}",
          f"FLR: {dev.flr}")
    if not methods:
        return CheckResult(cid, title, "warn", "no reset method: the device carries state from one VM to the next"
                           " (libvirt: \"no FLR, PM reset or bus reset available\")", ev,
                           "expect to reboot the host between uses, or check for a vendor reset quirk (vendor-reset)")
    if any(m in methods for m in ("flr", "af_flr", "device_specific", "acpi")):
        return CheckResult(cid, title, "pass", f"function-level reset available ({' '.join(methods)})", ev)
    if "pm" in methods:
        return CheckResult(cid, title, "pass", "PM reset (D3hot→D0) available", ev,
                           notes=("a PM reset may not reset everything on some devices",))
    sharing = [d for d in inv if d.parent == dev.parent and d.address.slot_key != dev.address.slot_key
               and not d.is_bridge] if dev.parent else []
    note = (f"the bus reset also resets {', '.join(str(d.address) for d in sharing)}" if sharing else
            "the bus reset covers only this slot")
    return CheckResult(cid, title, "warn", "only a secondary bus reset: it resets everything below the parent bridge,"
                       " and QEMU needs every affected group owned by the VM", ev,
                       "pass every device on that bus to the same VM, or accept that reset may fail"
                       " (\"Cannot reset device ..., depends on group ... which is not owned\")", notes=(note,))


def _iomem_fb_hits(ctx: CheckContext, dev: PciDevice) -> list[str]:
    iomem = ctx.read("/proc/iomem").text
    res = ctx.read(f"/sys/bus/pci/devices/{dev.address}/resource").text
    if not iomem or not res:
        return []
    bars = []
    for line in res.splitlines()[:6]:
        parts = line.split()
        if len(parts) >= 2:
            start, end = int(parts[0], 16), int(parts[1], 16)
            if end > start:
                bars.append((start, end))
    hits = []
    for line in iomem.splitlines():
        if not _FB_NAMES.search(line):
            continue
        rng = line.strip().split(" : ")[0]
        try:
            a, b = (int(x, 16) for x in rng.split("-"))
        except ValueError:
            continue
        if any(a >= s and b <= e for s, e in bars):
            hits.append(f"/proc/iomem: {line.strip()}")
    return hits


def check_boot_vga(ctx: CheckContext) -> CheckResult:
    cid, title = "device-boot-vga", f"Boot VGA / firmware framebuffer on {ctx.for_address}"
    inv, dev, early = _device(ctx, cid, title)
    if early is not None:
        return early
    assert inv is not None and dev is not None
    if not dev.class_code.startswith("03"):
        return CheckResult(cid, title, "n/a", "not a display controller", (f"class {dev.class_code}",))
    ev = [f"/sys/bus/pci/devices/{dev.address}/boot_vga: {1 if dev.boot_vga else 0}"]
    hits = _iomem_fb_hits(ctx, dev)
    ev += hits
    consoles = [c for c in ctx.host.extras.get("consoles", [])
                if isinstance(c, dict) and c.get("pci") == str(dev.address)]
    ev += [f"console: {c.get('kind')} on {c.get('fb')} ({c.get('driver')})" for c in consoles]
    fbs = ctx.read("/proc/fb").text or ""
    fw_fb = [line.strip() for line in fbs.splitlines() if _FB_NAMES.search(line)]
    ev += [f"/proc/fb: {line}" for line in fw_fb]
    if not dev.boot_vga and not hits and not consoles:
        return CheckResult(cid, title, "pass", "not the boot GPU; no firmware framebuffer on it", tuple(ev))
    fix = ("keep the host console off this GPU: unbind the framebuffer console (echo 0 >"
           " /sys/class/vtconsole/vtcon1/bind) before binding; to stop the firmware framebuffer at boot add"
           " `initcall_blacklist=sysfb_init` (kernels with simpledrm/sysfb, ≥ 5.15) or `video=efifb:off`"
           " (older efifb) to the kernel command line; or make another GPU the primary one in the firmware")
    what = "it is the boot VGA device" if dev.boot_vga else "a framebuffer uses it"
    return CheckResult(cid, title, "warn", f"{what}: the firmware framebuffer (efifb/simplefb/simpledrm) may hold"
                       " its BAR (QEMU: \"BAR ... Device or resource busy\") and the host console is on it",
                       tuple(ev), fix)


