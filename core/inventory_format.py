"""Provides the inventory as text (a tree per group) and as JSON (schema vfio-tui/inventory/1)."""

from __future__ import annotations

from typing import Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import NEEDS_ROOT, AcsState, GpuInfo, HostInventory, HostUse, PciDevice
from vfio_tui.core.sriovinfo.format import pf_text, sriov_json, vf_lines

INVENTORY_SCHEMA: Final = "vfio-tui/inventory/1"

_COLORS: Final = {"ready": "\x1b[32m", "bindable": "\x1b[36m", "blocked": "\x1b[31m", "dim": "\x1b[2m",
                  "bold": "\x1b[1m", "reset": "\x1b[0m"}


def acs_json(dev: PciDevice) -> Any:
    if isinstance(dev.acs, AcsState):
        return {"cap": dev.acs.cap, "ctrl": dev.acs.ctrl, "cap_flags": dev.acs.cap_flags,
                "ctrl_flags": dev.acs.ctrl_flags, "isolates": dev.acs.isolates}
    return dev.acs  # None or "needs root"


def device_json(inv: HostInventory, dev: PciDevice) -> dict[str, Any]:
    """One function as JSON (the keys of vfio-tui/inventory/1, plus more)."""
    uses = inv.uses_of(dev.address)
    return {
        "address": str(dev.address),
        "vendor_id": dev.vendor_id,
        "device_id": dev.device_id,
        "class": dev.class_short,
        "class_code": dev.class_code,
        "class_name": dev.class_name,
        "name": dev.name,
        "vendor_name": dev.vendor_name,
        "device_name": dev.device_name,
        "revision": dev.revision,
        "subsystem": (f"{dev.subsystem_vendor_id}:{dev.subsystem_device_id}"
                      if dev.subsystem_vendor_id is not None else None),
        "driver": dev.driver,
        "driver_override": dev.driver_override,
        "iommu_group": dev.iommu_group,
        "is_bridge": dev.is_bridge,
        "header_type": dev.header_type,
        "pcie_port_type": dev.pcie_port_type,
        "acs": acs_json(dev),
        "reset_methods": list(dev.reset_methods) if isinstance(dev.reset_methods, tuple) else NEEDS_ROOT,
        "flr": dev.flr,
        "boot_vga": dev.boot_vga,
        "multifunction": dev.multifunction,
        "sriov": sriov_json(inv, dev),
        "physfn": str(dev.physfn) if dev.physfn else None,
        "parent": str(dev.parent) if dev.parent else None,
        "on_vfio": dev.on_vfio,
        "net_interfaces": list(dev.net_interfaces),
        "host_use": [u.describe() for u in uses],
        "host_use_detail": uses_json(uses),
        "gpu": gpu.to_json() if (gpu := inv.gpu.get(dev.address)) is not None else None,
    }


def uses_json(uses: tuple[HostUse, ...]) -> list[dict[str, Any]]:
    """The `host_use_detail` of a device."""
    return [{"kind": u.kind, "detail": u.detail, "fix": u.fix, "blocking": u.blocking} for u in uses]


def inventory_head(inv: HostInventory, label: str | None) -> dict[str, Any]:
    """The keys of the inventory JSON before its groups."""
    return {
        "schema": INVENTORY_SCHEMA,
        "host": label,
        "kernel": inv.kernel,
        "iommu_enabled": inv.iommu_enabled,
        "iommu_units": list(inv.iommu_units),
        "privileged": inv.privileged,
        "host_use_recorded": inv.host_use_known,
    }


def inventory_json(inv: HostInventory, label: str | None = None) -> dict[str, Any]:
    """The whole inventory as the documented JSON object."""
    groups = []
    for gid in inv.groups:
        verdict = inv.verdicts.get(gid)
        groups.append({
            "id": gid,
            "devices": [device_json(inv, d) for d in inv.members(gid)],
            "verdict": verdict.kind if verdict else "blocked",
            "reasons": list(verdict.reasons) if verdict else [],
            "notes": list(verdict.notes) if verdict else [],
        })
    return {
        **inventory_head(inv, label),
        "groups": groups,
        "ungrouped_devices": [device_json(inv, d) for d in inv.ungrouped()],
    }


def _acs_text(dev: PciDevice) -> str | None:
    if dev.acs == NEEDS_ROOT:
        if dev.is_bridge or dev.multifunction:
            return "ACS: needs root"
        return None
    if isinstance(dev.acs, AcsState):
        on = " ".join(dev.acs.ctrl_flags) or "nothing"
        cap = " ".join(dev.acs.cap_flags) or "nothing"
        mark = "isolating" if dev.acs.isolates else "missing " + " ".join(dev.acs.missing)
        return f"ACS: {on} on (can {cap}; {mark})"
    if dev.pcie_port_type in ("root_port", "downstream_port"):
        return "ACS: none (port does not isolate)"
    return None


def _reset_text(dev: PciDevice) -> str:
    if dev.reset_methods == NEEDS_ROOT:
        return "reset: needs root"
    methods = dev.reset_methods
    return "reset: " + (" ".join(methods) if methods else "no reset")


def device_line(inv: HostInventory, dev: PciDevice) -> str:
    """One function on one line, lspci-like, with what matters for passthrough."""
    head = f"{dev.address.short} {dev.kind_label} [{dev.class_short}]: {dev.name} [{dev.ids}]"
    if dev.revision and dev.revision != "00":
        head += f" (rev {dev.revision})"
    bits = [f"driver: {dev.driver or 'none'}"]
    if dev.driver_override:
        bits.append(f"override: {dev.driver_override}")
    if dev.is_bridge:
        bits.append("bridge")
    acs = _acs_text(dev)
    if acs:
        bits.append(acs)
    if not dev.is_bridge:
        bits.append(_reset_text(dev))
        if dev.flr == NEEDS_ROOT:
            bits.append("FLR: needs root")
        elif dev.flr:
            bits.append("FLR")
    if dev.boot_vga:
        bits.append("boot VGA")
    if dev.sriov_total_vfs is not None:
        info = inv.sriov.get(dev.address)
        bits.append(pf_text(info) if info else f"SR-IOV PF: {dev.sriov_num_vfs or 0}/{dev.sriov_total_vfs} VFs enabled")
    if dev.physfn is not None:
        bits.append(f"VF of {dev.physfn.short}")
    if dev.net_interfaces:
        bits.append("net: " + ",".join(dev.net_interfaces))
    uses = inv.uses_of(dev.address)
    if any(u.blocking for u in uses):
        bits.append("HOST USES IT: " + "; ".join(u.describe() for u in uses if u.blocking))
    if any(not u.blocking for u in uses):
        bits.append("host (does not block): " + "; ".join(u.describe() for u in uses if not u.blocking))
    gpu = inv.gpu.get(dev.address)
    if gpu is not None and gpu.card == dev.address:
        bits.append(gpu_text(gpu))
    return head + "  " + "  ".join(bits)


def gpu_text(gpu: GpuInfo) -> str:
    """The card in one line: its functions, console, driver modules, reset problem."""
    parts = [f"GPU card: {len(gpu.functions)} function{'s' if len(gpu.functions) != 1 else ''}"
             + (" (the host's only GPU)" if gpu.single else "")]
    if gpu.console:
        parts.append(f"console: {gpu.console}")
    if gpu.framebuffers and not gpu.console:
        parts.append("framebuffer: " + ", ".join(gpu.framebuffers))
    if gpu.driver_stack:
        parts.append("modules: " + ", ".join(gpu.driver_stack))
    if gpu.reset:
        parts.append(f"RESET: {gpu.reset}")
    return "[" + "; ".join(parts) + "]"


def _walk(inv: HostInventory, members: tuple[PciAddress, ...], addr: PciAddress, prefix: str, last: bool,
          out: list[str], c: dict[str, str]) -> None:
    dev = inv.devices[addr]
    branch = "└─ " if last else "├─ "
    text = device_line(inv, dev)
    if dev.parent is not None and dev.parent not in members:
        pdev = inv.devices.get(dev.parent)
        pg = f", group {pdev.iommu_group}" if pdev and pdev.iommu_group is not None else ""
        text += f"  {c['dim']}(behind {dev.parent.short}{pg}){c['reset']}"
    out.append(f"  {prefix}{branch}{text}")
    kids = [a for a in members if inv.devices[a].parent == addr]
    # A PF's VFs sit in their own groups (below); listed here too, under their PF.
    out.extend(f"  {prefix}{'   ' if last else '│  '}{'│  ' if kids else '   '}{c['dim']}{line}{c['reset']}"
               for line in vf_lines(inv, dev))
    for i, kid in enumerate(kids):
        _walk(inv, members, kid, prefix + ("   " if last else "│  "), i == len(kids) - 1, out, c)


def format_inventory(inv: HostInventory, label: str | None = None, *, color: bool = False) -> str:
    """The inventory as a tree: group -> bridges/ports -> functions."""
    c = _COLORS if color else dict.fromkeys(_COLORS, "")
    out: list[str] = []
    n_fn = len(inv.devices)
    if label:
        out.append(f"{c['bold']}Host: {label}{c['reset']}")
    if inv.iommu_enabled:
        units = ", ".join(inv.iommu_units) or "no unit listed"
        n_groups = len(inv.groups)
        out.append(f"IOMMU: enabled ({units}); {n_groups} group{'s' if n_groups != 1 else ''}, {n_fn} PCI functions;"
                   f" kernel {inv.kernel or 'unknown'}")
    else:
        out.append(f"IOMMU: NOT enabled: /sys/kernel/iommu_groups is empty, so no device can be passed"
                   f" through. Enable VT-d/AMD-Vi in the firmware (and intel_iommu=on where the kernel"
                   f" default is off); `vfio-tui check` says how. {n_fn} PCI functions below.")
    if not inv.privileged:
        out.append("Not root: config space beyond 64 bytes is root-only, so ACS and FLR show 'needs root'.")
    if not inv.host_use_known:
        out.append(f"{c['blocked']}Host use: NOT RECORDED{c['reset']} for this host, so an empty 'host uses it' means"
                   " unknown, not unused; changes are refused without --assume-unused"
                   " (record the host with `vfio-tui snapshot` on it to include those facts).")
    for gid, group in inv.groups.items():
        verdict = inv.verdicts.get(gid)
        kind = verdict.kind if verdict else "blocked"
        out.append("")
        line = f"{c['bold']}Group {gid}{c['reset']}  {c[kind]}{kind}{c['reset']}"
        if kind == "bindable" and not inv.host_use_known:
            line += " (host use not recorded)"
        out.append(line)
        if verdict:
            for reason in verdict.reasons:
                out.append(f"  ! {reason}")
        members = set(group.members)
        roots = [a for a in group.members if inv.devices[a].parent not in members]
        for i, root in enumerate(roots):
            _walk(inv, group.members, root, "", i == len(roots) - 1, out, c)
    ungrouped = inv.ungrouped()
    if ungrouped:
        out.append("")
        out.append(f"{c['bold']}Devices without an IOMMU group{c['reset']} ({len(ungrouped)})")
        for dev in ungrouped:
            out.append(f"  {device_line(inv, dev)}")
    return "\n".join(out) + "\n"
