"""Provides the host options shared by every subcommand and small output helpers."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.demos import DEMO_NAMES
from vfio_tui.tui.cli.argtypes import seconds

if TYPE_CHECKING:
    from collections.abc import Callable

    from vfio_tui.core.host import HostOptions
    from vfio_tui.core.steps import StepEvent


def normalize_demo(argv: list[str]) -> list[str]:
    """`--demo` takes an optional NAME: `--demo workstation` becomes `--demo=workstation` and a bare `--demo`
    becomes `--demo=host192`, so that `vfio-tui --demo inventory` never reads the command as a demo name."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            out += argv[i:]
            break
        if word == "--demo":
            nxt = argv[i + 1] if i + 1 < len(argv) else None
            if nxt in DEMO_NAMES:
                out.append(f"--demo={nxt}")
                i += 2
                continue
            out.append("--demo=host192")
        else:
            out.append(word)
        i += 1
    return out


def add_host_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """--demo, --root, --host-snapshot, --on (and --pci-ids, --as-user) on a parser.

    On subcommands the defaults are suppressed so that a value given before the
    subcommand (`vfio-tui --demo inventory`) is not overwritten.
    """
    d: dict[str, Any] = {} if top_level else {"default": argparse.SUPPRESS}
    group = parser.add_argument_group("host selection")
    group.add_argument("--demo", metavar="NAME", nargs="?", const="host192", choices=DEMO_NAMES,
                       help="use a built-in demo host: host192 (the default: the seed blog's server), workstation"
                            " (iGPU + two GPUs), single-gpu (its only GPU runs the desktop)", **d)
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
    group.add_argument("--demo-pace", type=seconds(0.0, 10.0, allow_zero=True), metavar="S",
                       help="with --demo: every simulated sysfs write takes S seconds, so a run can be watched", **d)
    if top_level:
        host_defaults(parser)


def host_defaults(parser: argparse.ArgumentParser) -> None:
    """The host options' values when none is given (the top-level parser's defaults)."""
    parser.set_defaults(demo=False, root=None, host_snapshot=None, pci_ids=None, as_user=False, demo_pace=None,
                        on=None)


def host_options_from_args(args: argparse.Namespace) -> HostOptions:
    from vfio_tui.core.host import HostOptions

    demo = getattr(args, "demo", False)
    options = HostOptions(
        demo=bool(demo),
        demo_name=demo if isinstance(demo, str) and demo else "host192",
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
    _write_json(json.dumps(data, indent=2) if sys.stdout.isatty() else json.dumps(data, separators=(",", ":")))


def print_json_built(build: Callable[[], Any], compact_text: Callable[[], str]) -> None:
    """print_json(build()), where `compact_text()` writes the compact form itself (the same bytes, faster:
    core.inventory_text) and the object is built only for a terminal."""
    _write_json(json.dumps(build(), indent=2) if sys.stdout.isatty() else compact_text())


def _write_json(text: str) -> None:
    from vfio_tui.tui.cli.safe_output import unguarded

    out = unguarded(sys.stdout)  # json's text (ASCII) has every control character escaped
    out.write(text)
    out.write("\n")


def use_color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "NO_COLOR" not in os.environ


def with_host_args(text: str, options: HostOptions | None) -> str:
    """`text` with the host options in use added to every `vfio-tui COMMAND …` it names, so that a
    hint copied from an error or a plan acts on the host the user is working on (a sim-host tree,
    the demo), never the live one by accident. A command that already names a host is left alone;
    on the live host there is nothing to add.

    Where the command visibly ends (a closing backquote, the end of the line, `;`, `  #`), the
    options go at its end, as a user types them; inside running prose they go right after the
    command's name, which is always a valid place for them.
    """
    extra = host_args(options) if options is not None else ""
    if not extra or "vfio-tui" not in text:
        return text
    out: list[str] = []
    pos = 0
    for match in _command_pattern().finditer(text):
        if match.start() < pos:
            continue
        quoted = match.start() > 0 and text[match.start() - 1] == "`"
        tail = text[match.end():match.end() + _LONGEST]
        end = tail.find("`") if quoted else -1
        if end < 0:
            end, hard = _command_end(tail)
            if not hard and not quoted:
                end = 0  # in the middle of a sentence: right after the name
        rest = tail[:end]
        if any(word in _HOST_SELECTORS for word in rest.split()):
            continue
        cut = match.end() + len(rest.rstrip()) if end else match.end()
        out.append(text[pos:cut] + extra)
        pos = cut
    out.append(text[pos:])
    return "".join(out)


_HARD_ENDS = ("\n", ";", " #", "\t#", "`")
"""Ends that are surely the command's end (a line's end, a shell separator, a comment, a quote)."""
_SOFT_ENDS = (")", ", ", " or ", " to ", " and ", " first", " again", ". ", ".\t", ".\n")
"""Where a command named inside a sentence may end."""
_LONGEST = 4096
"""Characters after a command's name looked at for its end (a hint's command is far shorter)."""


def _command_end(tail: str) -> tuple[int, bool]:
    """Where the command at the start of `tail` ends, and whether that end is a hard one. Plain
    finds, not one regex of alternatives: that took 160 ms on a line of 1 MB of blanks."""
    best, hard = len(tail), True
    for ends, is_hard in ((_HARD_ENDS, True), (_SOFT_ENDS, False)):
        for end in ends:
            k = tail.find(end, 0, best)
            if 0 <= k < best or (k == best and is_hard):
                best, hard = k, is_hard
    if tail.endswith(".") and len(tail) - 1 < best:
        best, hard = len(tail) - 1, False
    return best, hard
_HOST_SELECTORS = ("--root", "--demo", "--host-snapshot")


def _command_pattern() -> re.Pattern[str]:
    from vfio_tui.tui.cli.registry import COMMANDS

    # sim-host makes a host and completion prints a script: neither acts on one.
    names = sorted((c for c in COMMANDS if c not in ("sim-host", "completion")), key=len, reverse=True)
    # Not `vfio-tui explain: …`: that is the program naming itself at the start of a message.
    return re.compile(r"\bvfio-tui (" + "|".join(re.escape(c) for c in names) + r")(?![\w:-])")


def host_args(options: HostOptions) -> str:
    """The host options in use, as they go on a command line (" --root /tmp/h"), so that a command
    vfio-tui prints as a hint acts on the same host — never the live one by accident."""
    import shlex

    if options.on is not None:
        return f" --on {shlex.quote(options.on)}"
    if options.root is not None:
        return f" --root {shlex.quote(str(options.root))}"
    if options.demo:
        return " --demo" if options.demo_name == "host192" else f" --demo {options.demo_name}"
    if options.snapshot is not None:
        return f" --host-snapshot {shlex.quote(str(options.snapshot))}"
    return ""


def confirm(question: str, *, how: str = "review the plan with --dry-run, then add --yes") -> bool:
    """Ask on the terminal before a change; refuse (bad input, exit 2) when there is no terminal to ask on."""
    from vfio_tui.core.errors import InputError

    if not sys.stdin.isatty():
        raise InputError("refusing to change the host without --yes (no terminal to ask on)", fix=how)
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def emit_json_line(obj: dict[str, Any]) -> None:
    """One JSON object on one line, flushed: the --json event stream of pass/undo (JSON Lines)."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def step_reporter(as_json: bool) -> Callable[[StepEvent], None]:
    """The live steps of pass, undo and sriov: a `step` event per line with --json, else one readable line."""
    from vfio_tui.core.steps import format_step

    def on_step(event: StepEvent) -> None:
        if as_json:
            emit_json_line({"event": "step", **event.to_json()})
        else:
            print(format_step(event), flush=True)

    return on_step
