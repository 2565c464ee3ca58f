"""Provides --connect and the host + hypervisor pair the libvirt commands work on."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from core.host import Host, HostOptions, open_host

if TYPE_CHECKING:
    from core.libvirt.connection import Hypervisor

CONNECT_HELP = ("libvirt URI (default qemu:///system; with --demo or a simulated host, the demo test driver"
                " shipped with vfio-tui)")


def add_connect_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", "-c", metavar="URI", default=None, help=CONNECT_HELP)


def open_host_and_hypervisor(args: argparse.Namespace, options: HostOptions, *,
                             events: bool = False) -> tuple[Host, Hypervisor]:
    """The host, and the hypervisor that goes with it.

    A simulated host (--demo, --host-snapshot, a sim-host --root) never talks to this machine's
    libvirtd unless --connect says so: it gets the demo test driver (kept in a sim-host tree).
    """
    from core.libvirt.demo import open_for_host

    host = open_host(options)
    try:
        hv = open_for_host(host, args.connect, events=events)
    except BaseException:
        host.close()
        raise
    return host, hv
