"""Proxmox VE: cluster resource mappings, /etc/pve/mapping/pci.cfg (Datacenter → Resource Mappings).

A mapping is a name and one `map` line per node: `id` (vendor:device), `node`, `path`, and the
`iommugroup` and `subsystem-id` Proxmox checks at VM start to notice changed hardware. A path
without a function maps the whole slot (every function, as a multifunction device); several paths
separated by ';' are alternatives (the first free one is used). A VM takes it with
`qm set VMID --hostpci0 mapping=NAME`.

Proxmox binds the device's whole IOMMU group to vfio-pci at VM start (qemu-server), but passes only
the mapped path to the VM and checks nothing about what the host uses. So a group is mapped when the
path covers it exactly: one endpoint (its address), or a group that is exactly every function of
one slot (the slot). A group spanning slots, or part of a slot, is left out, saying why.
"""

from __future__ import annotations

from collections.abc import Sequence

from vfio_tui.core.export import ExportDevice, GroupCandidate, header


def mapping_name(dev: ExportDevice) -> str:
    """pve-configid: a letter, then letters, digits, '-' and '_'."""
    return f"vfio-{dev.device_class}-{dev.vendor}-{dev.device}"


def _path(cand: GroupCandidate) -> tuple[str | None, str]:
    """The mapping path that covers the group exactly, or None and why there is none."""
    if not cand.shared:
        return cand.endpoints[0].address, "alone in its group"
    slots = {d.slot for d in cand.endpoints}
    if len(slots) == 1:
        slot = next(iter(slots))
        if tuple(sorted(d.address for d in cand.endpoints)) == cand.slot_functions.get(slot):
            return slot, f"the group is all of slot {slot}, mapped whole"
        return None, f"the group is part of slot {slot}: a mapping takes one function or the whole slot"
    return None, f"the group spans slots {', '.join(sorted(slots))}: a mapping passes one slot"


def render(candidates: Sequence[GroupCandidate]) -> str:
    hosts = list(dict.fromkeys(c.host for c in candidates))
    out = [f"# {line}" for line in header("proxmox", hosts)]
    out += ["# /etc/pve/mapping/pci.cfg: add these sections (or create them under Datacenter → Resource Mappings),",
            "# then give a VM one with `qm set VMID --hostpci0 mapping=NAME`.", ""]
    mappings: dict[str, tuple[ExportDevice, dict[str, list[tuple[str, GroupCandidate]]]]] = {}
    notes: list[str] = []
    for cand in candidates:
        first = sorted(cand.endpoints, key=lambda d: d.address)[0]
        if not cand.safe:
            notes += [f"# OUT {cand.host} {d.label}: {cand.describe()}: {cand.reason}" for d in cand.endpoints]
            continue
        path, why = _path(cand)
        if path is None:
            notes += [f"# OUT {cand.host} {d.label}: {cand.describe()}: {why}" for d in cand.endpoints]
            continue
        name = mapping_name(first)
        _, nodes = mappings.setdefault(name, (first, {}))
        nodes.setdefault(cand.node, []).append((path, cand))
        notes.append(f"# IN  {cand.host} {' + '.join(d.address for d in cand.endpoints)} as {name} on node"
                     f" {cand.node}: {cand.describe()}, {why}")
    out += notes
    for name in sorted(mappings):
        dev, nodes = mappings[name]
        out += ["", name, f"\tdescription {dev.name} [{dev.ids}] (vfio-tui: whole IOMMU group)"]
        for node, paths in nodes.items():
            c0 = paths[0][1]
            first = sorted(c0.endpoints, key=lambda d: d.address)[0]
            props = [f"id={first.ids}", f"iommugroup={c0.group}", f"node={node}",
                     f"path={';'.join(p for p, _ in paths)}"]
            if first.subsystem:
                props.append(f"subsystem-id={first.subsystem}")
            # Proxmox checks iommugroup only on the first path; the others are noted here.
            out.append(f"\tmap {','.join(props)}")
    if not mappings:
        out += ["", "# (no device is safe to hand over: no mapping)"]
    return "\n".join(out) + "\n"
