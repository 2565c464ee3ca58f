"""`vfio-tui fleet`: every named host at once — kernel, IOMMU, free devices by class, VMs, failing checks."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT

if TYPE_CHECKING:
    from vfio_tui.core.fleet import HostSummary

HELP = "all named hosts in parallel: IOMMU state, free passable devices by class, VMs, failing checks"
DESCRIPTION = """\
Read every host added with `vfio-tui hosts add` (in parallel, at most 8 at once) and print one line
per host: kernel, IOMMU and interrupt remapping, IOMMU groups, the devices that are free to pass
through now (their whole IOMMU group is bindable or on vfio-pci, the host uses none of it, no VM has
any of it) counted by class, the devices VMs hold, and the prerequisite checks that fail.
A host that cannot be read is listed with the reason; the others are complete.
--class gpu|nic|nvme|hba|usb|audio|other lists the free devices of that class, host by host: the
answer to "which host has a free GPU I can pass through?".
Exit status: 0 every host answered, 1 some did not (the rest is shown), 2 bad input.
"""
EPILOG = """\
examples:
  vfio-tui fleet
  vfio-tui fleet --class gpu
  vfio-tui fleet --json | jq '.hosts[] | select(.ok) | {name, free: .free.by_class}'
  vfio-tui pass 0000:0a:00.0 win10 --on gpu1 --start      then pass it, on that host
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vfio_tui.core.fleet import CLASSES

    parser.add_argument("--json", action="store_true", help="print JSON (schema vfio-tui/fleet/1)")
    parser.add_argument("--class", dest="device_class", choices=CLASSES, metavar="CLASS",
                        help=f"list the free devices of this class ({', '.join(CLASSES)})")
    parser.add_argument("--host", action="append", metavar="NAME", default=[], help="only this host (repeatable)")
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=120.0, metavar="S",
                        help="seconds one host may take to answer (default 120)")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.fleet import fleet_json, read_fleet
    from vfio_tui.core.remote.hosts import load_hosts
    from vfio_tui.tui.cli.common import print_json

    if options.demo or options.root is not None or options.snapshot is not None:
        raise InputError("`vfio-tui fleet` reads the named hosts (`vfio-tui hosts`); it takes no host option")
    if not 0 < args.timeout < 3600:
        raise InputError(f"--timeout {args.timeout}: give seconds between 0 and 3600")
    config = load_hosts()
    entries = [config.get(n) for n in args.host] if args.host else list(config.hosts.values())
    if not entries:
        raise InputError("no hosts yet", fix="add one with `vfio-tui hosts add NAME [user@]host[:port]`")
    summaries = read_fleet(entries, timeout=args.timeout)
    if args.json:
        print_json(fleet_json(summaries, args.device_class))
    else:
        print_table(summaries, args.device_class)
    return 0 if all(s.ok for s in summaries) else 1


def _cell_free(s: HostSummary) -> str:
    counts = s.free_by_class()
    if not s.host_use_known:
        return "? (host use not recorded)"
    if not s.vms_known:
        return "? (VMs not recorded)"
    if not s.iommu:
        return "- (no IOMMU)"
    return ", ".join(f"{c} {n}" for c, n in counts.items()) or "none"


def print_table(summaries: list[HostSummary], device_class: str | None) -> None:
    header = ("HOST", "KERNEL", "IOMMU", "IR", "GROUPS", "FREE (whole group, no VM)", "IN VMS", "FAILING CHECKS")
    rows: list[tuple[str, ...]] = []
    for s in summaries:
        if not s.ok:
            rows.append((s.name, "DOWN", s.error or "?"))
            continue
        iommu = ("on " + ",".join(s.iommu_units[:2])) if s.iommu else "off"
        vms = f"{len(s.held)} running" + (f", {len(s.assigned)} defined" if s.assigned else "")
        rows.append((s.name, s.kernel or "?", iommu, s.interrupt_remapping, str(s.groups), _cell_free(s),
                     vms if s.vms_known else "?", ", ".join(s.failing_checks) or "-"))
    widths = [max(len(header[i]), *(len(r[i]) for r in rows if len(r) == len(header))) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for r in rows:
        if len(r) == len(header):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        else:
            print(f"{r[0].ljust(widths[0])}  DOWN: {r[2]}")
    if device_class:
        print(f"\nfree {device_class} devices:")
        found = False
        for s in summaries:
            for d in s.free:
                if d.device_class == device_class:
                    found = True
                    mates = f" (with {', '.join(d.mates)})" if d.mates else ""
                    print(f"  {s.name}  {d.address}  group {d.group}  {d.name} [{d.ids}]{mates}")
        if not found:
            print("  none")
    down = [s.name for s in summaries if not s.ok]
    if down:
        print(f"\n{len(down)} of {len(summaries)} hosts did not answer: {', '.join(down)}", file=sys.stderr)
