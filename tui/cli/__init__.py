"""Provides main(): the `vfio-tui` command line, a thin layer over core/.

With no subcommand it opens the Textual app. Every subcommand accepts the host options
(--demo, --root DIR, --host-snapshot FILE) after its name. Exit codes: 0 ok, 1 a check
failed, 2 bad input or an error the user can fix, 3 a plan was refused, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import VfioError
from core.host import HostOptions
from core.textsafe import printable
from tui.cli.common import add_host_options, host_options_from_args
from tui.cli.registry import COMMANDS, load_command

PROG = "vfio-tui"

DESCRIPTION = """\
Pass PCI devices (GPU, NIC, HBA, NVMe) through to libvirt/QEMU VMs with VFIO.

Run with no command to open the interactive app. Try it without touching anything:
  vfio-tui --demo                      the app on a built-in demo server
  vfio-tui inventory --demo            IOMMU groups, bridges, drivers, ACS, reset, verdicts
  vfio-tui inventory --json            the same for this machine, as JSON
"""

EPILOG = """\
Every command takes the host options after its name:
  --demo               the built-in demo host (the seed blog's host192)
  --root DIR           a host tree (a simulated host made by `vfio-tui sim-host`, or a mounted system)
  --host-snapshot F    a recorded host (`vfio-tui snapshot F` on any machine records one)
  --on NAME            a host added with `vfio-tui hosts add` (over ssh; `vfio-tui fleet` shows them all)
Nothing is ever written to this machine unless you run a changing command on the live host,
and then only after showing the plan.
"""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Only the chosen command's options are built: building all of them costs
    more than the work of a quick command on a slow machine (0.4 s in the TCG lab guest)."""
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_host_options(parser, top_level=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    chosen = _chosen_command(list(sys.argv[1:] if argv is None else argv))
    for name in COMMANDS:
        if chosen is not None and name != chosen:
            # Each subparser is an ArgumentParser whose gettext lookups hit the filesystem; with
            # a command chosen, the others are never needed.
            continue
        module = load_command(name)
        sp = sub.add_parser(
            name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
            epilog=getattr(module, "EPILOG", None), formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_host_options(sp, top_level=False)
        module.add_arguments(sp)
        sp.set_defaults(_module=module)
    return parser


def _chosen_command(words: list[str]) -> str | None:
    """The subcommand named on the command line (skipping the values of top-level options)."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--root", "--host-snapshot", "--pci-ids", "--on", "--demo-pace"):
            skip = True
        elif word in COMMANDS:
            return word
    return None


def _version() -> str:
    from core import __version__

    return __version__


def _notice_interrupted(options: HostOptions) -> None:
    """Say what a killed vfio-tui left half-done, with the command that repairs it on this same host."""
    if options.demo or options.snapshot is not None or options.on is not None:
        return  # a fresh temp copy: no history (a remote host's own vfio-tui says what it left)
    from core.hostpaths import HostPaths
    from core.passthrough.records import interrupted_work
    from tui.cli.common import host_args

    paths = HostPaths(options.root.resolve() if options.root is not None else Path("/"))
    for item in interrupted_work(paths):
        print(f"{PROG}: notice: {item.what}; run `{item.command}{host_args(options)}` to put it back",
              file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        options = host_options_from_args(args)
        module = getattr(args, "_module", None)
        from tui.cli.safe_output import guarded_output

        if getattr(args, "command", None) not in ("restore", "undo"):
            with guarded_output():
                _notice_interrupted(options)
        if module is None:
            from tui.cli.app_launcher import launch_app

            return launch_app(args, options)
        if options.on is not None:
            from tui.cli.remote import forward, forwarded, refuse_on

            refuse_on(args.command)
            if forwarded(args.command, args):
                # What the host prints is the host's text: guarded like any other host text.
                with guarded_output():
                    return forward(args.command, list(sys.argv[1:] if argv is None else argv), args, options)
        with guarded_output():
            return int(module.run(args, options))
    except VfioError as exc:
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `vfio-tui inventory | head`: the reader went away; say nothing.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter from complaining at exit
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - the user gets one line, not a traceback
        if os.environ.get("VFIO_TUI_DEBUG"):
            raise
        print(f"{PROG}: internal error: {type(exc).__name__}: {printable(str(exc))}"
              " (please report it; VFIO_TUI_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 70
