"""Provides the words the device screen shows: row labels with badges, and the detail panel text.

Pure functions over HostInventory (no widgets), so they are tested without running the app.
Text from the host is appended as plain text, never parsed as markup.
"""

from __future__ import annotations

from typing import Final

from core.address import PciAddress
from core.model import ACS_RELEVANT_PORTS, NEEDS_ROOT, AcsState, HostInventory, PciDevice
from tui.safe_text import SafeText as Text

VERDICT_STYLE: Final = {"ready": "bold green", "bindable": "bold yellow", "blocked": "bold red"}
"""Verdict colours: plain ANSI names so 16-colour terminals show them too."""


def short_name(dev: PciDevice, width: int = 24) -> str:
    name = dev.device_name or dev.name
    return name if len(name) <= width else name[: width - 1] + "…"


def acs_badge(dev: PciDevice) -> tuple[str, str] | None:
    """ACS ✓ / ✗ / needs root, for ports and multifunction devices (where ACS shapes groups)."""
    relevant = dev.pcie_port_type in ACS_RELEVANT_PORTS or dev.multifunction or isinstance(dev.acs, AcsState)
    if not relevant:
        return None
    if dev.acs == NEEDS_ROOT:
        return ("ACS ?root", "yellow")
    if isinstance(dev.acs, AcsState):
        return ("ACS ✓", "green") if dev.acs.isolates else ("ACS ✗", "red")
    if dev.pcie_port_type in ACS_RELEVANT_PORTS:
        return ("ACS ✗", "red")
    return None


def reset_badge(dev: PciDevice) -> tuple[str, str] | None:
    if dev.is_bridge:
        return None
    if dev.flr is True:
        return ("FLR", "green")
    if dev.reset_methods == NEEDS_ROOT or dev.flr == NEEDS_ROOT:
        return ("reset ?root", "yellow")
    if "bus" in dev.reset_methods:
        return ("bus reset", "yellow")
    if dev.reset_methods:
        return (f"{dev.reset_methods[0]} reset", "yellow")
    return ("no reset", "red")


def device_label(inv: HostInventory, dev: PciDevice, vm_of: dict[str, str]) -> Text:
    """A tree row: address, short name, driver, badges."""
    text = Text()
    text.append(dev.address.short, style="bold")
    text.append("  ")
    text.append(short_name(dev))
    text.append("  ")
    text.append(dev.driver or "no driver", style="dim" if dev.driver is None else "cyan")
    # Most important first: long rows are cut at the pane's edge.
    badges: list[tuple[str, str]] = []
    if inv.uses_of(dev.address):
        badges.append(("host-used", "bold red"))
    vm = vm_of.get(str(dev.address))
    if vm:
        badges.append((f"in VM {vm}", "bold magenta"))
    if dev.on_vfio:
        badges.append(("vfio-pci", "bold green"))
    for badge in (acs_badge(dev), reset_badge(dev)):
        if badge:
            badges.append(badge)
    if dev.boot_vga:
        badges.append(("boot VGA", "magenta"))
    if dev.sriov_num_vfs:
        badges.append((f"{dev.sriov_num_vfs} VFs", "red"))
    for label, style in badges:
        text.append(" ")
        text.append(f"[{label}]", style=style)
    return text


def group_label(inv: HostInventory, gid: int) -> Text:
    verdict = inv.verdicts.get(gid)
    kind = verdict.kind if verdict else "blocked"
    members = inv.members(gid)
    text = Text()
    text.append(f"Group {gid}", style="bold")
    text.append("  ")
    text.append(kind, style=VERDICT_STYLE[kind])
    ends = [d for d in members if not d.is_bridge]
    summary = ", ".join(short_name(d, 20) for d in ends[:2]) or "bridges only"
    if len(ends) > 2:
        summary += f" +{len(ends) - 2}"
    text.append(f"  {len(members)} fn  ", style="dim")
    text.append(summary)
    return text


def isolation_gaps(inv: HostInventory, gid: int) -> list[str]:
    """Why the group is shaped as it is: the ports above its members that do not isolate them."""
    members = inv.members(gid)
    member_set = {d.address for d in members}
    seen: set[PciAddress] = set()
    out: list[str] = []
    for dev in members:
        for up in dev.upstream:
            port = inv.devices.get(up)
            if port is None or up in seen or port.pcie_port_type not in ACS_RELEVANT_PORTS:
                continue
            seen.add(up)
            where = "in this group" if up in member_set else f"group {port.iommu_group}"
            if port.acs == NEEDS_ROOT:
                out.append(f"{up.short} ({port.kind_label}, {where}): ACS needs root to read")
            elif port.acs is None:
                out.append(f"{up.short} ({port.kind_label}, {where}) has no ACS capability, so everything "
                           "below it shares one group with it")
            elif isinstance(port.acs, AcsState) and not port.acs.isolates:
                out.append(f"{up.short} ({port.kind_label}, {where}) lacks ACS {' '.join(port.acs.missing)}")
    multi = [d for d in members if d.multifunction and not d.is_bridge]
    slots = {(d.address.domain, d.address.bus, d.address.slot) for d in multi}
    for slot in slots:
        funcs = [d for d in multi if (d.address.domain, d.address.bus, d.address.slot) == slot]
        if len(funcs) > 1 and not any(isinstance(d.acs, AcsState) and d.acs.isolates for d in funcs):
            out.append(f"{funcs[0].address.short[:-2]}.* is one multifunction device without ACS: its "
                       f"{len(funcs)} functions stay together")
    return out


def what_it_takes(inv: HostInventory, gid: int) -> list[str]:
    """What passing this group through would take, in the order vfio-tui would do it."""
    verdict = inv.verdicts.get(gid)
    members = inv.members(gid)
    if verdict is None:
        return ["no verdict for this group"]
    if verdict.kind == "blocked":
        return [f"blocked: {r}" for r in verdict.reasons]
    steps = []
    for dev in members:
        if dev.is_bridge:
            continue
        if dev.on_vfio:
            steps.append(f"{dev.address.short} is already on vfio-pci")
        else:
            steps.append(f"{dev.address.short}: unbind {dev.driver or '(no driver)'}, bind vfio-pci "
                         "(driver_override)")
    steps.append("add every endpoint as a <hostdev> to the VM and start it")
    return steps


def device_detail(inv: HostInventory, dev: PciDevice, vm_of: dict[str, str]) -> Text:
    text = Text()
    text.append(f"{dev.address}  ", style="bold")
    text.append(f"{dev.name}\n")
    rows = [
        ("kind", f"{dev.kind_label} [class {dev.class_code}]"),
        ("ids", f"{dev.ids}" + (f" (subsystem {dev.subsystem_vendor_id}:{dev.subsystem_device_id})"
                                if dev.subsystem_vendor_id else "")),
        ("driver", (dev.driver or "none") + (f"  (override {dev.driver_override})"
                                             if dev.driver_override else "")),
        ("group", str(dev.iommu_group) if dev.iommu_group is not None else "none (IOMMU off?)"),
    ]
    if dev.parent is not None:
        rows.append(("behind", dev.parent.short))
    acs = acs_badge(dev)
    if isinstance(dev.acs, AcsState):
        rows.append(("ACS", f"on: {' '.join(dev.acs.ctrl_flags) or 'nothing'}; "
                            f"can: {' '.join(dev.acs.cap_flags) or 'nothing'}"))
    elif dev.acs == NEEDS_ROOT:
        rows.append(("ACS", "needs root to read"))
    elif acs:
        rows.append(("ACS", "none: this port does not isolate what is below it"))
    if not dev.is_bridge:
        methods = dev.reset_methods if isinstance(dev.reset_methods, str) else " ".join(dev.reset_methods)
        rows.append(("reset", methods or "none"))
    if dev.net_interfaces:
        rows.append(("net", ", ".join(dev.net_interfaces)))
    if dev.sriov_total_vfs is not None:
        rows.append(("SR-IOV", f"{dev.sriov_num_vfs or 0}/{dev.sriov_total_vfs} VFs enabled"))
    if dev.physfn is not None:
        rows.append(("VF of", dev.physfn.short))
    for use in inv.uses_of(dev.address):
        rows.append(("host uses", use.describe()))
    if str(dev.address) in vm_of:
        rows.append(("in VM", vm_of[str(dev.address)]))
    for key, value in rows:
        text.append(f"{key:>10}  ", style="dim")
        text.append(f"{value}\n")
    if dev.iommu_group is not None:
        text.append("\n")
        text.append_text(group_detail(inv, dev.iommu_group, vm_of))
    return text


def group_detail(inv: HostInventory, gid: int, vm_of: dict[str, str]) -> Text:
    verdict = inv.verdicts.get(gid)
    kind = verdict.kind if verdict else "blocked"
    text = Text()
    text.append(f"IOMMU group {gid}: ", style="bold")
    text.append(f"{kind}\n", style=VERDICT_STYLE[kind])
    gaps = isolation_gaps(inv, gid)
    text.append("Why this group is shaped so\n", style="bold underline")
    if gaps:
        for gap in gaps:
            text.append(f"  • {gap}\n")
    elif not any(d.upstream for d in inv.members(gid)):
        text.append("  on the root bus, with no port above: the platform's IOMMU tables decide its group\n")
    else:
        text.append("  every port above isolates it (ACS on): the group is as small as the hardware allows\n")
    text.append("Passing it through would take\n", style="bold underline")
    for step in what_it_takes(inv, gid):
        text.append(f"  • {step}\n", style="red" if step.startswith("blocked") else "")
    text.append("Members\n", style="bold underline")
    for dev in inv.members(gid):
        text.append(f"  {dev.address.short} {short_name(dev, 22)} ")
        text.append(f"{dev.driver or 'no driver'}\n", style="cyan")
    if verdict:
        for note in verdict.notes:
            text.append(f"  note: {note}\n", style="dim")
    return text
