"""Provides the per-group passthrough verdict: ready, bindable or blocked (with reasons)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import GroupVerdict, HostInventory, HostUse, PciDevice


def _bridge_note(dev: PciDevice) -> str:
    where = f"{dev.address} ({dev.kind_label})"
    if dev.driver is None:
        return f"{where} has no driver and stays so; bridges cannot be assigned"
    if dev.keeps_group_viable:
        return f"{where} stays on {dev.driver}; bridges cannot be assigned"
    return (f"{where} is on {dev.driver}, which makes the group non-viable on Linux >= 5.19;"
            " binding unbinds it")


def verdict_for(members: list[PciDevice], host_use: Mapping[PciAddress, tuple[HostUse, ...]]) -> GroupVerdict:
    """Decide whether a group can go to vfio-pci as a whole."""
    endpoints = [d for d in members if not d.is_bridge]
    bridges = [d for d in members if d.is_bridge]
    reasons: list[str] = []
    notes = [_bridge_note(b) for b in bridges]
    if not endpoints:
        return GroupVerdict(
            "blocked",
            ("only bridges/ports in this group: nothing to pass through (vfio-pci refuses bridges)",),
            tuple(notes),
        )
    for dev in members:
        uses = host_use.get(dev.address, ())
        blocking = [u for u in uses if u.blocking]
        if blocking:
            reasons.append(f"{dev.address} is used by the host: " + "; ".join(u.describe() for u in blocking))
        notes += [f"{dev.address}: {u.describe()} ({u.fix})" if u.fix else f"{dev.address}: {u.describe()}"
                  for u in uses if not u.blocking]
    for dev in endpoints:
        if dev.is_chipset:
            reasons.append(f"{dev.address} ({dev.class_name or 'chipset bridge'}) is part of the chipset")
        if dev.sriov_num_vfs:
            reasons.append(
                f"{dev.address} has {dev.sriov_num_vfs} SR-IOV VFs enabled; vfio-pci refuses such a PF"
                " (write 0 to its sriov_numvfs, or pass a VF instead)"
            )
    if all(d.on_vfio for d in endpoints) and all(b.keeps_group_viable for b in bridges):
        return GroupVerdict("ready", (), tuple(notes))
    if reasons:
        return GroupVerdict("blocked", tuple(reasons), tuple(notes))
    return GroupVerdict("bindable", (), tuple(notes))


def with_verdicts(
    inventory: HostInventory, host_use: Mapping[PciAddress, tuple[HostUse, ...]] | None = None
) -> HostInventory:
    """A copy of the inventory with host usage attached and every group's verdict computed."""
    use = dict(host_use if host_use is not None else inventory.host_use)
    partial = replace(inventory, host_use=use)
    verdicts = {gid: verdict_for(partial.members(gid), use) for gid in inventory.groups}
    return replace(partial, verdicts=verdicts)


HOST_USE_NOT_RECORDED = ("host use not recorded: nothing here says whether the host needs these devices"
                         " (root disk, the NIC of your SSH session, the console)")


def without_host_use_facts(inventory: HostInventory) -> HostInventory:
    """The inventory of a host whose usage facts are unknown: said on every group that looks free."""
    verdicts = {gid: replace(v, notes=(HOST_USE_NOT_RECORDED, *v.notes)) if v.kind == "bindable" else v
                for gid, v in inventory.verdicts.items()}
    return replace(inventory, host_use_known=False, verdicts=verdicts)
