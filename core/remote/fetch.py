"""Provides fetch_snapshot(): a named host's recording, over one ssh command.

On the host a short sh script picks the reader: vfio-tui's own `vfio-tui snapshot -` when it is
installed there (the configured command, else `vfio-tui` on the PATH, else ~/.local/bin/vfio-tui, where
pipx puts it), otherwise the stdlib collector read from stdin by `python3 -` (always sent; a
vfio-tui that does not need it leaves it unread). Which one ran, and the host's node name, come back
on stderr as `vfio-tui-remote:` lines.

The recording is untrusted input like any `--host-snapshot` file: it is kept in the user's cache
dir (the last one per host) and read back through core.snapshot.load_snapshot, the same checks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from vfio_tui.core.errors import HostDataError
from vfio_tui.core.remote.hosts import HostEntry
from vfio_tui.core.remote.ssh import RemoteError, remote_words, run_ssh

Reader: TypeAlias = Literal["vfio-tui", "collector"]
MARK: Final = "vfio-tui-remote:"
MIN_PYTHON: Final = (3, 11)

# The collector's first lines on the host: a Python too old for core's code says so in one line.
_VERSION_GUARD: Final = (
    "import sys\n"
    f"if sys.version_info < {MIN_PYTHON!r}:\n"
    "    sys.stderr.write('vfio-tui collector: python3 on this host is %d.%d; it needs >= 3.11\\n'"
    " % sys.version_info[:2])\n"
    "    sys.exit(3)\n"
)


@dataclass(frozen=True)
class FetchedSnapshot:
    entry: HostEntry
    path: Path
    """The cached copy (what open_host replays)."""
    data: dict[str, Any]
    reader: Reader
    node: str | None
    """The host's own name (`uname -n`): the node name Proxmox and Nova know it by."""
    remote_vfio_tui: str | None
    """Where vfio-tui was found on the host (None: not installed, the collector read it)."""
    seconds: float


def vfio_tui_words(entry: HostEntry, found: str = '"$VT"') -> str:
    """The remote vfio-tui command as it goes in the remote shell (sudo -n in front when asked)."""
    return ("sudo -n " if entry.sudo else "") + found


def probe_script(entry: HostEntry, vfio_tui_args: list[str], collector_args: list[str]) -> str:
    """The sh script that runs vfio-tui (with `vfio_tui_args`) or the collector (`collector_args`)."""
    configured = remote_words([entry.vfio_tui]) if entry.vfio_tui else "''"
    sudo = "sudo -n " if entry.sudo else ""
    lines = [
        f"VT={configured}",
        'if [ -n "$VT" ]; then command -v "$VT" >/dev/null 2>&1 || '
        '{ echo "vfio-tui-remote: error: $VT: no such command on this host" >&2; exit 127; }',
        'else VT=$(command -v vfio-tui 2>/dev/null) || '
        '{ [ -x "$HOME/.local/bin/vfio-tui" ] && VT="$HOME/.local/bin/vfio-tui"; }; fi',
        'echo "vfio-tui-remote: node $(uname -n 2>/dev/null)" >&2',
    ]
    if not entry.collector:
        lines.append(f'if [ -n "$VT" ]; then echo "vfio-tui-remote: via vfio-tui $VT" >&2; '
                     f'exec {sudo}"$VT" {remote_words(vfio_tui_args)}; fi')
    lines += [
        'command -v python3 >/dev/null 2>&1 || '
        '{ echo "vfio-tui-remote: error: neither vfio-tui nor python3 on this host" >&2; exit 127; }',
        'echo "vfio-tui-remote: via collector" >&2',
        f"exec {sudo}python3 - {remote_words(collector_args)}",
    ]
    return "\n".join(lines) + "\n"


def parse_marks(stderr: str) -> tuple[dict[str, str], list[str]]:
    """The `vfio-tui-remote:` lines ({"node": .., "via": .., "error": ..}) and the other stderr lines."""
    marks: dict[str, str] = {}
    rest: list[str] = []
    for line in stderr.splitlines():
        if line.startswith(MARK):
            key, _, value = line[len(MARK):].strip().partition(" ")
            marks[key.rstrip(":")] = value.strip()
        elif line.strip():
            rest.append(line.strip())
    return marks, rest


def fetch_snapshot(entry: HostEntry, *, timeout: float = 120.0, cache: Path | None = None) -> FetchedSnapshot:
    """Record `entry`'s host over ssh and check the recording.

    Raises:
        RemoteError: the host is unreachable, its key unknown, no reader could run there, it failed.
        HostDataError: what came back is not a usable recording.
    """
    from vfio_tui.core.remote.bundle import collector_source
    from vfio_tui.core.remote.files import cache_dir, snapshot_cache, write_private
    from vfio_tui.core.snapshot import load_snapshot

    host_args = entry.host_args()
    script = probe_script(entry, ["snapshot", "-", *host_args], host_args)
    started = time.monotonic()
    res = run_ssh(entry, script, stdin=(_VERSION_GUARD + collector_source()).encode(), timeout=timeout)
    seconds = time.monotonic() - started
    marks, other = parse_marks(res.stderr)
    who = f"{entry.name} ({entry.ssh_target})"
    if res.returncode != 0 or not res.stdout.strip():
        why = marks.get("error") or (other[-1] if other else f"exit status {res.returncode}")
        fix = ""
        if "password is required" in why or "a terminal is required" in why:
            fix = "let this login run vfio-tui with sudo without a password, or add the host with root@"
        elif res.returncode == 127:
            fix = "install python3 (>= 3.11) there, or vfio-tui (docs/fleet.md)"
        raise RemoteError(f"{who}: could not record the host: {why[:300]}", kind="remote", fix=fix)
    path = cache or snapshot_cache(entry.name)
    write_private(path, res.stdout, root=path.parent if cache is not None else cache_dir())
    try:
        data = load_snapshot(path)
    except HostDataError as exc:
        raise HostDataError(f"{who} sent a recording vfio-tui cannot use: {exc.detail}", path=str(path)) from None
    via = marks.get("via", "")
    reader: Reader = "collector" if via.startswith("collector") else "vfio-tui"
    found = via.partition(" ")[2] or None if reader == "vfio-tui" else None
    return FetchedSnapshot(entry, path, data, reader, marks.get("node") or None, found, seconds)
