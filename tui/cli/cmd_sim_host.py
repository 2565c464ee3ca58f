"""`vfio-tui sim-host DIR`: make a persistent simulated host to try commands on with --root DIR."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vfio_tui.core.host import HostOptions

HELP = "create a writable simulated host (from the demo or a recording) to use with --root DIR"
DESCRIPTION = """\
Create a directory that behaves like a host's /sys, /dev and /proc under a simulated
kernel: binding, unbinding, driver_override, new_id and /dev/vfio behave as the real
kernel does. Then run any command on it with --root DIR; state persists between commands.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", type=Path, metavar="DIR", help="a new or empty directory")
    parser.add_argument("--from", dest="source", type=Path, metavar="FILE.json",
                        help="the recorded host to start from (default: the demo host; --demo NAME picks another"
                             " built-in one)")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.open_host import create_sim_host
    from vfio_tui.core.snapshot import load_snapshot

    if args.source is not None:
        snap = load_snapshot(args.source)
    elif options.snapshot is not None:
        snap = load_snapshot(options.snapshot)
    else:
        from vfio_tui.core.open_host import demo_host_snapshot

        snap = demo_host_snapshot(options.demo_name)[1]
    create_sim_host(args.directory, snap)
    print(f"simulated host ready: vfio-tui inventory --root {args.directory}", file=sys.stderr)
    return 0
