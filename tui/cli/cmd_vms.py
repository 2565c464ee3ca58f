"""`vfio-tui vms`: libvirt domains with their state and the PCI devices they hold."""

from __future__ import annotations

import argparse
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.libvirt_args import add_connect_option, open_host_and_hypervisor

HELP = "list libvirt VMs with their state and PCI hostdevs (with IOMMU groups)"
DESCRIPTION = """\
List the VMs of a libvirt connection (defined and running), each with its state and the PCI
devices it holds as <hostdev> (in its definition or, when running, live), with the IOMMU
group of each on this host and whether libvirt manages its binding (managed='yes').
"""
EPILOG = """\
examples:
  vfio-tui vms --demo                       the demo hypervisor (no libvirtd needed)
  vfio-tui vms                              qemu:///system (needs libvirtd and usually sudo)
  vfio-tui vms --connect qemu+ssh://root@host192/system --json
  vfio-tui vms --json | jq -r '.vms[] | select(.hostdevs | length > 0) | .name'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help='print JSON: {"uri", "vms": [{"name", "state", "hostdevs": [...], ...}]}')
    add_connect_option(parser)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.tui.cli.common import print_json

    host, hv = open_host_and_hypervisor(args, options)
    with host, hv:
        domains = hv.list_domains()
        inv = host.inventory()
        vms: list[dict[str, Any]] = []
        for d in domains:
            details = []
            managed = {h.address: h for h in d.details}
            for a in d.hostdevs:
                dev = inv.device(a)
                h = managed.get(a)
                details.append({
                    "address": str(a), "group": dev.iommu_group if dev is not None else None,
                    "driver": dev.driver if dev is not None else None,
                    "managed": h.managed if h is not None else None,
                    "guest_address": str(h.guest) if h is not None and h.guest is not None else None,
                    "in_config": a in d.config_hostdevs, "live": a in d.live_hostdevs,
                })
            vms.append({"name": d.name, "state": d.state, "persistent": d.persistent, "id": d.id,
                        "hostdevs": [str(a) for a in d.hostdevs], "hostdev_details": details})
        if args.json:
            print_json({"uri": hv.uri, "demo": hv.demo, "vms": vms})
            return 0
        print(f"VMs on {hv.uri}{' (vfio-tui demo, libvirt test driver)' if hv.demo else ''}")
        if not vms:
            print("  (none)")
            return 0
        width = max(len(v["name"]) for v in vms)
        print(f"  {'NAME':<{width}}  {'STATE':<11} HOSTDEVS")
        for v in vms:
            devs = [f"{x['address']} (group {x['group'] if x['group'] is not None else '?'}"
                    f"{', managed' if x['managed'] else ', unmanaged' if x['managed'] is False else ''})"
                    for x in v["hostdev_details"]]
            print(f"  {v['name']:<{width}}  {v['state']:<11} {', '.join(devs) or '-'}")
    return 0
