"""`vfio-tui restore [ADDR...|--all]`: put devices back on the drivers they had before `bind`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli.argtypes import WRITE_TIMEOUT
from vfio_tui.tui.cli.libvirt_args import add_connect_option
from vfio_tui.tui.cli.output import verbatim

HELP = "put devices back on their original drivers (undo `bind`; finishes interrupted runs)"
DESCRIPTION = """\
Put devices back on the driver they had before vfio-tui bound them, with driver_override
as it was (cleared). The originals come from the journal in /var/lib/vfio-tui, written
before the first change, so this also repairs a bind that was killed half-way
(kill -9, power loss, SSH drop). A device on vfio-pci that vfio-tui has no record of is
given back like `virsh nodedev-reattach` does (clear override, unbind, drivers_probe).
A device a running VM holds (or any process with its /dev/vfio/N open) is refused, naming it:
take it out of the VM first (`vfio-tui undo`, or stop the VM).
"""
EPILOG = """\
examples:
  vfio-tui restore --all --root /tmp/host        everything vfio-tui bound on a simulated host
  sudo vfio-tui restore 0000:0b:00.0             one device
  sudo vfio-tui restore --all --persist          also remove the udev rule / softdep of --persist
  sudo vfio-tui restore --config cfg-1           undo a file edit made by `vfio-tui check --fix`

exit status: 0 restored, 2 bad input or a device could not be put back (it is listed)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("addresses", nargs="*", metavar="ADDR", help="devices to put back")
    parser.add_argument("--all", action="store_true", help="every device vfio-tui bound (and interrupted runs)")
    parser.add_argument("--persist", action="store_true", help="also remove what `bind --persist` wrote")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--config", metavar="ID",
                        help="undo a config file change made by `check --fix` (journal id cfg-N or fix id)")
    parser.add_argument("--yes", "-y", action="store_true", help="with --config: undo without asking")
    add_connect_option(parser)
    parser.add_argument("--timeout", type=WRITE_TIMEOUT, default=10.0, metavar="S",
                        help="seconds one sysfs write may take before it is abandoned (default 10)")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.binding import restore
    from vfio_tui.core.binding.apply import needs_root
    from vfio_tui.core.binding.journal import writer_lock
    from vfio_tui.core.binding.persist import MODPROBE_CONF, UDEV_RULES, persistence_left, unpersist_changes
    from vfio_tui.core.configfiles import apply_changes
    from vfio_tui.core.errors import InputError, NeedsRootError, VfioError
    from vfio_tui.core.libvirt.for_host import domain_facts_for
    from vfio_tui.tui.cli.common import print_json

    if args.config is not None:
        if not args.config.strip():
            raise InputError("--config needs the id of a change: cfg-N (printed when it was made) or its fix id")
        if args.all or args.addresses:
            raise InputError("--config undoes a file change; give it alone")
        from vfio_tui.tui.cli.cmd_check import run_undo

        with open_host(options) as host:
            return run_undo(host, args.config, yes=args.yes, as_json=args.json)
    if args.all and args.addresses:
        raise InputError("give addresses or --all, not both")
    if not args.all and not args.addresses:
        raise InputError("say which devices to restore: ADDR... or --all", fix="vfio-tui restore --all")
    addresses = [str(PciAddress.parse(a)) for a in args.addresses]
    with open_host(options) as host:
        if needs_root(host):
            raise NeedsRootError("needs root for: writes to /sys/bus/pci (driver_override, unbind, bind)",
                                 fix="run it again with sudo")
        with writer_lock(host.paths, "restore"):  # the drivers and the persistence files: one writer
            result = restore(host, addresses or None, all=args.all, timeout=args.timeout,
                             domains=domain_facts_for(host, args.connect))
            # restore() put back every device of the run(s) that bound ADDR: drop all their rules too.
            gone = None if args.all else list(dict.fromkeys(addresses + [a for a, _ in result.restored]))
            changes = unpersist_changes(host, gone) if args.persist else []
            try:
                applied = apply_changes(host, changes, what="restore --persist") if changes else None
            except VfioError as exc:
                back = ", ".join(a for a, _ in result.restored) or "no device"
                again = " ".join(addresses) if addresses else "--all"
                raise VfioError(f"{back} back on their drivers, but removing the persistence failed: {exc.detail}",
                                fix=f"run `vfio-tui restore {again} --persist` again") from None
        backups = [c.backup for c in applied.changes if c.backup] if applied else []
        # Without --persist the udev rule and softdep stay: say so, or the next boot quietly puts the
        # devices back on vfio-pci after "back on igb".
        left = [] if args.persist else persistence_left(host, gone)
        if args.json:
            doc: dict[str, Any] = {
                "restored": [{"address": a, "driver": d} for a, d in result.restored],
                "failed": [{"address": a, "reason": r} for a, r in result.failed],
                "persist_removed": [c.path for c in changes], "backups": backups,
                "persist_left": [{"address": a, "files": [UDEV_RULES, MODPROBE_CONF]} for a in left],
            }
            print_json(doc)
        else:
            for a, d in result.restored:
                print(f"{a}: back on {d or '(no driver, as before)'}")
            for c in changes:
                print(f"removed persistence ({c.path}):")
                verbatim(c.diff + "\n")
            if left:
                print(f"note: {', '.join(left)} still {'goes' if len(left) == 1 else 'go'} to vfio-pci at the next"
                      f" boot: `bind --persist` wrote {UDEV_RULES} and {MODPROBE_CONF}, which stay; remove them"
                      f" with `vfio-tui restore {' '.join(left) if gone is not None else '--all'} --persist`")
            if not result.restored and not result.failed and not changes:
                print("nothing to restore")
        for a, r in result.failed:
            print(f"vfio-tui: error: {a} could not be put back: {r}", file=sys.stderr)
        return 2 if result.failed else 0
