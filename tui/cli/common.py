"""Provides the host options shared by every subcommand and small output helpers."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from core.host import HostOptions


def add_host_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--demo, --root, --host-snapshot, --on (and --pci-ids, --as-user) on a parser.

    On subcommands the defaults are suppressed so that a value given before the
    subcommand (`vfio-tui --demo inventory`) is not overwritten.
    """
    d: dict[str, Any] = {} if top_level else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("host selection")
    group.add_argument("--demo", action="store_true", help="use the built-in demo host", **d)
    group.add_argument("--root", type=Path, metavar="DIR",
                       help="take /sys, /dev, /proc, /etc, /var/log, /lib/modules from DIR", **d)
    group.add_argument("--host-snapshot", type=Path, metavar="FILE",
                       help="replay a recorded host (vfio-lab-sysfs-snapshot/1 JSON)", **d)
    group.add_argument("--on", metavar="NAME",
                       help="a host added with `vfio-tui hosts add`: reads replay its recording (fetched over ssh);"
                            " changes run by vfio-tui on that host", **d)
    group.add_argument("--pci-ids", type=Path, metavar="FILE", help="names database (default: system pci.ids)",
                       **d)
    group.add_argument("--as-user", action="store_true",
                       help="read as a non-root user would (config space cut at 64 bytes)", **d)
    group.add_argument("--demo-pace", type=float, metavar="S",
                       help="with --demo: every simulated sysfs write takes S seconds, so a run can be watched", **d)
    if top_level:
        parser.set_defaults(demo=False, root=None, host_snapshot=None, pci_ids=None, as_user=False, demo_pace=None,
                            on=None)


def host_options_from_args(args: argparse.Namespace) -> HostOptions:
    options = HostOptions(
        demo=bool(getattr(args, "demo", False)),
        root=getattr(args, "root", None),
        snapshot=getattr(args, "host_snapshot", None),
        pci_ids=getattr(args, "pci_ids", None),
        unprivileged=True if getattr(args, "as_user", False) else None,
        demo_pace=getattr(args, "demo_pace", None),
        on=getattr(args, "on", None),
    )
    options.validate()
    return options


def print_json(data: Any) -> None:
    """Indented for a person at a terminal; compact (several times faster) for a pipe or a file."""
    # json.dumps + one write: json.dump() streams thousands of tiny writes.
    text = json.dumps(data, indent=2) if sys.stdout.isatty() else json.dumps(data, separators=(",", ":"))
    sys.stdout.write(text + "\n")


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def host_args(options: HostOptions) -> str:
    """The host options in use, as they go on a command line (" --root /tmp/h"), so that a command
    vfio-tui prints as a hint acts on the same host — never the live one by accident."""
    import shlex

    if options.on is not None:
        return f" --on {shlex.quote(options.on)}"
    if options.root is not None:
        return f" --root {shlex.quote(str(options.root))}"
    if options.demo:
        return " --demo"
    if options.snapshot is not None:
        return f" --host-snapshot {shlex.quote(str(options.snapshot))}"
    return ""


def confirm(question: str, *, how: str = "review the plan with --dry-run, then add --yes") -> bool:
    """Ask on the terminal before a change; refuse (bad input, exit 2) when there is no terminal to ask on."""
    from core.errors import InputError

    if not sys.stdin.isatty():
        raise InputError("refusing to change the host without --yes (no terminal to ask on)", fix=how)
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def emit_json_line(obj: dict[str, Any]) -> None:
    """One JSON object on one line, flushed: the --json event stream of pass/undo (JSON Lines)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()
