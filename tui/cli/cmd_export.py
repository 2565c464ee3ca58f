"""`vfio-tui export --format nova|kubevirt|proxmox`: cluster engines' passthrough config for the devices
that are safe to hand over (whole IOMMU groups), each device in or out with the reason."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT

if TYPE_CHECKING:
    from vfio_tui.core.export import GroupCandidate

HELP = "OpenStack Nova / KubeVirt / Proxmox passthrough config for the safe devices (whole IOMMU groups)"
DESCRIPTION = """\
Print the configuration a cluster engine takes for PCI passthrough, for the devices that are safe to
hand over — their whole IOMMU group is free (bindable or on vfio-pci, unused by the host and by VMs):
  nova      [pci] device_spec (per compute node, pinned to addresses) and [pci] alias (everywhere)
  kubevirt  the KubeVirt CR's permittedHostDevices.pciHostDevices (cluster-wide, by vendor:device)
  proxmox   /etc/pve/mapping/pci.cfg resource mappings (one map line per node)
These engines know nothing of IOMMU groups. A device whose group is shared goes with its
group-mates where the engine can keep them together, else it is left out: every device is a comment
saying in or out, and why. Hosts: this machine (or --demo/--root/--host-snapshot), one named host
(--on NAME), or every named host (--fleet; a host that does not answer is listed, exit 1).
"""
EPILOG = """\
examples:
  vfio-tui export --format proxmox --demo
  vfio-tui export --format nova --on gpu1
  vfio-tui export --format kubevirt --fleet > kubevirt-hostdevices.yaml
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vfio_tui.core.export import FORMATS

    parser.add_argument("--format", required=True, choices=FORMATS, help="the engine")
    parser.add_argument("--fleet", action="store_true", help="every host added with `vfio-tui hosts add`")
    parser.add_argument("--node", metavar="NAME", help="the node name the engine knows this host by (one host)")
    parser.add_argument("--resource-domain", metavar="DOMAIN", default=None,
                        help="kubevirt: the resourceName domain (default vfio-tui.local)")
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=120.0, metavar="S",
                        help="--fleet: seconds one host may take to answer (default 120)")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    import re

    from vfio_tui.core.errors import InputError
    from vfio_tui.core.export import host_candidates, local_node, node_name, render

    if args.fleet and (options.demo or options.root or options.snapshot or options.on):
        raise InputError("--fleet reads every named host; give no host option with it")
    if args.fleet and args.node:
        raise InputError("--node names one host; with --fleet each host's own name is used")
    if args.resource_domain is not None and not re.fullmatch(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?",
                                                             args.resource_domain):
        raise InputError(f"--resource-domain {args.resource_domain[:80]!r} is not a DNS domain")
    if args.node is not None and node_name(args.node) != args.node:
        raise InputError(f"--node {args.node[:80]!r}: use letters, digits and '-'")
    per_host: dict[str, list[GroupCandidate]] = {}
    down: list[str] = []
    if args.fleet:
        down = _fleet(per_host, args.timeout)
    elif options.on is not None:
        from vfio_tui.core.open_host import remote_host
        from vfio_tui.core.remote.hosts import load_hosts

        entry = load_hosts().get(options.on)
        host, fetched = remote_host(entry, options)
        with host:
            per_host[entry.name] = host_candidates(host, entry.name, args.node or node_name(fetched.node or entry.name))
    else:
        from vfio_tui.core.open_host import open_host

        with open_host(options) as host:
            node = args.node or local_node(host)
            per_host[node] = host_candidates(host, node, node)
    text = render(args.format, per_host, domain=args.resource_domain)
    for line in down:
        text += f"# DOWN {line}\n"
    sys.stdout.write(text)
    if down:
        print(f"vfio-tui: {len(down)} host(s) did not answer; their devices are not in the export", file=sys.stderr)
    return 1 if down else 0


def _fleet(per_host: dict[str, list[GroupCandidate]], timeout: float) -> list[str]:
    """Every named host's candidates, read in parallel; the hosts that did not answer, with why."""
    from concurrent.futures import ThreadPoolExecutor

    from vfio_tui.core.errors import InputError, VfioError
    from vfio_tui.core.export import host_candidates, node_name
    from vfio_tui.core.fleet import MAX_WORKERS
    from vfio_tui.core.open_host import remote_host
    from vfio_tui.core.remote.hosts import HostEntry, load_hosts

    entries = list(load_hosts().hosts.values())
    if not entries:
        raise InputError("no hosts yet", fix="add one with `vfio-tui hosts add NAME [user@]host[:port]`")

    def one(entry: HostEntry) -> list[GroupCandidate] | str:
        try:
            host, fetched = remote_host(entry, timeout=timeout)
            with host:
                return list(host_candidates(host, entry.name, node_name(fetched.node or entry.name)))
        except VfioError as exc:
            return f"{entry.name}: {exc}"

    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(entries))) as pool:
        results = list(pool.map(one, entries))
    down = []
    for entry, res in zip(entries, results, strict=True):
        if isinstance(res, str):
            down.append(res)
        else:
            per_host[entry.name] = res
    return down
