"""`vfio-tui bind ADDR`: bind a device's whole IOMMU group to vfio-pci, safely and reversibly."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT
from vfio_tui.tui.cli.libvirt_args import add_connect_option
from vfio_tui.tui.cli.output import verbatim

HELP = "bind a device's whole IOMMU group to vfio-pci (plan shown first; undo with `restore`)"
DESCRIPTION = """\
Bind the IOMMU group of ADDR to vfio-pci so a VM can use it:
  1. plan: every non-bridge member goes to vfio-pci (bridges and ports stay), by address
     (driver_override, never vendor:device ids); refused when the host uses a member
     (root disk, SSH/default-route NIC, console VGA, keyboard USB controller...);
  2. shows the exact sysfs writes (path <- value) and what undoes each;
  3. asks (or --yes), journals every step first, applies with a timeout per write;
  4. verifies: every endpoint on vfio-pci, /dev/vfio/<group> present, group viable;
     anything wrong -> everything is rolled back and you are told why.
Undo any time with `vfio-tui restore ADDR` or `vfio-tui restore --all`.
"""
EPILOG = """\
examples:
  vfio-tui bind 0000:0b:00.0 --demo --dry-run     show the plan for the seed's HBA (group 19)
  vfio-tui bind 02:00.0 --demo --yes              bind both ports of the dual NIC (group 13)
  vfio-tui bind 03:00.1 --demo --json             the plan as JSON (refused: SSH NIC, console)
  vfio-tui bind 03:00.1 --demo --yes \\
      --force-host-device 0000:03:00.0 --force-host-device 0000:05:00.1
  sudo vfio-tui bind 0000:0b:00.0 --persist       also keep it across reboots (udev + softdep)

exit status: 0 bound (or dry run), 2 bad input / failed and rolled back, 3 plan refused
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", help="PCI address, e.g. 0000:0b:00.0 or 0b:00.0")
    parser.add_argument("--dry-run", action="store_true", help="show the plan and stop")
    parser.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    parser.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    parser.add_argument("--force-host-device", action="append", default=[], metavar="ADDR",
                        help="accept taking this one device away from the host (repeat per device)")
    parser.add_argument("--persist", action="store_true",
                        help="keep the binding across reboots (udev rule + modprobe softdep, by address)")
    parser.add_argument("--assume-unused", action="store_true",
                        help="on a host whose usage is not recorded (a lab-format snapshot, a plain tree), plan as"
                             " if the host used none of the group's devices")
    add_connect_option(parser)
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=10.0, metavar="S",
                        help="seconds one sysfs write may take before it is abandoned (default 10)")


def _print_plan(plan: Any, label: str, out: Any) -> None:
    print(f"Plan: bind IOMMU group {plan.group} to vfio-pci (target {plan.target}) on {label}", file=out)
    for d in plan.devices:
        frm = d.from_driver or "(no driver)"
        if d.is_bridge:
            to = "stays (bridge)" if d.to_driver == d.from_driver else "unbound (bridge driver breaks viability)"
        else:
            to = "vfio-pci" + (" (already)" if d.from_driver == "vfio-pci" else "")
        print(f"  {d.address}  {frm:<14} -> {to}", file=out)
    for w in plan.warnings:
        print(f"  WARNING: {w}", file=out)
    if plan.refused:
        print("Refused:", file=out)
        for r in plan.refused:
            print(f"  {r.address}: {r.reason}", file=out)
            if r.fix:
                print(f"      fix: {r.fix}", file=out)
        return
    if not plan.steps:
        print("Nothing to do: every endpoint is already on vfio-pci.", file=out)
        return
    print("Steps (in order; `vfio-tui restore` undoes them):", file=out)
    for i, s in enumerate(plan.steps, 1):
        undo = f"   (undo: {s.undo})" if s.undo and s.kind != "modprobe" else ""
        print(f"  {i:>2}. {s.describe()}{undo}", file=out)



def _persist(host: Any, plan: Any, changes: Any, timeout: float) -> Any:
    """Write the persistence files; when that fails (or is interrupted) the binding is undone too, so
    `bind --persist` is all or nothing (the files roll themselves back)."""
    from vfio_tui.core.binding import undo_plan
    from vfio_tui.core.configfiles import apply_changes
    from vfio_tui.core.errors import VfioError

    try:
        return apply_changes(host, changes, what="bind --persist")
    except (VfioError, KeyboardInterrupt) as exc:
        left = undo_plan(host, plan, timeout=timeout)
        undone = ("the binding was undone too: nothing changed" if not left else
                  "the binding stays: " + "; ".join(f"{a}: {e}" for a, e in left.items())
                  + f" (`vfio-tui restore {plan.target}` once that is fixed)")
        if isinstance(exc, KeyboardInterrupt):
            print(f"vfio-tui: --persist interrupted; {undone}", file=sys.stderr)
            raise
        raise VfioError(f"--persist failed: {exc.detail}; {undone}") from None


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.binding import apply_plan, plan_bind
    from vfio_tui.core.binding.apply import needs_root
    from vfio_tui.core.binding.journal import writer_lock
    from vfio_tui.core.binding.persist import persist_changes
    from vfio_tui.core.libvirt.for_host import domain_facts_for
    from vfio_tui.core.steps import StepEvent
    from vfio_tui.tui.cli.common import confirm, print_json

    with open_host(options) as host:
        plan = plan_bind(host, args.address, force_host_devices=args.force_host_device,
                         domains=domain_facts_for(host, args.connect), assume_unused=args.assume_unused)
        changes = persist_changes(host, plan) if args.persist and plan.ok else []
        human = sys.stderr if args.json else sys.stdout
        doc: dict[str, Any] = plan.to_json()
        if args.persist:
            doc["persist"] = [{"path": c.path, "diff": c.diff} for c in changes]
        if args.json:
            if args.dry_run or not plan.ok or not plan.steps:
                print_json(doc)
        else:
            _print_plan(plan, host.label, human)
            for c in changes:
                print(f"Persist ({c.path}):", file=human)
                verbatim(c.diff + "\n", human)
        if not plan.ok:
            return 3
        if needs_root(host) and plan.steps:
            print("vfio-tui: error: needs root for: " + "; ".join(s.describe() for s in plan.steps)
                  + " (run it again with sudo)", file=sys.stderr)
            return 2
        if args.dry_run or (not plan.steps and not changes):
            return 0
        if not args.yes and not confirm(f"Apply {len(plan.steps)} steps to {host.label}?"):
            print("nothing changed", file=sys.stderr)
            return 1

        def on_step(ev: StepEvent) -> None:
            ms = (ev.seconds or 0.0) * 1000
            if ev.state == "done":
                print(f"  ok  {ms:7.1f} ms  {ev.step}", file=sys.stderr)
            elif ev.state == "failed":
                print(f"  FAILED {ms:5.1f} ms  {ev.step}: {ev.detail}", file=sys.stderr)

        with writer_lock(host.paths, f"bind {plan.target}"):  # the binding and its persistence: one writer
            result = apply_plan(host, plan, on_step=on_step, timeout=args.timeout)
            applied = _persist(host, plan, changes, args.timeout) if changes else None
        backups = [c.backup for c in applied.changes if c.backup] if applied else []
        if args.json:
            doc["applied"] = {"verified": not result.problems, "seconds": round(result.total_seconds, 6),
                              "journal": result.journal, "backups": backups,
                              "config_journal": applied.journal_id if applied else None}
            print_json(doc)
        else:
            print(f"Group {plan.group} is on vfio-pci: /dev/vfio/{plan.group} present, group viable"
                  f" ({result.total_seconds * 1000:.1f} ms). Undo: vfio-tui restore {plan.target}"
                  + (" --persist" if changes else ""))
            for b in backups:
                print(f"backup: {b}")
            if changes and host.paths.is_live:
                print("note: run `update-initramfs -u` (or dracut -f) so the softdep also applies in the initramfs")
        return 1 if result.problems else 0

