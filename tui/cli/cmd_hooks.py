"""`vfio-tui hooks install|remove|status`: the libvirt hook that gives a VM the host's GPU whenever it starts."""

from __future__ import annotations

import argparse
import sys

from vfio_tui.core.errors import InputError
from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import seconds

HELP = "install, remove or show the libvirt hook that hands a GPU to a VM whenever it starts (single-GPU hosts)"
DESCRIPTION = """\
On a host whose only GPU runs the desktop, the GPU can go to a VM only while the VM runs: the display
manager stops, the text console and the firmware framebuffer let go, the driver's modules unload, the
card's whole group goes to vfio-pci — and all of it comes back when the VM stops. libvirt (>= 6.5) runs
every executable in /etc/libvirt/hooks/qemu.d for every QEMU domain at each step of its life; vfio-tui
installs ONE script there that does this for the VMs you install it for, with vfio-tui's transaction
(the same steps and undo as `vfio-tui pass --stop-display-manager`), and nothing for any other VM.

  install VM   show what it writes (a diff) and does at start and stop; with --yes write it:
               /etc/libvirt/hooks/qemu.d/vfio-tui (0755, one for every VM) and the VM's recorded plan
               /var/lib/vfio-tui/hooks/VM.json (0600). When the VM's definition does not pass the GPU yet,
               its functions are added (managed='no': the hook binds them). Journaled and backed up:
               `hooks remove VM` (or `vfio-tui check --undo cfg-N`) puts everything back.
               libvirt reads the hook dir when it starts: restart libvirtd (or virtqemud) afterwards.
  remove VM    take the VM's plan out (and the script, when no other VM has one; and the hostdevs install
               added); refused while the hook has the GPU on vfio-pci.
  status       what is installed, whether a VM has the GPU now, and what else is in libvirt's hook dir.

At "prepare begin" the hook checks the recorded plan against the host and refuses the start (libvirt shows
why) when the group's members, the card's functions or the steps needed changed, or a device is now used by
something the plan cannot release; it never calls libvirt back (libvirt waits on it). A failed bind puts the
console and the display manager back at once; at "stopped end"/"release end" everything is given back; a
watchdog does the same when the VM has not started --watchdog seconds after the bind.
An existing /etc/libvirt/hooks/qemu (the community's per-VM dispatcher) is never touched; per-VM scripts it
would run for the same VM are a conflict, and install refuses (--allow-other-hooks accepts them).
"""
EPILOG = """\
examples:
  vfio-tui hooks install win11 --demo single-gpu              the plan: files, diff, what runs at start and stop
  vfio-tui sim-host /tmp/sg --demo single-gpu                 a writable copy to install on
  vfio-tui hooks install win11 --root /tmp/sg --yes           write it there (journaled)
  vfio-tui hooks status --root /tmp/sg                        what is installed (--json for scripts)
  vfio-tui hooks remove win11 --root /tmp/sg --yes            put everything back
  sudo vfio-tui hooks install win11 --yes && sudo systemctl restart libvirtd
  vfio-tui hooks install cuda --gpu 01:00.0 --demo workstation   a VM without a GPU hostdev: say which GPU

exit status: 0 done (or the plan shown), 2 bad input, 3 refused (nothing changed)
"""
ACTIONS = ("install", "remove", "status", "run", "watchdog")
"""run and watchdog are what the installed script calls (not for people: no libvirt, no questions)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", metavar="{install,remove,status}", choices=ACTIONS,
                        help="install VM, remove VM, or status")
    parser.add_argument("vm", metavar="VM", nargs="?", help="the VM's name (install, remove)")
    parser.add_argument("operation", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("suboperation", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--gpu", metavar="ADDR", help="install: the GPU to take (default: the GPU in the VM's"
                        " definition, else the host's only GPU)")
    parser.add_argument("--watchdog", type=seconds(0.0, 3600.0, allow_zero=True), default=120.0, metavar="S",
                        help="install: give the GPU back when the VM has not started S seconds after the bind"
                             " (default 120; 0: no watchdog)")
    parser.add_argument("--allow-other-hooks", action="store_true",
                        help="install even though per-VM hook scripts of the community dispatcher run for this VM")
    parser.add_argument("--after", type=seconds(0.0, 3600.0, allow_zero=True), default=120.0,
                        help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help="install/remove: show the plan and stop (the default"
                        " without --yes)")
    parser.add_argument("--yes", "-y", action="store_true", help="install/remove: write it")
    parser.add_argument("--json", action="store_true", help="the plan or the status as JSON")
    parser.add_argument("--connect", "-c", metavar="URI", default=None,
                        help="install/remove: libvirt URI (default: qemu:///system; the demo VMs for --demo or a"
                             " sim-host tree)")


def _check_args(args: argparse.Namespace) -> None:
    action = args.action
    if action in ("install", "remove") and not args.vm:
        raise InputError(f"hooks {action}: give the VM",
                         fix=f"vfio-tui hooks {action} VM; `vfio-tui vms` lists the VMs")
    if action in ("install", "remove", "watchdog") and args.operation:
        raise InputError(f"hooks {action} takes one VM, not {args.operation!r} too")
    if action == "status" and args.vm:
        raise InputError("hooks status takes no VM: it shows every hook", fix="vfio-tui hooks status")
    if action == "run" and not (args.vm and args.operation and args.suboperation):
        raise InputError("hooks run DOMAIN OPERATION SUB-OPERATION is what the installed hook script calls")
    if action != "install" and (args.gpu or args.allow_other_hooks):
        raise InputError("--gpu and --allow-other-hooks go with `hooks install VM`")
    if action in ("status", "run", "watchdog") and (args.yes or args.dry_run):
        raise InputError(f"hooks {action} changes nothing to confirm: no --yes/--dry-run")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    _check_args(args)
    if args.action == "status":
        return _status(args, options)
    if args.action in ("run", "watchdog"):
        return _run(args, options)
    return _change(args, options)


def _status(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.hooks.remove import hook_status
    from vfio_tui.core.open_host import open_host
    from vfio_tui.tui.cli.common import print_json

    with open_host(options) as host:
        status = hook_status(host)
        if args.json:
            print_json(status)
            return 0
        s = status["script"]
        if not s["present"]:
            print(f"{s['path']}: not installed")
        elif not s["ours"]:
            print(f"{s['path']}: a file vfio-tui did not write (it is left alone)")
        else:
            print(f"{s['path']}: installed, mode {s['mode']}" + ("" if s["executable"] else
                                                                 " — NOT executable: libvirt skips it"))
        if not status["plans"]:
            print("no VM has a vfio-tui hook plan" + (" (vfio-tui hooks install VM)" if not s["present"] else
                                                      "; the script does nothing"))
        for p in status["plans"]:
            if "error" in p:
                print(f"  {p['vm']}: {p['error']}")
                continue
            now = (f"the GPU is on vfio-pci now ({p['active_run']})" if p["active_run"]
                   else "the GPU is with the host")
            print(f"  {p['vm']}: GPU {p['gpu']}, group {p['group']} ({', '.join(p['members'])}); {now};"
                  f" installed {p['installed']}; watchdog {p['watchdog']:g} s")
            if not p["interpreter_ok"]:
                print(f"    the recorded interpreter {p['interpreter']} is gone: the hook cannot run;"
                      f" vfio-tui hooks install {p['vm']}")
        for line in status["other_lines"]:
            print(f"  already there: {line}")
        return 0


def _run(args: argparse.Namespace, options: HostOptions) -> int:
    """What the installed script calls: never opens libvirt, never asks."""
    from vfio_tui.core.hooks.run import run_hook, spawn_watchdog, watchdog
    from vfio_tui.core.open_host import open_host
    from vfio_tui.tui.cli.common import host_args

    with open_host(options) as host:
        if args.action == "watchdog":
            outcome = watchdog(host, args.vm, args.after)
        else:
            extra = host_args(options).split()
            outcome = run_hook(host, args.vm, args.operation, args.suboperation,
                               lambda line: print(line, file=sys.stderr),
                               spawn=spawn_watchdog(extra))
    if outcome.message:
        print(outcome.message, file=sys.stderr if outcome.code else sys.stdout)
    return outcome.code


def _change(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.hooks.install import RESTART_NOTE, apply_install, plan_install
    from vfio_tui.core.hooks.remove import apply_remove, plan_remove
    from vfio_tui.tui.cli.common import host_args, print_json
    from vfio_tui.tui.cli.libvirt_args import open_host_and_hypervisor
    from vfio_tui.tui.cli.output import verbatim

    if args.action == "remove":
        from vfio_tui.core.open_host import open_host

        with open_host(options) as host:
            rplan = plan_remove(host, args.vm)
            if args.json and not args.yes:
                print_json(rplan.to_json())
            else:
                print("\n".join(rplan.lines()))
            if rplan.refusal:
                print(f"vfio-tui: refused: {rplan.refusal} (fix: {rplan.fix})", file=sys.stderr)
                return 3
            if not args.yes or args.dry_run:
                print("nothing was changed; add --yes to remove it")
                return 0
            hv = None
            if rplan.hostdevs:
                from vfio_tui.core.libvirt.for_host import hypervisor_for

                hv = hypervisor_for(host, args.connect)
            try:
                applied = apply_remove(host, hv, rplan)
            finally:
                if hv is not None:
                    hv.close()
            print(f"Removed the hook of {args.vm}" + (f" (journal {applied.journal_id})" if applied else ""))
            return 0
    host, hv = open_host_and_hypervisor(args, options)
    with host, hv:
        plan = plan_install(host, hv, args.vm, gpu=args.gpu, watchdog=args.watchdog,
                            allow_other_hooks=args.allow_other_hooks)
        if args.json:
            print_json(plan.to_json())
        else:
            for text, content in plan.blocks():
                if content:
                    verbatim(text + "\n")
                else:
                    print(text)
        if not plan.ok:
            reason, fix = plan.refusals[0]
            print(f"vfio-tui: refused: {reason}" + (f" (fix: {fix})" if fix else ""), file=sys.stderr)
            return 3
        if not args.yes or args.dry_run:
            if not args.json:
                print("nothing was changed" + ("" if args.dry_run else "; add --yes to install it"))
            return 0
        applied = apply_install(host, hv, plan)
        if args.json:
            return 0
        if applied is None and plan.attach is None:
            print(f"The hook of {args.vm} is installed already (nothing to write)")
            return 0
        print(f"Installed the hook of {args.vm}" + (f" (journal {applied.journal_id})" if applied else ""))
        if plan.new_script:
            print(f"  {RESTART_NOTE}")
        print(f"  undo: vfio-tui hooks remove {args.vm} --yes{host_args(options)}")
        return 0
