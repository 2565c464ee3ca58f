"""`vfio-tui sriov ADDR [--vfs N]`: a PF's VFs, and setting their number as a planned, undoable change."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT, integer
from vfio_tui.tui.cli.libvirt_args import add_connect_option

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.model import PfSriov
    from vfio_tui.core.sriov import SriovPlan

HELP = "an SR-IOV PF's VFs (groups, drivers, MAC/VLAN, VMs), and setting their number (plan, undo)"
DESCRIPTION = """\
Without --vfs: the PF and its VFs — IOMMU group (shared ones flagged), driver, the MAC/VLAN/spoof
check/trust the PF driver reports for a NIC VF, and the VM that holds each.

With --vfs N: set the PF to N VFs, safely and reversibly:
  1. plan: refused when N is above sriov_totalvfs, the PF has no driver, the host uses the PF (its
     address, route, SSH session: the PF driver reconfigures it) or a VF that goes, or a VF that goes
     is held (a VM, an open /dev/vfio, another vfio-tui run) — naming them;
  2. the writes: 0 first (the kernel changes the count only through 0: EBUSY otherwise), then
     sriov_drivers_autoprobe (--autoprobe off keeps host drivers off the new VFs), then N;
  3. asks (or --yes), records the run (run-N), writes, verifies every VF appeared with an IOMMU group
     (a shared group is named: a port above the PF has no ACS), and goes back on any failure.
`vfio-tui undo run-N` puts the previous count back. --persist keeps N across reboots (a udev rule on
the PF's address, shown as a diff first).
"""
EPILOG = """\
examples:
  vfio-tui sriov 07:00.0 --demo                         the 82599's VFs (the router VM holds VF 1)
  vfio-tui sriov 07:00.1 --vfs 2 --demo --dry-run       the plan for two VFs on the second port
  vfio-tui sim-host /tmp/h; vfio-tui sriov 07:00.1 --vfs 4 --autoprobe off --root /tmp/h --yes
  vfio-tui sriov 07:00.0 --vfs 4 --demo                 refused: the host's address, the router VM
  sudo vfio-tui sriov 0000:3b:00.0 --vfs 8 --persist    also at every boot (udev rule by address)

exit status: 0 done (or dry run), 2 bad input / failed and rolled back, 3 refused (nothing changed)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="the PF's PCI address, e.g. 0000:07:00.1 or 07:00.1")
    parser.add_argument("--vfs", type=integer(0, 65535, "a number of VFs"), metavar="N",
                        help="the number of VFs to have (0 removes them all)")
    parser.add_argument("--autoprobe", choices=("on", "off"),
                        help="sriov_drivers_autoprobe: whether new VFs get their host driver at once")
    parser.add_argument("--persist", action="store_true", help="keep the count across reboots (udev rule by address)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan and stop")
    parser.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    parser.add_argument("--json", action="store_true", help="JSON Lines: the plan (or status), steps, the result")
    parser.add_argument("--force-host-device", action="append", default=[], metavar="ADDR",
                        help="accept that the host loses this device (the PF or a VF) for a moment or for good")
    parser.add_argument("--assume-unused", action="store_true",
                        help="on a host whose usage is not recorded, plan as if the host used neither PF nor VFs")
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=60.0, metavar="S",
                        help="seconds one sriov_numvfs write may take before it is abandoned (default 60)")
    add_connect_option(parser)


def print_status(info: PfSriov, host: Host) -> None:
    from vfio_tui.core.sriovinfo.format import pf_text, vf_text

    print(f"{info.address} on {host.label}: {pf_text(info)}"
          + (f", netdev {info.ifname}" if info.ifname else ""))
    for vf in info.vfs:
        print(f"  {vf_text(vf)}")
    if not info.vfs:
        print(f"  no VFs (vfio-tui sriov {info.address.short} --vfs N creates them)")


def print_plan(plan: SriovPlan, label: str) -> None:
    autoprobe = {True: "on", False: "off", None: "?"}
    print(f"Plan: SR-IOV {plan.pf} ({plan.pf_driver or 'no driver'}, group {plan.group}) on {label}: "
          f"{plan.current_vfs} → {plan.target_vfs} VFs of {plan.total_vfs}, autoprobe "
          f"{autoprobe[plan.current_autoprobe]} → {autoprobe[plan.target_autoprobe]}")
    if plan.refused:
        print("REFUSED — nothing will change:")
        for r in plan.refused:
            print(f"  ✗ {r.address}: {r.reason}")
            if r.fix:
                print(f"      fix: {r.fix}")
        return
    if plan.removed_vfs:
        print(f"  VFs that go: {', '.join(plan.removed_vfs)}")
    if plan.new_vfs:
        print(f"  new VFs: {', '.join(plan.new_vfs)}")
    for w in plan.warnings:
        print(f"  WARNING: {w}")
    if plan.steps:
        print("Steps (in order; `vfio-tui undo` puts the previous count back):")
        for i, s in enumerate(plan.steps, 1):
            print(f"  {i:>2}. {s.describe()}   ({s.why})")
    for c in plan.persist:
        print(f"--persist ({c.path}):")
        print("".join(f"  {line}\n" for line in c.diff.splitlines()), end="")
    if plan.nothing_to_do:
        print(f"Nothing to do: {plan.pf} has {plan.current_vfs} VFs already.")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.libvirt.for_host import domain_facts_for
    from vfio_tui.core.open_host import open_host
    from vfio_tui.core.sriov import apply_sriov, plan_sriov
    from vfio_tui.core.sriovinfo.read import with_holds
    from vfio_tui.tui.cli.common import confirm, emit_json_line, host_args, step_reporter

    if not args.timeout > 0 or args.timeout == float("inf"):
        raise InputError(f"--timeout {args.timeout}: give a positive number of seconds")
    autoprobe = None if args.autoprobe is None else args.autoprobe == "on"
    if args.vfs is None and autoprobe is None and (args.persist or args.force_host_device or args.dry_run
                                                   or args.yes):
        # `--autoprobe on|off --yes` alone is a change too (the count stays): only a status read takes none.
        raise InputError("--persist, --force-host-device, --dry-run and --yes go with --vfs N or --autoprobe")
    with open_host(options) as host:
        domains = domain_facts_for(host, args.connect)
        if args.vfs is None and autoprobe is None:
            addr = PciAddress.parse(args.address)
            inv = host.inventory()
            info = inv.sriov.get(addr)
            if info is None:
                dev = inv.device(addr)
                hint = f" (it is a VF of {dev.physfn})" if dev is not None and dev.physfn else ""
                raise InputError(f"{addr} is no SR-IOV PF on {host.label}{hint}")
            try:
                inv = with_holds(inv, domains())
                info = inv.sriov[addr]
            except Exception:  # noqa: BLE001 - no libvirt: the VFs' VMs are not shown
                pass
            if args.json:
                from vfio_tui.core.sriovinfo.format import sriov_json

                emit_json_line({"event": "status", "pf": str(addr), "sriov": sriov_json(inv, inv.devices[addr])})
            else:
                print_status(info, host)
            return 0
        if args.vfs is not None:
            num = args.vfs
        else:  # --autoprobe alone: the count stays
            addr = PciAddress.parse(args.address)
            current = host.inventory(names=False, focus=addr).sriov.get(addr)
            num = current.num_vfs if current is not None else 0
        plan = plan_sriov(host, args.address, num, autoprobe=autoprobe, force_host_devices=args.force_host_device,
                          domains=domains, assume_unused=args.assume_unused, persist=args.persist)
        if args.json:
            emit_json_line({"event": "plan", "plan": plan.to_json()})
        else:
            print_plan(plan, host.label)
        if not plan.ok:
            if not args.json:
                print(f"vfio-tui: refused: {plan.refused[0].address}: {plan.refused[0].reason}", file=sys.stderr)
            return 3
        if args.dry_run or plan.nothing_to_do:
            if args.json and plan.nothing_to_do and not args.dry_run:
                emit_json_line({"event": "result", "ok": True, "run_id": None, "pf": plan.pf, "vfs": [],
                                "warnings": [], "config_id": None, "nothing_to_do": True})
            elif not args.json and args.dry_run:
                print("dry run: nothing was changed")
            return 0
        if not args.yes and not confirm(f"Apply it on {host.label}?"):
            print("nothing changed", file=sys.stderr)
            return 1

        on_step = step_reporter(args.json)

        result = apply_sriov(host, plan, on_step=on_step, timeout=args.timeout)
        if args.json:
            emit_json_line({"event": "result", "ok": True, **result.to_json()})
            return 0
        vfs = ", ".join(f"{v.address} (group {v.iommu_group}, {v.driver or 'no driver'})" for v in result.vfs)
        print(f"Done ({result.run_id}): {plan.pf} has {plan.target_vfs} VFs" + (f": {vfs}" if vfs else ""))
        for w in result.warnings:
            print(f"  WARNING: {w}")
        if result.config_id:
            print(f"  kept across reboots ({result.config_id})")
        print(f"undo: vfio-tui undo {result.run_id}{host_args(options)}")
    return 0
