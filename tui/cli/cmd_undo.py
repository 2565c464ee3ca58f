"""`vfio-tui undo [RUN_ID|--last]`: take a passthrough run back — the VM first, then the drivers."""

from __future__ import annotations

import argparse
import sys

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT, seconds
from vfio_tui.tui.cli.libvirt_args import add_connect_option

HELP = ("take a `vfio-tui pass` run back (out of the VM first, then the drivers; refuses while the VM holds it),"
        " or a `vfio-tui sriov` change (the previous number of VFs)")
DESCRIPTION = """\
Undo one passthrough run (run-N, as `vfio-tui pass` and the app print it; default: the newest one
not yet undone), in this order:
  1. the VM: while it runs with the device, undo refuses (and changes nothing) unless you say how
     to free it: --live hot-unplugs it (the guest must acknowledge; waits, then gives up cleanly) or
     --stop-vm shuts the VM down (ACPI; --force powers it off if it does not stop in time). Then the
     run's <hostdev> entries (and controllers added for them) leave the VM's definition;
  2. the drivers: every device the run bound goes back to its original driver — refused while a
     VM or a process (anything with /dev/vfio/N open) still holds it, naming it.
A run of `vfio-tui sriov` (an SR-IOV change) goes back to the PF's previous number of VFs (and
sriov_drivers_autoprobe, and its --persist rule), refused while a VF that would go is held.
A step that fails stops the undo and says what is still in place; run it again after the fix.
It says "Undone" only when everything was.
"""
EPILOG = """\
examples:
  vfio-tui undo --list --root /tmp/h           the runs recorded on a simulated host
  vfio-tui undo --last --root /tmp/h --dry-run what undoing the newest run would do
  vfio-tui undo run-3 --root /tmp/h --stop-vm --yes
  sudo vfio-tui undo --last --live             hot-unplug from the running VM, then restore

exit status: 0 undone, 2 bad input or a step failed (what is left is listed), 3 refused (nothing changed)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run to undo (run-N); default: --last")
    parser.add_argument("--last", action="store_true", help="the newest run not yet undone (the default)")
    parser.add_argument("--list", action="store_true", help="list the recorded runs and stop")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--live", action="store_true", help="hot-unplug from the running VM first")
    how.add_argument("--stop-vm", action="store_true", help="shut the VM down first (ACPI)")
    parser.add_argument("--force", action="store_true",
                        help="with --stop-vm: power the VM off if it does not shut down in time (virsh destroy)")
    parser.add_argument("--shutdown-timeout", type=seconds(), default=60.0, metavar="S",
                        help="seconds to wait for the VM to shut down (default 60)")
    parser.add_argument("--unplug-timeout", type=seconds(), default=30.0, metavar="S",
                        help="seconds to wait for the guest to release a hot-unplugged device (default 30)")
    parser.add_argument("--dry-run", action="store_true", help="say what undo would do and stop")
    parser.add_argument("--yes", "-y", action="store_true", help="undo without asking")
    parser.add_argument("--json", action="store_true", help="JSON Lines: steps, then the result")
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=10.0, metavar="S",
                        help="seconds one sysfs write may take before it is abandoned (default 10)")
    add_connect_option(parser)



def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.errors import InputError, VfioError
    from vfio_tui.core.libvirt.for_host import NoHypervisorError, domain_facts, hypervisor_for
    from vfio_tui.core.open_host import open_host
    from vfio_tui.core.passthrough import find_run, list_runs, plan_undo, undo_passthrough
    from vfio_tui.core.sriov import plan_sriov_undo, undo_sriov
    from vfio_tui.tui.cli.common import confirm, emit_json_line, host_args, step_reporter

    if args.run_id is not None and not args.run_id.strip():
        raise InputError("RUN_ID is empty", fix="`vfio-tui undo --list` lists the runs")
    if args.run_id and args.last:
        raise InputError("give RUN_ID or --last, not both")
    if args.run_id and args.list:
        raise InputError("--list lists every run; give it without RUN_ID")
    if args.force and not args.stop_vm:
        raise InputError("--force only goes with --stop-vm (it powers the VM off when it does not shut down)")
    with open_host(options) as host:
        if args.list:
            runs = list_runs(host)
            if args.json:
                emit_json_line({"event": "runs", "runs": [r.data for r in runs]})
            else:
                for r in runs:
                    print(r.summary())
                if not runs:
                    print("no passthrough runs recorded on this host")
            return 0
        sriov = find_run(host.paths, args.run_id).kind == "sriov"
        try:
            hv = hypervisor_for(host, args.connect)
        except NoHypervisorError:
            hv = None
        except VfioError:
            if not sriov:
                raise
            hv = None  # an SR-IOV change needs no libvirt to go back; without it VMs holding VFs go unseen
        try:
            if sriov:  # an SR-IOV change (`vfio-tui sriov`): back to the previous number of VFs
                plan = plan_sriov_undo(host, args.run_id, domains=None if hv is None else domain_facts(hv))
            else:
                plan = plan_undo(host, hv, args.run_id, live=args.live, stop_vm=args.stop_vm, force=args.force)
            if not args.json:
                print(f"Undo {plan.run.summary()}")
                for step in plan.steps:
                    print(f"  {step}")
            if not plan.ok:
                if args.json:
                    emit_json_line({"event": "result", "run_id": plan.run.id, "ok": False, "refused": plan.refusal,
                           "fix": plan.fix})
                else:
                    print(f"vfio-tui: refused: {plan.refusal} ({plan.fix})", file=sys.stderr)
                return 3
            if args.dry_run:
                if not args.json:
                    print("dry run: nothing was changed")
                return 0
            if not args.yes and not confirm(f"Undo {plan.run.id} on {host.label}?"):
                print("nothing changed", file=sys.stderr)
                return 1

            on_step = step_reporter(args.json)

            if sriov:
                result = undo_sriov(host, plan.run.id, on_step, domains=None if hv is None else domain_facts(hv),
                                    timeout=max(args.timeout, 60.0))
            else:
                result = undo_passthrough(host, hv, plan.run.id, on_step, live=args.live, stop_vm=args.stop_vm,
                                          force=args.force, timeout=args.timeout,
                                          shutdown_timeout=args.shutdown_timeout, unplug_timeout=args.unplug_timeout)
        finally:
            if hv is not None:
                hv.close()
        if args.json:
            emit_json_line({"event": "result", **result.to_json()})
        else:
            print(result.summary if result.ok else result.summary.replace(
                f"`vfio-tui undo {result.run_id}`", f"`vfio-tui undo {result.run_id}{host_args(options)}`"))
        return 0 if result.ok else 2

