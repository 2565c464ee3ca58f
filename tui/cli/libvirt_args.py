"""Provides --connect and the host + hypervisor pair the libvirt commands work on."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli.argtypes import integer

if TYPE_CHECKING:
    from vfio_tui.core.libvirt.connection import Hypervisor
    from vfio_tui.core.libvirt.vfnic import NicOptions

CONNECT_HELP = ("libvirt URI (default: qemu:///system on this machine; the demo VMs for --demo, a recording or a"
                " sim-host tree; a plain --root tree has none unless given)")


def add_connect_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connect", "-c", metavar="URI", default=None, help=CONNECT_HELP)


def open_host_and_hypervisor(args: argparse.Namespace, options: HostOptions, *,
                             events: bool = False) -> tuple[Host, Hypervisor]:
    """The host, and the hypervisor that goes with it.

    The pairing is core's one rule (core.libvirt.hypervisor_for): the demo VMs for a simulated
    host, qemu:///system for this machine, none for a plain tree unless --connect names one.
    """
    from vfio_tui.core.libvirt.for_host import hypervisor_for

    host = open_host(options)
    try:
        hv = hypervisor_for(host, args.connect, events=events)
    except BaseException:
        host.close()
        raise
    return host, hv


def add_nic_options(parser: argparse.ArgumentParser) -> None:
    """--as-interface, --mac, --vlan: an SR-IOV NIC VF as <interface type='hostdev'>."""
    group = parser.add_argument_group("SR-IOV NIC VFs")
    group.add_argument("--as-interface", action="store_true",
                       help="give the VF as <interface type='hostdev' managed='yes'>: libvirt sets its MAC (and VLAN)"
                            " through the PF at start and puts the old ones back at stop")
    group.add_argument("--mac", metavar="MAC",
                       help="the VF's MAC in the guest (implies --as-interface; default: libvirt generates one)")
    group.add_argument("--vlan", type=integer(0, 4095, "a VLAN id"), metavar="ID",
                       help="the VLAN tag the PF puts the VF on (implies --as-interface)")


def nic_from_args(args: argparse.Namespace) -> NicOptions | None:
    from vfio_tui.core.libvirt.vfnic import NicOptions

    if not (args.as_interface or args.mac is not None or args.vlan is not None):
        return None
    return NicOptions(mac=args.mac, vlan=args.vlan)
