"""`vfio-tui pass ADDR VM`: the whole passthrough in one transaction — bind, verify, attach, start."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT
from vfio_tui.tui.cli.libvirt_args import add_connect_option, add_nic_options, nic_from_args, open_host_and_hypervisor
from vfio_tui.tui.cli.output import verbatim

if TYPE_CHECKING:
    from vfio_tui.core.passthrough import PassthroughPlan

HELP = "pass a device (its whole IOMMU group) to a VM: bind, verify, attach, start — undo with `vfio-tui undo`"
DESCRIPTION = """\
Pass ADDR through to VM in one transaction, the same one the app's wizard runs:
  1. plan: the group's members and the exact sysfs writes (bridges stay), the <hostdev> XML diff,
     the prerequisite checks that warn or fail, and — first — every reason it is refused (the host
     uses a member, another VM holds one, the group holds chipset devices, ...);
  2. asks (or --yes), then runs each phase with live steps: bind the group to vfio-pci, verify
     (every endpoint on vfio-pci, /dev/vfio/N present, group viable), attach to the VM, and with
     --start start it;
  3. records the run (run-N); `vfio-tui undo run-N` (or --last) takes exactly it back.
A failed bind rolls itself back. A failed start is explained on the spot (`vfio-tui explain --vm VM`
shows it again) and left in place for you to fix or undo.
"""
EPILOG = """\
examples:
  vfio-tui pass 0000:0b:00.0 vfio_test --demo --dry-run      the plan only
  vfio-tui pass 0000:0b:00.0 vfio_test --demo --start --yes  the seed's HBA, started
  vfio-tui pass 0b:00.0 nic_test --demo --start --yes        a start that fails: explained
  vfio-tui pass 0b:00.0 vfio_test --root /tmp/h --start --yes --json   one JSON object per line
  sudo vfio-tui pass 0000:0a:00.0 win10 --start              GPU + its HDMI audio (group 18)
  vfio-tui pass 01:00.0 win11 --demo workstation --dry-run  a GPU: all four functions, nvidia unloaded first
  vfio-tui pass 0a:00.0 win11 --demo single-gpu --stop-display-manager --dry-run   the host's only GPU

A GPU: the plan first releases what the host does with the card, each step with its undo — the text
console (fbcon's vtconsole), the firmware framebuffer (simpledrm/efifb), the driver's modules when it cannot
let go by unbind (nvidia) — and, only with --stop-display-manager, stops the display manager (never from
inside the session it ends). `vfio-tui undo` loads the modules again, gives the console back and starts the
display manager. On the host's only GPU the plan also shows the libvirt hook that would do this whenever
the VM starts.

exit status: 0 done, 1 the VM did not start (explained), 2 bad input or a failed phase,
3 the plan was refused (nothing changed)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="PCI address, e.g. 0000:0b:00.0 or 0b:00.0")
    parser.add_argument("vm", metavar="VM", help="the VM's name (`vfio-tui vms` lists them)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--config", dest="mode", action="store_const", const="config",
                      help="add it to the VM's definition (default; reaches a running VM at its next start)")
    mode.add_argument("--live", dest="mode", action="store_const", const="live",
                      help="hot-plug it into the running VM only")
    mode.add_argument("--both", dest="mode", action="store_const", const="both", help="--config and --live")
    parser.set_defaults(mode="config")
    parser.add_argument("--start", action="store_true", help="start the VM afterwards (when it is not running)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan and stop")
    parser.add_argument("--yes", "-y", action="store_true", help="run without asking")
    parser.add_argument("--json", action="store_true",
                        help='JSON Lines: {"event":"plan"}, one {"event":"step"} per step, {"event":"result"}')
    parser.add_argument("--managed", choices=("yes", "no"), default="yes",
                        help="yes (default): libvirt also gives the device back when the VM stops; no: it stays on"
                             " vfio-pci until `vfio-tui undo`")
    parser.add_argument("--force-host-device", action="append", default=[], metavar="ADDR",
                        help="accept taking this one device away from the host (repeat per device)")
    parser.add_argument("--assume-unused", action="store_true",
                        help="on a host whose usage is not recorded, plan as if the host used none of the group")
    parser.add_argument("--stop-display-manager", action="store_true",
                        help="a GPU the display server runs on: stop the display manager first (systemctl stop"
                             " display-manager) and start it again on undo; ends the graphical session")
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=10.0, metavar="S",
                        help="seconds one sysfs write may take before it is abandoned (default 10)")
    add_connect_option(parser)
    add_nic_options(parser)


def print_plan(plan: PassthroughPlan) -> None:
    target = f" to {plan.vm} ({plan.mode}{', then start it' if plan.start else ''})" if plan.vm else ""
    print(f"Plan: pass {plan.address} (IOMMU group {plan.bind.group}){target} on {plan.host.label}")
    if plan.refusals:
        print("REFUSED — nothing will change:")
        for r in plan.refusals:
            print(f"  ✗ {r.reason}" if not r.address else f"  ✗ {r.address}: {r.reason}")
            if r.fix:
                print(f"      fix: {r.fix}")
    print("Group members (they go together):")
    for line in plan.members:
        print(f"  {line}")
    gpu = plan.gpu
    if gpu is not None and gpu.hook is not None and plan.refusals:
        print("The libvirt hook would do it whenever the VM starts:")
        for line in gpu.hook.lines():
            print(f"  {line}")
    if plan.refusals:
        for w in plan.warnings:
            print(f"  note: {w}")
        return
    if gpu is not None and gpu.release:
        print("Host GPU use released first (each put back on undo):")
        for step in gpu.release:
            print(f"  {step.describe()}" + (f"   ({step.why})" if step.why else ""))
    print("Driver changes (sysfs writes, in order):")
    for line in plan.driver_changes or ("none: the group is on vfio-pci already",):
        print(f"  {line}")
    if plan.attach is not None:
        print(f"VM definition change ({plan.vm}):")
        verbatim("".join(f"  {line}\n" for line in plan.xml_diff.splitlines()) or "  (none)\n")
    for c in plan.checks:
        print(f"  check {c.status.upper()}: {c.id}: {c.summary}")
    for w in plan.warnings:
        print(f"  note: {w}")
    print("Undo (`vfio-tui undo` after the run):")
    for line in plan.undo:
        print(f"  {line}")




def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.explain import explain_failure
    from vfio_tui.core.explain.render import format_report
    from vfio_tui.core.passthrough import plan_passthrough, run_passthrough
    from vfio_tui.tui.cli.common import confirm, emit_json_line, host_args, step_reporter

    host, hv = open_host_and_hypervisor(args, options)
    with host, hv:
        plan = plan_passthrough(host, hv, args.address, args.vm, args.mode, args.start,
                                managed=args.managed == "yes", force_host_devices=args.force_host_device,
                                assume_unused=args.assume_unused, stop_display_manager=args.stop_display_manager,
                                nic=nic_from_args(args))
        if args.json:
            emit_json_line({"event": "plan", "plan": plan.to_json()})
        else:
            print_plan(plan)
        if not plan.ok:
            if not args.json:
                print(f"vfio-tui: refused: {plan.refusals[0]}", file=sys.stderr)
            return 3
        if args.dry_run:
            if not args.json:
                print("dry run: nothing was changed")
            return 0
        if not args.yes and not confirm(f"Run it on {host.label}?"):
            print("nothing changed", file=sys.stderr)
            return 1

        on_step = step_reporter(args.json)

        result = run_passthrough(plan, on_step, timeout=args.timeout)
        explanation = explain_failure(result.failure, host) if result.failure is not None else None
        if args.json:
            emit_json_line({"event": "result", **result.to_json(),
                   "explanation": explanation.to_json() if explanation is not None else None})
        else:
            ran = f" ({result.run_id})" if result.ok else ""
            print(("Done: " if result.ok else "FAILED: ") + result.message + ran)
            if result.error and not result.ok:
                print(f"  {result.failed_phase}: {result.error}")
            if explanation is not None:
                print("\n=== why the VM did not start ===")
                print(format_report(explanation, color=False), end="")
            if result.run_id:
                print(f"undo: vfio-tui undo {result.run_id}{host_args(options)}")
        if result.ok:
            return 0
        return 1 if result.failed_phase == "start" else 2

