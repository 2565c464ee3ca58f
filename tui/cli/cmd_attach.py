"""`vfio-tui attach`: check, show the XML diff, attach a PCI device to a VM, optionally start it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.libvirt_args import add_connect_option, add_nic_options, nic_from_args, open_host_and_hypervisor
from vfio_tui.tui.cli.output import verbatim

HELP = "attach a PCI device (and the group members it needs) to a libvirt VM; --start starts it"
DESCRIPTION = """\
Attach a PCI device to a VM as <hostdev>, after checking that:
  - the VM exists and does not have the device yet;
  - neither the device nor any other member of its IOMMU group is assigned to another VM
    (defined or running): QEMU would find the group busy or not viable;
  - the device is an endpoint with an IOMMU group, and the host does not need its group;
  - with --managed no: the group is already on vfio-pci (bind it first with `vfio-tui bind`);
    with --managed yes (default) libvirt moves it to vfio-pci when the VM starts.
Every endpoint of the device's IOMMU group is attached, the functions of a multi-function
card at the same function numbers on one guest slot. The change is shown as an XML diff
(like virt-xml --print-diff) before anything happens; --dry-run stops there.
With --start the VM is started and each step is reported; if the start fails, libvirt's
error, the tail of the VM's QEMU log and the relevant kernel messages are printed.
Exit codes: 0 done, 1 the VM failed to start, 2 bad input, 3 the checks refused the plan.
"""
EPILOG = """\
examples:
  vfio-tui attach 0000:0b:00.0 vfio_test --demo --dry-run      the seed's HBA: see the diff only
  vfio-tui attach 0000:0b:00.0 vfio_test --demo --start
  vfio-tui attach 0000:0a:00.0 win10 --demo                    GPU + HDMI audio, functions .0 and .1
  sudo vfio-tui attach 0000:02:00.0 vfio_test --managed no     after `vfio-tui bind 0000:02:00.0`
  sudo vfio-tui attach 0000:0b:00.0 vm1 --live                 hot-plug into the running VM
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="PCI address, e.g. 0000:0b:00.0")
    parser.add_argument("vm", metavar="VM", help="the VM's name (`vfio-tui vms` lists them)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--config", dest="mode", action="store_const", const="config",
                      help="change the VM's definition (default; takes effect at its next start)")
    mode.add_argument("--live", dest="mode", action="store_const", const="live",
                      help="hot-plug into the running VM only")
    mode.add_argument("--both", dest="mode", action="store_const", const="both", help="--config and --live")
    parser.set_defaults(mode="config")
    parser.add_argument("--managed", choices=("yes", "no"), default="yes",
                        help="yes (default): libvirt binds vfio-pci at start and gives the device back at stop;"
                             " no: the group must already be on vfio-pci")
    parser.add_argument("--rom-bar", choices=("on", "off"), default=None, help="<rom bar=.../> on the hostdevs")
    parser.add_argument("--start", action="store_true", help="start the VM afterwards, reporting each step")
    parser.add_argument("--dry-run", action="store_true", help="check and show the diff; change nothing")
    parser.add_argument("--json", action="store_true", help="print the plan and the outcome as JSON")
    add_connect_option(parser)
    add_nic_options(parser)


def print_plan(plan: Any) -> None:
    print(f"attach {', '.join(map(str, plan.addresses)) or plan.address} to VM {plan.vm!r}"
          f" ({plan.mode}, managed={'yes' if plan.managed else 'no'})")
    for note in plan.notes:
        print(f"  note: {note}")
    for p in plan.problems:
        print(f"  problem: {p}")
    if plan.after != plan.before:
        verbatim(plan.diff)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.libvirt import apply_attach, format_step, plan_attach, start_domain
    from vfio_tui.core.libvirt.failure import save_failure
    from vfio_tui.core.libvirt.policy import parse_rom_bar
    from vfio_tui.tui.cli.common import print_json

    out: dict[str, Any] = {}
    host, hv = open_host_and_hypervisor(args, options)
    with host, hv:
        plan = plan_attach(host, hv, args.address, args.vm, mode=args.mode, managed=args.managed == "yes",
                           rom_bar=parse_rom_bar(args.rom_bar), nic=nic_from_args(args))
        out["uri"] = hv.uri
        out["plan"] = plan.to_json()
        if not args.json:
            print_plan(plan)
        if plan.problems:
            if args.json:
                out["applied"] = False
                print_json(out)
            else:
                print(f"refused: {len(plan.problems)} problem(s); nothing was changed", file=sys.stderr)
            return 3
        if args.dry_run:
            if args.json:
                out["applied"] = False
                print_json(out)
            else:
                print("dry run: nothing was changed")
            return 0

        def show(event: Any) -> None:
            if not args.json:
                print(format_step(event), flush=True)

        result = apply_attach(hv, plan, on_step=show)
        out["applied"] = True
        out["method"] = result.method
        out["steps"] = [e.to_json() for e in result.events]
        rc = 0
        if args.start:
            started = start_domain(hv, args.vm, host, on_step=show)
            out["start"] = {"ok": started.ok, "seconds": round(started.seconds, 3),
                            "steps": [e.to_json() for e in started.events],
                            "failure": started.record.to_json() if started.record else None}
            if not started.ok:
                rc = 1
                saved = save_failure(host, started.record) if started.record is not None else None
                out["start"]["saved_to"] = host.paths.display(saved) if saved else None
                if not args.json and started.record is not None:
                    print("\n=== start failed: failure record ===")
                    print(started.record.format_text(), end="")
                    kept = f"; kept in {host.paths.display(saved)}" if saved else ""
                    print(f"(`vfio-tui explain --vm {args.vm}` turns this into a cause and a fix{kept})")
        if args.json:
            print_json(out)
    return rc
