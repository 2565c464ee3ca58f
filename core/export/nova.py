"""OpenStack Nova: `[pci] device_spec` (each compute node's nova.conf) and `[pci] alias` (the same on
the controllers and every compute node), as oslo.config multi-valued options, one JSON object each.

- device_spec entries are pinned to an address ({"vendor_id", "product_id", "address"}), so Nova
  tracks exactly the devices named, never "every card with these ids".
- Nova has no notion of IOMMU groups: a flavor asks for aliases (`pci_passthrough:alias`), and Nova
  picks any tracked device that matches each. A group with one endpoint is exported as is. A group
  with several (a GPU and its HDMI audio) is exported when the flavor can ask for all of them and
  nothing else on that node matches: the comment gives the flavor extra spec. When another exported
  group on the node has the same ids, Nova could give one VM the GPU of one card and the audio of the
  other (each card's group then half-used): that group is left out, saying so.
- libvirt (managed='yes') detaches only the devices Nova assigns; the comment says to bind the whole
  group first when it has several endpoints (`vfio-tui bind`, `--persist` for boot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from vfio_tui.core.export import ExportDevice, GroupCandidate, header

ALIAS_PREFIX: Final = "vfio"


def alias_name(dev: ExportDevice) -> str:
    return f"{ALIAS_PREFIX}-{dev.device_class}-{dev.vendor}-{dev.device}"


def _spec(dev: ExportDevice) -> str:
    return json.dumps({"vendor_id": dev.vendor, "product_id": dev.device, "address": dev.address})


def _alias(dev: ExportDevice) -> str:
    return json.dumps({"name": alias_name(dev), "vendor_id": dev.vendor, "product_id": dev.device,
                       "device_type": dev.device_type, "numa_policy": "legacy"})


def node_block(host: str, candidates: Sequence[GroupCandidate]) -> tuple[list[str], list[ExportDevice]]:
    """The [pci] device_spec lines of one compute node, and the devices exported (for the aliases)."""
    lines = ["[pci]"]
    exported: list[ExportDevice] = []
    taken_ids: dict[str, int | None] = {}
    # Single-endpoint groups first: they never need keeping together, so a shared group that
    # collides with one of them is the one left out.
    for cand in sorted(candidates, key=lambda c: (c.shared, c.group or 0)):
        where = cand.describe()
        if not cand.safe:
            for dev in cand.endpoints:
                lines.append(f"# OUT {dev.label}: {where}: {cand.reason}")
            continue
        if cand.shared:
            clash = [d for d in cand.endpoints if d.ids in taken_ids]
            if clash or len({d.ids for d in cand.endpoints}) < len(cand.endpoints):
                other = taken_ids.get(clash[0].ids) if clash else cand.group
                for dev in cand.endpoints:
                    lines.append(f"# OUT {dev.label}: {where} has {len(cand.endpoints)} endpoints and group {other}"
                                 f" has the same ids: Nova could split the groups between VMs")
                continue
            extra = ",".join(f"{alias_name(d)}:1" for d in cand.endpoints)
            lines.append(f"# IN  {where}: {' + '.join(d.address for d in cand.endpoints)} go together (one IOMMU"
                         f" group): bind the whole group first (vfio-tui bind {cand.endpoints[0].address}"
                         f" --persist) and give the flavor pci_passthrough:alias={extra}")
        for dev in cand.endpoints:
            if not cand.shared:
                lines.append(f"# IN  {dev.label}: {where}, alone in its group")
            lines.append(f"device_spec = {_spec(dev)}")
            exported.append(dev)
            taken_ids[dev.ids] = cand.group
    return lines, exported


def render(per_host: dict[str, list[GroupCandidate]]) -> str:
    """nova.conf snippets: one [pci] block per compute node, then the aliases every node shares."""
    out = [f"# {line}" for line in header("nova", list(per_host))]
    out.append("# Put each node's [pci] device_spec lines in that node's nova.conf, and the [pci] alias lines in")
    out.append("# nova.conf of the API/scheduler and of every compute node (they must be the same everywhere).")
    aliases: dict[str, ExportDevice] = {}
    for host, cands in per_host.items():
        node = cands[0].node if cands else host
        out += ["", f"# === compute node {node} (vfio-tui host {host}) ==="]
        lines, exported = node_block(host, cands)
        out += lines
        for dev in exported:
            aliases.setdefault(alias_name(dev), dev)
    out += ["", "# === every node: aliases the flavors ask for (pci_passthrough:alias=NAME:COUNT) ===", "[pci]"]
    if not aliases:
        out.append("# (no device is safe to hand over: no alias)")
    for name in sorted(aliases):
        dev = aliases[name]
        out.append(f"# {name}: {dev.name} [{dev.ids}]")
        out.append(f"alias = {_alias(dev)}")
    return "\n".join(out) + "\n"
