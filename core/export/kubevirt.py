"""KubeVirt: `spec.configuration.permittedHostDevices.pciHostDevices` of the KubeVirt CR, cluster-wide.

KubeVirt permits devices by `pciVendorSelector` ("VVVV:DDDD") alone, on every node, and its device
plugin offers each matching device bound to vfio-pci as one resource: one device per request, no
group-mates (kubevirt/kubevirt#6904: "we support one device per IOMMU group"). So a selector is
exported only when every device it matches, on every host read, is alone in its IOMMU group:
- a match whose group has other endpoints leaves the whole selector out (KubeVirt would hand the
  group's devices to different VMs, or one without the other);
- a match the host uses (or a VM has) stays on its host driver and is never offered — the selector
  stays in, with a warning never to bind by id (`vfio-pci.ids=` would take that device too); but a
  match that is not free and is on vfio-pci already (a libvirt VM's device) would be offered: out.
The devices must be bound to vfio-pci by address on each node (vfio-tui bind ADDR --persist).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from vfio_tui.core.export import ExportDevice, GroupCandidate, header

RESOURCE_DOMAIN: Final = "vfio-tui.local"
_NAME_CHARS: Final = re.compile(r"[^A-Za-z0-9]+")


def resource_name(dev: ExportDevice, domain: str = RESOURCE_DOMAIN) -> str:
    """`domain/VVVV_DDDD_NAME`: a Kubernetes extended resource name (name part <= 63 characters)."""
    words = _NAME_CHARS.sub("_", dev.name.upper()).strip("_")
    name = f"{dev.vendor.upper()}_{dev.device.upper()}_{words}"[:63].rstrip("_.-")
    return f"{domain}/{name}"


def _quote(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    import json

    return json.dumps(text)


def render(candidates: Sequence[GroupCandidate], domain: str = RESOURCE_DOMAIN) -> str:
    by_ids: dict[str, list[tuple[GroupCandidate, ExportDevice]]] = {}
    for cand in candidates:
        for dev in cand.endpoints:
            by_ids.setdefault(dev.ids, []).append((cand, dev))
    hosts = list(dict.fromkeys(c.host for c in candidates))
    out = [f"# {line}" for line in header("kubevirt", hosts)]
    out += ["# KubeVirt permits devices by vendor:device on every node and hands out one device per request,",
            "# so only ids whose every device is alone in its IOMMU group are in. Bind them to vfio-pci by address",
            "# on each node (vfio-tui bind ADDR --persist), never with vfio-pci.ids=. Apply with",
            "#   kubectl patch kubevirt kubevirt -n kubevirt --type merge --patch-file THIS_FILE",
            "# (a merge patch replaces the whole pciHostDevices list; feature gate HostDevices on older KubeVirt).",
            "apiVersion: kubevirt.io/v1", "kind: KubeVirt", "metadata:", "  name: kubevirt", "  namespace: kubevirt",
            "spec:", "  configuration:", "    permittedHostDevices:"]
    entries: list[str] = []
    left_out: list[str] = []
    for ids in sorted(by_ids):
        matches = by_ids[ids]
        shared = [(c, d) for c, d in matches if c.shared]
        alone_safe = [(c, d) for c, d in matches if c.safe and not c.shared]
        if shared:
            for c, d in matches:
                why = (f"shares {c.describe()} with {', '.join(e.address for e in c.endpoints if e is not d)}"
                       if c.shared else ("alone in its group, but " + f"{shared[0][0].describe()} is shared"))
                left_out.append(f"      # OUT {d.ids} {c.host} {d.address} {d.name}: {why}: KubeVirt would offer"
                                " group-mates as separate devices")
            continue
        offered = [(c, d) for c, d in matches if not c.safe and d.on_vfio]
        if offered:
            for c, d in matches:
                why = (f"{c.describe()}: {c.reason}" if (c, d) in offered else
                       f"{offered[0][0].host} {offered[0][1].address} is on vfio-pci but not free"
                       f" ({offered[0][0].reason})")
                left_out.append(f"      # OUT {d.ids} {c.host} {d.address} {d.name}: {why}: KubeVirt offers every"
                                " matching device on vfio-pci")
            continue
        if not alone_safe:
            for c, d in matches:
                left_out.append(f"      # OUT {d.ids} {c.host} {d.address} {d.name}: {c.describe()}: {c.reason}")
            continue
        dev = alone_safe[0][1]
        entries.append(f"      # IN  {ids} {dev.name}:")
        entries += [f"      #     {c.host} {d.address} ({c.describe()}, alone)" for c, d in alone_safe]
        for c, d in matches:
            if not c.safe:
                entries.append(f"      #     never offered: {c.host} {d.address} ({c.reason}); do not bind by id")
        entries += [f"      - pciVendorSelector: {_quote(ids.upper())}",
                    f"        resourceName: {_quote(resource_name(dev, domain))}",
                    "        externalResourceProvider: false"]
    if entries:
        out.append("      pciHostDevices:")
        out += entries
    else:
        out.append("      pciHostDevices: []  # no device is safe to hand over")
    out += left_out
    return "\n".join(out) + "\n"
