"""Provides forward(): a command given `--on NAME` that changes the host (or needs its libvirt) is run
by vfio-tui on that host, with the same words; its output is streamed here as it comes.

Reads stay local: they replay the host's recording (core.open_host), so `inventory --on NAME` is
`inventory` on what NAME recorded. The commands below are the host's own business instead.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Final

from vfio_tui.core.errors import InputError
from vfio_tui.core.host import HostOptions

FORWARDED: Final = frozenset({"pass", "undo", "bind", "restore", "attach", "detach", "vms", "watch"})
"""Run by vfio-tui on the host: the transaction and its journal live there, and so do its VMs."""
LOCAL_ONLY: Final = frozenset({"sim-host", "hosts", "fleet", "web"})
"""Commands about this machine or all hosts: --on makes no sense for them."""
CONFIRMED: Final = frozenset({"pass", "undo", "bind"})
"""Changes that ask first: the plan is shown (a --dry-run on the host), the question asked here."""


def forwarded(command: str, args: argparse.Namespace) -> bool:
    """Whether `command` with these arguments runs on the host rather than on its recording."""
    if command in FORWARDED:
        return True
    if command == "check":
        return bool(getattr(args, "fix", None) or getattr(args, "undo", None))  # edits the host's files
    if command == "explain":
        return bool(getattr(args, "vm", None))  # the failure record is on the host
    return False


def remote_words(command: str, argv: list[str]) -> list[str]:
    """The command line to run on the host: the command and its words, without `--on NAME`."""
    at, skip = -1, False
    for i, word in enumerate(argv):  # the command word, not a host option's value that spells it
        if skip:
            skip = False
        elif word in ("--root", "--host-snapshot", "--pci-ids", "--on", "--demo-pace"):
            skip = True
        elif word == command:
            at = i
            break
    words = [command]
    skip = False
    for word in [*argv[:at], *argv[at + 1:]]:
        if skip:
            skip = False
        elif word == "--on":
            skip = True
        elif word.startswith("--on="):
            continue
        elif word in ("--pci-ids", "--as-user") or word.startswith("--pci-ids="):
            raise InputError(f"{word} is about this machine; with --on the host uses its own")
        else:
            words.append(word)
    return words


def forward(command: str, argv: list[str], args: argparse.Namespace, options: HostOptions) -> int:
    """Run the command by vfio-tui on `options.on`; its exit status is this command's."""
    from vfio_tui.core.remote.hosts import load_hosts
    from vfio_tui.core.remote.run import run_remote
    from vfio_tui.tui.cli.common import confirm

    assert options.on is not None
    entry = load_hosts().get(options.on)
    words = remote_words(command, argv)
    as_json = bool(getattr(args, "json", False))
    # The host's hints name its own host options (--root DIR of a rehearsal tree); from here the
    # same host is --on NAME.
    theirs = " " + " ".join(entry.host_args()) if entry.host_args() else ""
    ours = f" --on {entry.name}"

    def out(line: str) -> None:
        if not as_json and "vfio-tui " in line:
            if theirs:
                line = line.replace(theirs, ours)
            elif line.startswith("undo: vfio-tui "):
                line += ours
            else:
                line = re.sub(r"(`vfio-tui [^`]*)`", lambda m: f"{m.group(1)}{ours}`", line)
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def err(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    if not as_json:
        print(f"on {entry.name} ({entry.ssh_target}): vfio-tui {' '.join(words)}", file=sys.stderr)
    asks = (command in CONFIRMED and not getattr(args, "yes", False) and not getattr(args, "dry_run", False)
            and not getattr(args, "list", False))
    if asks:
        shown = run_remote(entry, [*words, "--dry-run"], out, err)
        if shown.returncode != 0:
            return shown.returncode
        if not confirm(f"Run it on {entry.name}?", how=f"review it with --dry-run --on {entry.name}, then add --yes"):
            print("nothing changed", file=sys.stderr)
            return 1
        words = [*words, "--yes"]
    return run_remote(entry, words, out, err).returncode


def refuse_on(command: str) -> None:
    if command in LOCAL_ONLY:
        raise InputError(f"`vfio-tui {command}` does not take --on"
                         + (" (it reads every host; --class filters)" if command == "fleet" else ""))
