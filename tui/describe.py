"""Provides the detail panel's text for a group or a device, and the filter's haystack.

Pure functions over core's values (the inventory and the domain facts), so they are tested
without running the app. What decides the group comes first — what blocks it and how to free it,
or which VM has it — then why the group is shaped so, then the members. Text from the host is
appended as plain text, never parsed as markup.
"""

from __future__ import annotations

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import ACS_RELEVANT_PORTS, NEEDS_ROOT, AcsState, HostInventory, PciDevice
from vfio_tui.tui.gpu_view import gpu_rows
from vfio_tui.tui.rows import STATE_STYLE, Holds, acs_badge, device_badges, group_state, running_holds, short
from vfio_tui.tui.safe_text import SafeText as Text


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
    for slot in sorted(slots):
        funcs = [d for d in multi if (d.address.domain, d.address.bus, d.address.slot) == slot]
        if len(funcs) > 1 and not any(isinstance(d.acs, AcsState) and d.acs.isolates for d in funcs):
            out.append(f"{funcs[0].address.short[:-2]}.* is one multifunction device without ACS: its "
                       f"{len(funcs)} functions stay together")
    return out


def what_it_takes(inv: HostInventory, gid: int, holds: Holds) -> list[tuple[str, str]]:
    """(line, style) pairs: what blocks the group and how to free it, which VM has it, or what
    passing it through would take, in the order vfio-tui would do it."""
    verdict = inv.verdicts.get(gid)
    members = inv.members(gid)
    if verdict is None:
        return [("no verdict for this group", "red")]
    running = sorted({h.vm for d in members for h in running_holds(holds, d.address)})
    if running:
        vms = ", ".join(running)
        return [(f"passed through: {vms} runs with it (its QEMU has the group)", "bold blue"),
                ("to give it back: d (on the devices screen) undoes the run that put it there: it stops"
                 " the VM or hot-unplugs it first, then gives the drivers back", "")]
    if verdict.kind == "blocked":
        out: list[tuple[str, str]] = []
        for reason in verdict.reasons:
            out.append((f"✗ {reason}", "red"))
        for dev in members:
            for use in inv.uses_of(dev.address):
                if use.fix:
                    out.append((f"  to free {dev.address.short} ({use.kind}): {use.fix}", ""))
        return out
    steps: list[tuple[str, str]] = []
    for dev in members:
        if dev.is_bridge:
            continue
        if dev.on_vfio:
            steps.append((f"{dev.address.short} is on vfio-pci already", "green"))
        else:
            steps.append((f"{dev.address.short}: unbind {dev.driver or '(no driver)'}, bind vfio-pci "
                          "(driver_override)", ""))
    defined = sorted({h.vm for d in members for h in holds.get(d.address, ())})
    if defined:
        steps.append((f"in the definition of {', '.join(defined)} (not running): start it, or p for another VM", ""))
    else:
        steps.append(("add every endpoint as a <hostdev> to a VM and start it (p)", ""))
    return steps


def group_detail(inv: HostInventory, gid: int, holds: Holds) -> Text:
    state = group_state(inv, gid, holds)
    verdict = inv.verdicts.get(gid)
    text = Text()
    text.append(f"IOMMU group {gid}: ", style="bold")
    text.append(f"{state}\n", style=STATE_STYLE[state])
    title = {"blocked": "What blocks it", "in VM": "Where it is"}.get(state, "Passing it through would take")
    text.append(f"{title}\n", style="bold underline")
    for line, style in what_it_takes(inv, gid, holds):
        text.append(f"  {line}\n", style=style)
    gaps = isolation_gaps(inv, gid)
    text.append("Why this group is shaped so\n", style="bold underline")
    if gaps:
        for gap in gaps:
            text.append(f"  • {gap}\n")
    elif not any(d.upstream for d in inv.members(gid)):
        text.append("  on the root bus, with no port above: the platform's IOMMU tables decide its group\n")
    else:
        text.append("  every port above isolates it (ACS on): the group is as small as the hardware allows\n")
    text.append("Members\n", style="bold underline")
    for dev in inv.members(gid):
        text.append(f"  {dev.address.short} ")
        text.append(f"{dev.driver or 'no driver'} ", style="cyan")
        for badge in device_badges(inv, dev, holds):
            if badge.safety:
                text.append_text(badge.render())
                text.append(" ")
        text.append(f"{short(dev.device_name or dev.name, 40)}\n")
    if verdict:
        for note in verdict.notes:
            text.append(f"  note: {note}\n", style="dim")
    return text


def device_detail(inv: HostInventory, dev: PciDevice, holds: Holds) -> Text:
    """The device first (what uses it, which VM has it), then its group."""
    text = Text()
    text.append(f"{dev.address}  ", style="bold")
    text.append(f"{dev.name}\n")
    rows: list[tuple[str, str, str]] = []
    for use in inv.uses_of(dev.address):
        rows.append(("host uses", use.describe(), "red"))
    for hold in holds.get(dev.address, ()):
        where = "running: its QEMU has it" if hold.active and hold.live else hold.state
        rows.append(("in VM", f"{hold.vm} ({where})", "blue"))
    if dev.iommu_group is not None:
        state = group_state(inv, dev.iommu_group, holds)
        rows.insert(0, ("group", f"{dev.iommu_group}: {state} (why: below)", STATE_STYLE[state]))
    else:
        rows.insert(0, ("group", "none (IOMMU off?)", "red"))
    rows += [
        ("driver", (dev.driver or "none") + (f"  (override {dev.driver_override})"
                                             if dev.driver_override else ""), ""),
        ("kind", f"{dev.kind_label} [class {dev.class_code}]", ""),
        ("ids", f"{dev.ids}" + (f" (subsystem {dev.subsystem_vendor_id}:{dev.subsystem_device_id})"
                                if dev.subsystem_vendor_id else ""), ""),
    ]
    if dev.parent is not None:
        rows.append(("behind", dev.parent.short, ""))
    if isinstance(dev.acs, AcsState):
        rows.append(("ACS", f"on: {' '.join(dev.acs.ctrl_flags) or 'nothing'}; "
                            f"can: {' '.join(dev.acs.cap_flags) or 'nothing'}", ""))
    elif dev.acs == NEEDS_ROOT:
        rows.append(("ACS", "needs root to read", ""))
    elif acs_badge(dev):
        rows.append(("ACS", "none: this port does not isolate what is below it", "red"))
    if not dev.is_bridge:
        methods = dev.reset_methods if isinstance(dev.reset_methods, str) else " ".join(dev.reset_methods)
        rows.append(("reset", methods or "none", "" if methods else "red"))
    if dev.net_interfaces:
        rows.append(("net", ", ".join(dev.net_interfaces), ""))
    if dev.sriov_total_vfs is not None:
        rows.append(("SR-IOV", f"{dev.sriov_num_vfs or 0}/{dev.sriov_total_vfs} VFs enabled", ""))
    if dev.physfn is not None:
        rows.append(("VF of", dev.physfn.short, ""))
    rows += [(key, value, "") for key, value in gpu_rows(inv, dev)]
    for key, value, style in rows:
        text.append(f"{key:>9}  ", style="dim")
        text.append(f"{value}\n", style=style)
    if dev.iommu_group is not None:
        text.append("\n")
        text.append_text(group_detail(inv, dev.iommu_group, holds))
    return text


def haystack(inv: HostInventory, dev: PciDevice, holds: Holds, state: str | None = None) -> str:
    """Everything the filter matches a device by, lower-case: address, names, class, driver, ids,
    interface names, what the host uses it for (mount points, block devices, routes, sessions), the
    VMs that have it, its badges and its group's state (`state`, when the caller has it already)."""
    parts = [str(dev.address), dev.name, dev.kind_label, dev.class_code, dev.class_name or "", dev.driver or "",
             dev.driver_override or "", dev.ids, *dev.net_interfaces]
    parts += [f"{u.kind} {u.detail}" for u in inv.uses_of(dev.address)]
    if holds:
        parts += [f"{h.vm} {h.state}" for h in holds.get(dev.address, ())]
    parts += [b.text for b in device_badges(inv, dev, holds)]
    if state is not None:
        parts.append(state)
    elif dev.iommu_group is not None:
        parts.append(group_state(inv, dev.iommu_group, holds))
    return " ".join(parts).lower()

