"""`vfio-tui inventory`: every IOMMU group as a tree, with drivers, ACS, reset and verdicts."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli.argtypes import GROUP

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.model import HostInventory

HELP = "list IOMMU groups -> bridges -> devices, with what passthrough would take"
DESCRIPTION = """\
List every IOMMU group of the host as a tree (group -> root/switch ports and bridges ->
functions) with ids and names, class, driver (and driver_override), ACS capability and
control bits (SV TB RR CR UF EC DT) of ports and multifunction devices, reset methods,
boot VGA, SR-IOV, what on the host uses each device, and a verdict per group:
  ready     every endpoint is already on vfio-pci
  bindable  every non-bridge member can go to vfio-pci
  blocked   with the reason (the host uses a member, VFs enabled, chipset function, ...)
Works without root; facts that only root can read say "needs root".
"""
EPILOG = """\
examples:
  vfio-tui inventory --demo
  vfio-tui inventory --json | jq '.groups[] | select(.verdict=="bindable") | .id'
  vfio-tui inventory --host-snapshot host.json --group 19
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (schema vfio-tui/inventory/1)")
    parser.add_argument("--group", type=GROUP, action="append", metavar="N",
                        help="only this group (repeatable)")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.inventory_format import format_inventory, inventory_json
    from vfio_tui.tui.cli.common import print_json_built, use_color

    with open_host(options) as host:
        inv = host.inventory()
        if any(info.vfs for info in inv.sriov.values()):
            inv = _with_vf_holders(host, inv)
        if args.group:
            from dataclasses import replace

            from vfio_tui.core.errors import InputError

            missing = [g for g in args.group if g not in inv.groups]
            if missing:
                raise InputError(f"no IOMMU group {missing[0]} on this host"
                                 f" (groups: {', '.join(map(str, list(inv.groups)[:30]))})")
            inv = replace(inv, groups={g: inv.groups[g] for g in args.group})
        if args.json:
            from vfio_tui.core.inventory_text import inventory_json_text

            print_json_built(lambda: inventory_json(inv, host.label), lambda: inventory_json_text(inv, host.label))
        else:
            print(format_inventory(inv, host.label, color=use_color()), end="")
    return 0


def _with_vf_holders(host: Host, inv: HostInventory) -> HostInventory:
    """Which VMs hold each VF: asked of the libvirt that goes with the host, or as recorded."""
    from vfio_tui.core.libvirt.for_host import NoHypervisorError, domain_facts_for
    from vfio_tui.core.sriovinfo.read import with_holds
    from vfio_tui.core.vmholds import recorded_holds

    try:
        holds = domain_facts_for(host)()
    except NoHypervisorError:
        recorded = recorded_holds(host.extras)
        return inv if recorded is None else with_holds(inv, recorded)
    except Exception:  # noqa: BLE001 - libvirt unreachable (a stopped daemon): the VFs' VMs stay unknown
        return inv
    return with_holds(inv, holds)
