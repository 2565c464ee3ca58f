"""Provides run_remote(): a vfio-tui command run by vfio-tui on a named host, its output streamed back
line by line — the way every change to a remote host is made (`pass`/`undo`/`bind`/`restore --on NAME`).

The transaction, its plan, its lock, its journal and its run records are the host's own: vfio-tui
there runs exactly what it would run for a local user, so a crash, an `undo` or the next command on
that host (from here or from its console) finds the same state. `--json` makes its output the
JSON Lines event stream ({"event": "plan"|"step"|"result"}), which remote_events() parses.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vfio_tui.core.remote.fetch import MARK, parse_marks, vfio_tui_words
from vfio_tui.core.remote.hosts import HostEntry
from vfio_tui.core.remote.ssh import RemoteError, remote_words, stream_ssh

NOT_INSTALLED: Final = "vfio-tui is not installed on this host"


def command_script(entry: HostEntry, words: Sequence[str]) -> str:
    """The sh script that finds vfio-tui on the host (as fetch does) and runs `words` with the
    host's own options (--root/--demo of a rehearsal host) — never the collector: changes need vfio-tui."""
    configured = remote_words([entry.vfio_tui]) if entry.vfio_tui else "''"
    return "\n".join([
        f"VT={configured}",
        'if [ -z "$VT" ]; then VT=$(command -v vfio-tui 2>/dev/null) || '
        '{ [ -x "$HOME/.local/bin/vfio-tui" ] && VT="$HOME/.local/bin/vfio-tui"; }; fi',
        f'if [ -z "$VT" ] || ! command -v "$VT" >/dev/null 2>&1; then echo "{MARK} error: {NOT_INSTALLED}" >&2; '
        "exit 127; fi",
        f"exec {vfio_tui_words(entry)} {remote_words([*words, *entry.host_args()])}",
    ]) + "\n"


@dataclass(frozen=True)
class RemoteRun:
    returncode: int
    stderr: list[str]
    """The host's own stderr lines (vfio-tui's errors and notices), without vfio-tui's marks."""


def run_remote(entry: HostEntry, words: Sequence[str], on_line: Callable[[str], None],
               on_stderr: Callable[[str], None] | None = None) -> RemoteRun:
    """Run `vfio-tui WORDS` on the host, calling `on_line` for each stdout line as it comes.

    Raises:
        RemoteError: the host is unreachable, or vfio-tui is not installed there.
    """
    kept: list[str] = []

    def err(line: str) -> None:
        if line.startswith(MARK):
            return
        kept.append(line)
        if on_stderr is not None:
            on_stderr(line)

    res = stream_ssh(entry, command_script(entry, words), on_line, on_stderr=err)
    marks, _ = parse_marks(res.stderr)
    if res.returncode == 127 and NOT_INSTALLED in marks.get("error", ""):
        raise RemoteError(f"vfio-tui is not installed on {entry.name} ({entry.ssh_target}): changes are made by"
                          " vfio-tui on the host itself", kind="remote",
                          fix="install it there (pipx install, or `hosts add --vfio-tui PATH`; docs/fleet.md)")
    if res.returncode == 1 and entry.sudo and any("password is required" in line for line in kept):
        raise RemoteError(f"{entry.name}: sudo asked for a password (vfio-tui never types one)", kind="auth",
                          fix="allow this login to run vfio-tui through sudo without a password, or use root@")
    return RemoteRun(res.returncode, kept)


def remote_events(entry: HostEntry, words: Sequence[str], on_event: Callable[[dict[str, Any]], None],
                  on_stderr: Callable[[str], None] | None = None) -> RemoteRun:
    """Like run_remote() for a `--json` command: each JSON Lines object to `on_event`; a line that is
    not a JSON object is passed on as {"event": "text", "text": line} (nothing is dropped)."""

    def parse(line: str) -> None:
        if not line.strip():
            return
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        on_event(obj if isinstance(obj, dict) else {"event": "text", "text": line})

    return run_remote(entry, [*words, "--json"] if "--json" not in words else words, parse, on_stderr)
