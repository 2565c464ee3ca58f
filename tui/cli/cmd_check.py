"""`vfio-tui check`: prerequisite checks with evidence and fixes; `--fix ID` applies a file-editing fix."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli.output import verbatim

HELP = "check what passthrough needs (CPU, IOMMU, bootloader, modules, libvirt) and fix it"
DESCRIPTION = """\
Run every prerequisite check and print, per check, pass / warn / fail / n/a, the evidence it
read (file and value) and, for warn/fail, the exact fix for this host's bootloader and
distribution. Checks: CPU virtualization and /dev/kvm; the IOMMU in the firmware (ACPI
DMAR/IVRS), in the kernel (groups) and on the command line; the bootloader; obsolete or risky
flags (amd_iommu=on, pcie_acs_override, vfio-pci.ids); the VFIO modules; interrupt remapping;
libvirt and qemu.conf (cgroup_device_acl, relaxed_acs_check, dynamic_ownership); SELinux/AppArmor.
--for ADDR adds the device's group, its host users, reset and boot-VGA checks; --vm NAME adds
the locked-memory limit and the machine type.

--fix ID edits a file (GRUB, /etc/kernel/cmdline, modprobe.d, modules-load.d, qemu.conf): it
shows a unified diff, asks (or --yes), keeps a backup, journals it and prints the follow-up
(update-grub, reboot). It never reboots. --undo ID puts the file back.
Exit status: 0 nothing fails, 1 something fails, 2 bad input or a file it will not edit.
"""
EPILOG = """\
examples:
  vfio-tui check --demo
  vfio-tui check --json | jq '.checks[] | select(.status=="fail")'
  vfio-tui check --for 0000:0b:00.0 --vm vfio_test
  vfio-tui check --fix intel-iommu-on                 show the diff and ask
  vfio-tui check --fix qemu-conf-relaxed-acs --yes    apply without asking
  vfio-tui check --undo cfg-1                         undo that change (also: restore --config cfg-1)
"""

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "n/a": "n/a "}
_COLOR = {"pass": "\x1b[32m", "warn": "\x1b[33m", "fail": "\x1b[31m", "n/a": "\x1b[2m"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help='print JSON: {"checks": [{"id", "title", "status",'
                        ' "evidence", "fix", ...}]}')
    parser.add_argument("--for", dest="for_address", metavar="ADDR", help="also check this PCI device (0b:00.0)")
    parser.add_argument("--vm", metavar="NAME", help="also check this libvirt VM")
    parser.add_argument("--only", action="append", metavar="ID", help="run only this check (repeatable)")
    parser.add_argument("--fix", metavar="ID", help="apply the fix of this check (a check id or fix id)")
    parser.add_argument("--undo", metavar="ID", help="undo a change made by --fix (journal id cfg-N, or fix id)")
    parser.add_argument("--yes", "-y", action="store_true", help="apply --fix/--undo without asking")
    parser.add_argument("--connect", metavar="URI", help="libvirt URI (default qemu:///system)")


def _print_result(r: Any, color: bool) -> None:
    mark = _MARK[r.status]
    if color:
        mark = f"{_COLOR[r.status]}{mark}\x1b[0m"
    print(f"{mark}  {r.id:<22} {r.title}")
    print(f"      {r.summary}")
    for e in r.evidence:
        print(f"      · {e}")
    for n in r.notes:
        print(f"      note: {n}")
    if r.fix and r.status in ("warn", "fail", "n/a"):
        lines = r.fix.splitlines()
        print(f"      fix: {lines[0]}")
        for line in lines[1:]:
            print(f"           {line}")
    if r.fix_id and r.status in ("warn", "fail"):
        print(f"      apply: vfio-tui check --fix {r.fix_id}")


def _print_fix(res: Any) -> None:
    for c in res.changes:
        verbatim(c.diff)
    for a in res.actions:
        print(f"  {a}")
    for m in res.messages:
        print(f"  {m}")


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run_undo(host: Any, ident: str, *, yes: bool, as_json: bool) -> int:
    """Undo a config change made by `check --fix` (also `vfio-tui restore --config ID`)."""
    from vfio_tui.core.checks import undo_fix
    from vfio_tui.tui.cli.common import print_json

    preview = undo_fix(host, ident, yes=False)
    if not as_json:
        print(f"undo {preview.journal_id} ({preview.fix_id}):")
        _print_fix(preview)
    if not (yes or _confirm("restore these files?")):
        if as_json:
            print_json(preview.to_json())
        else:
            print("nothing changed (add --yes to undo without asking)")
        return 0
    res = undo_fix(host, ident, yes=True)
    if as_json:
        print_json(res.to_json())
    else:
        print(f"restored; next: {'; '.join(res.followup) or 'nothing'}")
    return 0


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.checks import apply_fix, overall_exit_code, run_checks
    from vfio_tui.core.errors import InputError
    from vfio_tui.tui.cli.common import print_json, use_color

    if args.fix and args.undo:
        raise InputError("give --fix or --undo, not both")
    check_args: dict[str, Any] = {"for_address": args.for_address, "vm": args.vm, "connect_uri": args.connect}
    with open_host(options) as host:
        if args.undo:
            return run_undo(host, args.undo, yes=args.yes, as_json=args.json)
        if args.fix:
            preview = apply_fix(host, args.fix, **check_args)
            if not args.json:
                print(f"fix {preview.fix_id} (check {preview.check_id}):")
                _print_fix(preview)
                if preview.followup:
                    print(f"afterwards you run: {'; '.join(preview.followup)}")
            if not (args.yes or _confirm("apply this change?")):
                if args.json:
                    print_json(preview.to_json())
                else:
                    print("nothing changed (add --yes to apply without asking)")
                return 0
            res = apply_fix(host, args.fix, yes=True, **check_args)
            if args.json:
                print_json(res.to_json())
            else:
                for c in res.changes:
                    print(f"edited {c.path}" + (f" (backup: {c.backup})" if c.backup else " (new file)"))
                for line in (*res.actions, *res.messages):
                    print(f"  {line}")
                print(f"journal: {res.journal_id} (undo: vfio-tui check --undo {res.journal_id})")
                if host.kind == "demo":
                    print("(the demo host is a temporary copy: the change is gone when this command ends;"
                          " `vfio-tui sim-host DIR` + --root DIR keeps one)")
                if res.followup:
                    print("now run (vfio-tui does not):")
                    for f in res.followup:
                        print(f"  {f}")
            return 0
        results = run_checks(host, only=tuple(args.only) if args.only else None, **check_args)
        if args.json:
            print_json({"schema": "vfio-tui/checks/1", "host": host.label,
                        "checks": [r.to_json() for r in results]})
        else:
            color = use_color()
            print(f"host: {host.label}")
            for r in results:
                _print_result(r, color)
            counts = {s: sum(1 for r in results if r.status == s) for s in ("pass", "warn", "fail", "n/a")}
            print(f"{len(results)} checks: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return overall_exit_code(results)
