"""Pick the lab cases by kind from whatever topology the guest kernel shows.

The suite never hard-codes addresses or group numbers: `find_cases()` classifies the
groups of the running kernel, so the same tests run on the built-in topology of
../shared/lab/03-boot-guest.sh and on any LAB_DEVICES_FILE topology. A kind the
topology lacks maps to None and its tests skip, naming the kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from kview import KDevice, KernelView

LONE = "lone endpoint"
MULTIFUNCTION = "multi-function group"
BRIDGE_GROUP = "group with a bridge"
SWITCH = "device behind a switch port"
GUEST_OWN = "device the guest uses"
HOST_USED = "group the guest uses (a bind candidate otherwise)"

BIND_KINDS = (LONE, MULTIFUNCTION, BRIDGE_GROUP, SWITCH)
ALL_KINDS = (*BIND_KINDS, GUEST_OWN, HOST_USED)


@dataclass(frozen=True)
class Case:
    """One group picked for a kind, and the device a test names on the command line."""

    kind: str
    group: int
    target: str
    members: tuple[str, ...]
    endpoints: tuple[str, ...]
    """Members that must go to vfio-pci (every non-bridge function)."""
    bridges: tuple[str, ...]
    """Members that stay where they are (bridges and ports)."""

    def describe(self) -> str:
        return f"group {self.group} ({', '.join(self.members)}), target {self.target}"


def guest_mount_devices(kv: KernelView) -> dict[str, list[str]]:
    """{address: [mount points]} for the virtio devices whose mount_tag backs a mounted filesystem."""
    by_tag: dict[str, list[str]] = {}
    for source, target, _fstype in kv.mounts:
        by_tag.setdefault(source, []).append(target)
    out: dict[str, list[str]] = {}
    for dev in kv.devices.values():
        targets = [t for tag in dev.mount_tags for t in by_tag.get(tag, [])]
        if targets:
            out[dev.address] = targets
    return out


def host_uses(kv: KernelView) -> dict[str, list[str]]:
    """{address: what the guest uses it for}, read by the oracle (not by vfio-tui): a NIC with an
    address or the default route, the controller of a mounted filesystem. A group with such a member
    is no bind case (vfio-tui must refuse it): a test that expects a bind picks another group, and
    HOST_USED asserts the refusal. (Virtio devices and the 9p mounts are GUEST_OWN.)"""
    from kview import default_route_interfaces, interface_addresses, mounted_block_pci

    uses: dict[str, list[str]] = {}
    addresses, routes = interface_addresses(), default_route_interfaces()
    for dev in kv.devices.values():
        for ifname in dev.net_interfaces:
            if addresses.get(ifname):
                uses.setdefault(dev.address, []).append(f"{ifname} has {', '.join(addresses[ifname])}")
            if ifname in routes:
                uses.setdefault(dev.address, []).append(f"{ifname} carries the default route")
    for address, targets in mounted_block_pci(kv.mounts).items():
        uses.setdefault(address, []).append(f"mounted on {' '.join(targets)}")
    return uses


def _usable(kv: KernelView, members: list[KDevice], own: dict[str, list[str]]) -> bool:
    """No chipset function, nothing virtio (the guest's own root and shares), nothing the guest mounts.

    Driverless endpoints are fine (the guest has no udev: a device whose driver the lab's
    initramfs does not load stays driverless, and its round trip is none -> vfio-pci -> none).
    """
    return not any(d.is_chipset or d.vendor_id == "1af4" or d.address in own for d in members)


def _case(kind: str, gid: int, kv: KernelView, target: KDevice) -> Case:
    members = kv.members(gid)
    return Case(
        kind=kind, group=gid, target=target.address, members=tuple(d.address for d in members),
        endpoints=tuple(d.address for d in members if not d.is_bridge),
        bridges=tuple(d.address for d in members if d.is_bridge),
    )


def find_cases(kv: KernelView, used: dict[str, list[str]] | None = None) -> dict[str, Case | None]:
    """The first group of each kind (preferring devices behind a port, as real cards are), among the
    groups the guest does not use (`used`, default host_uses(kv)); HOST_USED is the first group that
    would have been a case but for that use."""
    own = guest_mount_devices(kv)
    used = host_uses(kv) if used is None else used
    found: dict[str, list[tuple[int, Case]]] = {k: [] for k in BIND_KINDS}
    refused: list[Case] = []
    for gid in kv.groups:
        members = kv.members(gid)
        if not members or not _usable(kv, members, own):
            continue
        in_use = [d for d in members if d.address in used]
        if in_use and any(not d.is_bridge for d in members):
            refused.append(_case(HOST_USED, gid, kv, in_use[0]))
            continue
        endpoints = [d for d in members if not d.is_bridge]
        bridges = [d for d in members if d.is_bridge]
        if not endpoints:
            continue
        behind_port = 0 if endpoints[0].parent else 1
        if len(members) == 1:
            found[LONE].append((behind_port, _case(LONE, gid, kv, endpoints[0])))
        # several functions of one slot (a root port without ACS may share the group: it stays)
        if len(endpoints) >= 2 and len({d.slot for d in endpoints}) == 1 and all(b.driver for b in bridges):
            found[MULTIFUNCTION].append((behind_port, _case(MULTIFUNCTION, gid, kv, endpoints[0])))
        # bridges stay where they are (vfio-pci refuses them); prefer one no driver claims
        # (PCIe-to-PCI or PCI-PCI bridge) over a port on pcieport (a root port without ACS)
        # (and a group that is not already the multi-function case, to cover more groups)
        if bridges:
            rank = (0 if any(b.driver is None for b in bridges) else 100) - len(endpoints)
            rank += 10 if len(endpoints) >= 2 and len({d.slot for d in endpoints}) == 1 else 0
            found[BRIDGE_GROUP].append((rank, _case(BRIDGE_GROUP, gid, kv, endpoints[0])))
        switch_ep = [d for d in endpoints
                     if any(kv.devices[u].port_type == "downstream_port" for u in d.upstream if u in kv.devices)]
        if switch_ep:
            found[SWITCH].append((0, _case(SWITCH, gid, kv, switch_ep[0])))
    out: dict[str, Case | None] = {}
    for kind, options in found.items():
        out[kind] = sorted(options, key=lambda o: (o[0], o[1].group))[0][1] if options else None
    out[HOST_USED] = refused[0] if refused else None
    return out


def bridge_to_refuse(kv: KernelView) -> KDevice | None:
    """A bridge no driver claims (the kernel's vfio-pci probe answers EINVAL for it)."""
    for dev in kv.devices.values():
        if dev.is_bridge and dev.driver is None and dev.group is not None:
            return dev
    return None
