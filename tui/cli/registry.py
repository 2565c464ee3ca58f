"""Provides the list of subcommands. Each is a module in tui/cli/ named cmd_<name>.py with
HELP, add_arguments(parser) and run(args, options) -> exit code. Keep module imports light:
heavy work (libvirt, textual) is imported inside run()."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

COMMANDS: Final[tuple[str, ...]] = (
    "inventory",
    "snapshot",
    "sim-host",
    "bind",
    "restore",
    "sriov",
    "check",
    "explain",
    "vms",
    "hostdev-xml",
    "attach",
    "detach",
    "pass",
    "undo",
    "watch",
    "web",
    "rom",
    "hooks",
    "completion",
    "hosts",
    "fleet",
    "export",
)


def load_command(name: str) -> ModuleType:
    return importlib.import_module(f"vfio_tui.tui.cli.cmd_{name.replace('-', '_')}")
