"""`vfio-tui detach`: remove a PCI hostdev (and its sibling functions) from a VM."""

from __future__ import annotations

import argparse
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.libvirt_args import add_connect_option, open_host_and_hypervisor

HELP = "detach a PCI device (with the other functions of its group the VM holds) from a VM"
DESCRIPTION = """\
Remove the <hostdev> of a PCI device from a VM, together with the other functions of the same
card and IOMMU group that the VM holds (a group left half in a VM cannot start).
--config (default) edits the definition; --live unplugs from the running VM (the guest must
acknowledge the ACPI unplug; until it does, libvirt keeps the device); --both does both.
With managed='yes' libvirt gives the device back to its host driver when the VM stops; a
device you bound yourself goes back with `vfio-tui restore`.
"""
EPILOG = """\
examples:
  vfio-tui detach 0000:07:10.2 router --demo
  sudo vfio-tui detach 0000:0a:00.0 win10            also removes 0000:0a:00.1
  sudo vfio-tui detach 0000:0b:00.0 vm1 --live
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="PCI address, e.g. 0000:0b:00.0")
    parser.add_argument("vm", metavar="VM", help="the VM's name")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--config", dest="mode", action="store_const", const="config", help="the definition (default)")
    mode.add_argument("--live", dest="mode", action="store_const", const="live", help="the running VM only")
    mode.add_argument("--both", dest="mode", action="store_const", const="both", help="--config and --live")
    parser.set_defaults(mode="config")
    parser.add_argument("--json", action="store_true", help='print {"vm", "detached": [...], "steps": [...]}')
    add_connect_option(parser)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.libvirt import detach, format_step
    from vfio_tui.tui.cli.common import print_json

    events: list[Any] = []

    def show(event: Any) -> None:
        events.append(event)
        if not args.json:
            print(format_step(event), flush=True)

    host, hv = open_host_and_hypervisor(args, options)
    with host, hv:
        removed = detach(hv, args.address, args.vm, args.mode, host=host, on_step=show)
        if args.json:
            print_json({"vm": args.vm, "mode": args.mode, "detached": [str(a) for a in removed],
                        "steps": [e.to_json() for e in events]})
        else:
            print(f"detached from {args.vm}: {', '.join(map(str, removed))}")
    return 0
