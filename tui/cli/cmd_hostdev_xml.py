"""`vfio-tui hostdev-xml`: the <hostdev> element for a PCI device, generated, not typed."""

from __future__ import annotations

import argparse
import sys

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.libvirt_args import add_connect_option, add_nic_options, nic_from_args

HELP = "print the libvirt <hostdev> XML for a PCI device (for virsh attach-device)"
DESCRIPTION = """\
Print the <hostdev mode='subsystem' type='pci'> element that passes a PCI device through
with VFIO. With --all-functions, every function of the device's slot on this host is
included, at the same function numbers on one guest slot (multifunction='on' on the first),
as GPU + HDMI audio and multi-port NICs need. `vfio-tui attach` does the same and also picks a
free guest slot in the VM, checks the IOMMU group and shows the change first.
"""
EPILOG = """\
examples:
  vfio-tui hostdev-xml 0000:0b:00.0 > hba.xml && virsh attach-device vfio_test hba.xml --config
  vfio-tui hostdev-xml 0b:00.0 --managed no          the device must then be bound first (vfio-tui bind)
  vfio-tui hostdev-xml 0000:0a:00.0 --all-functions --rom-bar off --demo
  vfio-tui hostdev-xml 0000:0a:00.0 --all-functions --guest-slot 05:00
  vfio-tui hostdev-xml 0000:0a:00.0 --all-functions --vm win10 --demo   a free slot of that VM
"""


def _guest_slot(text: str) -> tuple[int, int]:
    try:
        bus, slot = text.split(":")
        value = (int(bus, 16), int(slot, 16))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a guest slot BUS:SLOT (hex, e.g. 05:00): {text!r}") from None
    if not (0 <= value[0] <= 0xFF and 0 <= value[1] <= 0x1F):
        raise argparse.ArgumentTypeError(f"guest slot out of range: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="PCI address, e.g. 0000:0b:00.0")
    parser.add_argument("--managed", choices=("yes", "no"), default="yes",
                        help="yes (default): libvirt binds it to vfio-pci at start and gives it back at stop;"
                             " no: you bind it first (vfio-tui bind)")
    parser.add_argument("--rom-bar", choices=("on", "off"), default=None,
                        help="<rom bar=.../>: off hides the option ROM from the guest")
    parser.add_argument("--all-functions", action="store_true",
                        help="every function of the device's slot (reads the host's devices)")
    parser.add_argument("--guest-slot", type=_guest_slot, metavar="BUS:SLOT", default=None,
                        help="guest slot for --all-functions (default 00:10; attach picks a free one itself)")
    parser.add_argument("--vm", metavar="VM", default=None,
                        help="with --all-functions: use a free guest slot of this VM (reads its definition)")
    add_connect_option(parser)
    add_nic_options(parser)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.libvirt import hostdev_xml
    from vfio_tui.core.libvirt.policy import parse_rom_bar, slot_functions
    from vfio_tui.core.open_host import open_host

    address = PciAddress.parse(args.address)
    nic = nic_from_args(args)
    if nic is not None:
        from vfio_tui.core.libvirt.xml import hostdev_text, interface_hostdev

        if args.all_functions or args.guest_slot is not None:
            raise InputError("--as-interface gives one VF; it goes with neither --all-functions nor --guest-slot")
        sys.stdout.write(hostdev_text(interface_hostdev(address, mac=nic.mac, vlan=nic.vlan,
                                                        managed=args.managed == "yes")))
        return 0
    addresses = [address]
    if options.demo or options.root is not None or options.snapshot is not None:
        # A host was named: the element is for a device of that host (without one, it is generated for
        # any address, e.g. for another machine).
        with open_host(options) as host:
            if not host.paths.pci_device(str(address)).exists():
                raise InputError(f"no PCI device {address} on {host.label}",
                                 fix="`vfio-tui inventory` lists the devices")
    if args.vm is not None:
        from vfio_tui.core.libvirt.for_host import hypervisor_for

        with open_host(options) as host, hypervisor_for(host, args.connect) as hv:
            hv.xml(args.vm, inactive=True)  # an unknown VM is an error, not ignored
    if args.all_functions:
        with open_host(options) as host:
            inv = host.inventory()
            if inv.device(address) is None:
                raise InputError(f"no PCI device {address} on {host.label}",
                                 fix="`vfio-tui inventory` lists the devices")
            addresses = slot_functions(inv, address)
        if len(addresses) > 1 and args.guest_slot is None and args.vm is None:
            print("note: guest slot 00:10 is a placeholder; `vfio-tui attach` picks a free one in the VM",
                  file=sys.stderr)
    managed, rom_bar = args.managed == "yes", parse_rom_bar(args.rom_bar)
    if args.vm is not None and len(addresses) > 1 and args.guest_slot is None:
        from vfio_tui.core.libvirt.for_host import hypervisor_for
        from vfio_tui.core.libvirt.policy import build_hostdevs
        from vfio_tui.core.libvirt.xml import DomainXml, hostdev_text

        with open_host(options) as host, hypervisor_for(host, args.connect) as hv:
            domain = DomainXml(hv.xml(args.vm, inactive=True))
        hostdevs, ports = build_hostdevs(addresses, managed=managed, rom_bar=rom_bar, domain=domain)
        if ports:
            print(f"note: {args.vm} has no free pcie-root-port; these addresses assume a new one with index"
                  f" {ports[0]} (`vfio-tui attach` adds it)", file=sys.stderr)
        sys.stdout.write("".join(hostdev_text(h) for h in hostdevs))
        return 0
    sys.stdout.write(hostdev_xml(addresses, managed=managed, rom_bar=rom_bar, guest_slot=args.guest_slot))
    return 0
