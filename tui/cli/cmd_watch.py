"""`vfio-tui watch`: wait for a VM to stop, then give its devices back to the host."""

from __future__ import annotations

import argparse
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import seconds
from vfio_tui.tui.cli.libvirt_args import add_connect_option, open_host_and_hypervisor

HELP = "wait until a VM stops (libvirt events), then restore its devices to their host drivers"
DESCRIPTION = """\
Follow a VM's lifecycle events (started, stopped, crashed, ...) and, when it stops, give every
device it held that is still on vfio-pci back to its original host driver (through
`vfio-tui restore`'s journal). managed='yes' devices are given back by libvirt itself; this
catches the ones you bound (managed='no') and live-unplugs the guest never completed.
"""
EPILOG = """\
examples:
  sudo vfio-tui watch win10                    until win10 stops
  sudo vfio-tui watch win10 --timeout 3600 --no-restore
  vfio-tui watch router --demo --timeout 5     the demo VM never stops by itself
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vm", metavar="VM", help="the VM's name")
    parser.add_argument("--timeout", type=seconds(), default=None, metavar="SECONDS", help="give up after this long")
    parser.add_argument("--no-restore", action="store_true", help="only report; do not restore devices")
    add_connect_option(parser)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.libvirt import watch_domain
    from vfio_tui.core.libvirt.watch import binding_restore

    def show(event: Any) -> None:
        print(f"event: {event.vm} {event.event} (detail {event.detail})", flush=True)

    host, hv = open_host_and_hypervisor(args, options, events=True)
    with host, hv:
        print(f"watching {args.vm} on {hv.uri} (Ctrl-C stops)", flush=True)
        result = watch_domain(hv, args.vm, host, restore=None if args.no_restore else binding_restore,
                              on_event=show, timeout=args.timeout)
        print(result.message)
    return 0 if result.stopped else 1
