"""`vfio-tui snapshot OUT.json`: record this host (read-only) for a bug report or for replay."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

HELP = "record the host (read-only) as JSON that anyone can replay with --host-snapshot"
DESCRIPTION = """\
Record the host's PCI devices, IOMMU groups, drivers, /dev/vfio, vfio module parameters,
kernel and command line, plus what the host uses each device for (mounts, swaps,
addresses, routes, consoles, sessions), in the lab format vfio-lab-sysfs-snapshot/1.
Only reads. Run it as root so that the whole config space (ACS, FLR) is recorded.
Replay: vfio-tui inventory --host-snapshot OUT.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=Path, metavar="OUT.json", help="file to write ('-' for stdout)")
    parser.add_argument("--label", help="a description stored in the file")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.snapshot_record import record_host
    from vfio_tui.core.usage_live import record_usage_extras

    if options.on is not None:
        return _save_remote(args, options.on)
    with open_host(options) as host:
        extras = record_usage_extras(host.paths, None if host.kind == "live" else host.extras)
        _record_vm_devices(host, extras)
        _record_check_files(host, extras)
        snap = record_host(host.paths, label=args.label or host.label, extras=extras or None)
    text = json.dumps(snap, indent=1, sort_keys=True) + "\n"
    if str(args.output) == "-":
        sys.stdout.write(text)
        return 0
    from vfio_tui.core.safefile import write_output

    try:
        # A random O_EXCL temp beside it, fsync, rename; a device node, FIFO or symlink is refused.
        write_output(args.output, text.encode())
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror}") from None
    n = len(snap["pci_devices"])
    print(f"recorded {n} PCI functions and {len(snap['iommu_groups'])} IOMMU groups to {args.output}",
          file=sys.stderr)
    if os.geteuid() != 0:
        print("note: not root, so config space beyond 64 bytes (ACS, FLR) was not recorded", file=sys.stderr)
    return 0


def _record_vm_devices(host: Host, extras: dict[str, Any]) -> None:
    """Which VM holds which device, when libvirt answers (a replay, and the fleet, show them)."""
    from vfio_tui.core.libvirt.for_host import domain_facts_for
    from vfio_tui.core.vmholds import VM_DEVICES_KEY, holds_to_extras

    if VM_DEVICES_KEY in extras:
        return
    try:
        extras[VM_DEVICES_KEY] = holds_to_extras(domain_facts_for(host)())
    except Exception:  # noqa: BLE001 - no libvirt here: nothing is recorded about VMs
        return


def _record_check_files(host: Host, extras: dict[str, Any]) -> None:
    """The small files the checks read, so `check` on the replay answers as on the host."""
    from vfio_tui.core.recordfiles import record_check_files

    files = record_check_files(host.paths)
    if files:
        extras["files"] = {**files, **(extras.get("files") or {})}


def _save_remote(args: argparse.Namespace, name: str) -> int:
    """`snapshot --on NAME OUT.json`: the host's own recording, as fetched (checked), saved here."""
    from vfio_tui.core.remote.fetch import fetch_snapshot
    from vfio_tui.core.remote.hosts import load_hosts

    fetched = fetch_snapshot(load_hosts().get(name))
    data = fetched.path.read_bytes()
    if str(args.output) == "-":
        sys.stdout.write(data.decode())
        return 0
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.safefile import write_output

    try:
        write_output(args.output, data)  # a device node, FIFO or symlink is refused, as for a local recording
    except OSError as exc:
        raise InputError(f"cannot write {args.output}: {exc.strerror}") from None
    print(f"recorded {len(fetched.data['pci_devices'])} PCI functions of {name} ({fetched.reader}) to {args.output}",
          file=sys.stderr)
    return 0
