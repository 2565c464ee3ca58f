"""Provides main(): the `vfio-tui` command line, a thin layer over core/.

With no subcommand it opens the Textual app. Every subcommand accepts the host options
(--demo, --root DIR, --host-snapshot FILE) after its name. Exit codes: 0 ok, 1 a check
failed, 2 bad input or an error the user can fix, 3 a plan was refused, 130 interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from vfio_tui.core.errors import VfioError
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.cli.argtypes import HelpFormatter, OneLineParser, memoize_argparse_gettext
from vfio_tui.tui.cli.common import add_host_options, host_defaults, host_options_from_args, normalize_demo
from vfio_tui.tui.cli.output import environment_error, hangups_interrupt, hints_for, one_line, print_error
from vfio_tui.tui.cli.registry import COMMANDS, load_command

if TYPE_CHECKING:  # core.host (and what it imports) is loaded by the command that needs a host:
    from vfio_tui.core.host import HostOptions  # `vfio-tui --version` never does

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
  --demo [NAME]        a built-in demo host: host192 (the seed blog's server, the default),
                       workstation (iGPU + RTX 2080 Ti + RX 580), single-gpu (its only GPU runs the desktop)
  --root DIR           a host tree (a simulated host made by `vfio-tui sim-host`, or a mounted system)
  --host-snapshot F    a recorded host (`vfio-tui snapshot F` on any machine records one)
  --on NAME            a host added with `vfio-tui hosts add` (over ssh; `vfio-tui fleet` shows them all)
Nothing is ever written to this machine unless you run a changing command on the live host,
and then only after showing the plan.
"""


def build_parser(argv: Sequence[str] | None = None) -> OneLineParser:
    """The parser. Only the chosen command's options are built: building all of them costs
    more than the work of a quick command on a slow machine (0.4 s in the TCG lab guest). main()
    uses it when an option comes before the command, or there is none (command_parser() otherwise)."""
    memoize_argparse_gettext()
    parser = OneLineParser(
        prog=PROG, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    words = list(sys.argv[1:] if argv is None else argv)
    chosen = _chosen_command(words)
    if chosen is None or any(w.startswith("-") for w in words[:words.index(chosen)]):
        add_host_options(parser, top_level=True)
    else:
        # No option before the command: its own parser takes them (`vfio-tui bind ADDR --demo`),
        # and the top-level copies (a sixth of a quick command's parsing) are not built.
        host_defaults(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    version_only = chosen is None and "--version" in words  # argparse prints it and exits
    for name in COMMANDS:
        if version_only or (chosen is not None and name != chosen):
            # Each subparser is an ArgumentParser whose gettext lookups hit the filesystem; with
            # a command chosen, the others are never needed.
            continue
        module = load_command(name)
        sp = sub.add_parser(
            name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
            epilog=getattr(module, "EPILOG", None), formatter_class=HelpFormatter,
        )
        # Every command built (help, completion, the man page): all of their options.
        _add_command_options(sp, module, None if chosen is None else words[words.index(name) + 1:])
    return parser


def command_parser(words: Sequence[str]) -> OneLineParser | None:
    """The named command's own parser, for `words[1:]`, when the command is the first word (no option
    before it): the top-level parser would only hand the rest over to it (building and running both
    was a third of a quick command's own parsing on the lab's kernel). None otherwise."""
    if not words or words[0] not in COMMANDS:
        return None
    memoize_argparse_gettext()
    name = words[0]
    module = load_command(name)
    parser = OneLineParser(prog=f"{PROG} {name}", description=getattr(module, "DESCRIPTION", module.HELP),
                           epilog=getattr(module, "EPILOG", None), formatter_class=HelpFormatter)
    _add_command_options(parser, module, list(words[1:]))
    host_defaults(parser)  # what the top-level parser gives when no host option is named
    parser.set_defaults(command=name)
    return parser


def _add_command_options(parser: OneLineParser, module: ModuleType, words: list[str] | None) -> None:
    """A command's options; its host options only when `words` (what follows the command; None: build
    everything) could name one, or ask for help (then first, as the help always lists them)."""
    helping = words is None or "-h" in words or "--help" in words
    if helping:
        add_host_options(parser, top_level=False)
    module.add_arguments(parser)
    if not helping and _other_options(parser, words or []):
        add_host_options(parser, top_level=False)
    parser.set_defaults(_module=module, _parser=parser)


def _other_options(parser: argparse.ArgumentParser, words: list[str]) -> bool:
    """Whether `words` hold an option that is not exactly one of the command's own: a host option (or an
    abbreviation, or a mistake, which argparse then names). Without one, the seven host options (a
    third of building a command's parser) are not built: they keep their defaults either way."""
    own = parser._option_string_actions
    return any(w.startswith("-") and w.split("=", 1)[0] not in own for w in words)


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
    from vfio_tui.core import __version__

    return __version__


def _notice_interrupted(options: HostOptions) -> None:
    """Say what a killed vfio-tui left half-done, with the command that repairs it on this same host."""
    if options.demo or options.snapshot is not None or options.on is not None:
        return  # a fresh temp copy: no history (a remote host's own vfio-tui says what it left)
    from vfio_tui.core.hostpaths import HostPaths

    try:
        if options.root is not None and not options.root.is_dir():
            return  # open_host() says what is wrong with it
        paths = HostPaths(options.root.resolve() if options.root is not None else Path("/"))
    except (OSError, RuntimeError):  # a symlink loop, a path too long: open_host() says so
        return
    try:
        os.stat(paths.state_dir)
    except (FileNotFoundError, NotADirectoryError):
        return  # vfio-tui never changed this host (the records' modules cost 7 ms to import)
    except OSError:
        pass  # (an unreadable root: the full check below says so, as it always has)
    from vfio_tui.core.passthrough.records import interrupted_work
    from vfio_tui.tui.cli.common import host_args

    for item in interrupted_work(paths):
        print(f"{PROG}: notice: {item.what}; run `{item.command}{host_args(options)}` to put it back",
              file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = normalize_demo(list(sys.argv[1:] if argv is None else argv))
    parser = command_parser(argv)
    if parser is not None:
        args, extra = parser.parse_known_args(argv[1:])
    else:
        parser = build_parser(argv)
        args, extra = parser.parse_known_args(argv)
    if extra:
        # Said by the command's own parser, so the hint names its --help.
        (getattr(args, "_parser", None) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    options: HostOptions | None = None
    try:
        options = host_options_from_args(args)
        return _dispatch(args, options, argv)
    except VfioError as exc:
        print_error(PROG, str(exc), options)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        # Ctrl-C, or a hang-up/termination turned into one (hangups_interrupt): what was being changed
        # rolled itself back or left a record; say which, with the command that finishes it.
        from vfio_tui.tui.cli.safe_output import guarded_output

        with contextlib.suppress(OSError), guarded_output():  # after a hang-up the terminal may be gone
            print(f"{PROG}: interrupted{f' ({exc})' if str(exc) else ''}", file=sys.stderr)
            if options is not None:
                _notice_interrupted(options)
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
        said = environment_error(exc)
        if said is not None:
            print_error(PROG, said, options)
            return 2
        print(f"{PROG}: internal error: {one_line(f'{type(exc).__name__}: {printable(str(exc))}')}"
              " (please report it; VFIO_TUI_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 70


def _dispatch(args: argparse.Namespace, options: HostOptions, argv: Sequence[str] | None) -> int:
    from vfio_tui.tui.cli.safe_output import guarded_output

    module = getattr(args, "_module", None)
    if module is None:
        with guarded_output():
            _notice_interrupted(options)
        from vfio_tui.tui.cli.app_launcher import launch_app

        return launch_app(args, options)  # the app owns the terminal: no stream is wrapped
    # Terminal controls neutralised (outside), hints naming the host (inside: verbatim() skips only them),
    # a hang-up stopping the command as Ctrl-C does.
    if options.on is not None:
        from vfio_tui.tui.cli.remote import forward, forwarded, refuse_on

        refuse_on(args.command)
        if forwarded(args.command, args):
            # What the host prints is the host's text: guarded like any other host text.
            with guarded_output(), hangups_interrupt(args):
                return forward(args.command, list(sys.argv[1:]) if argv is None else list(argv), args, options)
    with guarded_output(), hints_for(args, options), hangups_interrupt(args):
        if getattr(args, "command", None) not in ("restore", "undo"):
            _notice_interrupted(options)
        return int(module.run(args, options))
