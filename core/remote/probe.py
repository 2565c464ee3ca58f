"""Provides probe_host(): one short ssh command that says whether a host answers and what vfio-tui
can do there — read with its own vfio-tui or the collector, change only with vfio-tui."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from vfio_tui.core.remote.fetch import MARK, parse_marks
from vfio_tui.core.remote.hosts import HostEntry
from vfio_tui.core.remote.ssh import remote_words, run_ssh


@dataclass(frozen=True)
class HostProbe:
    entry: HostEntry
    node: str | None
    vfio_tui: str | None
    """Where vfio-tui is on the host (None: not installed)."""
    version: str | None
    python: str | None
    """python3's version there (the collector needs >= 3.11)."""
    seconds: float

    @property
    def reads_with(self) -> str:
        if self.vfio_tui and not self.entry.collector:
            return "vfio-tui"
        return "collector" if self.python_ok else "nothing"

    @property
    def python_ok(self) -> bool:
        try:
            return tuple(int(x) for x in (self.python or "").split(".")[:2]) >= (3, 11)
        except ValueError:
            return False

    @property
    def summary(self) -> str:
        """One line: what vfio-tui can do on this host."""
        node = f"node {self.node}; " if self.node else ""
        if self.vfio_tui:
            how = f"vfio-tui {self.version or '?'} at {self.vfio_tui}: reads and changes"
            if self.entry.collector:
                how += " (reads with the collector, as configured)"
            return node + how
        if self.python_ok:
            return node + (f"vfio-tui not installed: reads with the collector (python3 {self.python});"
                           " changes need vfio-tui there")
        have = f"python3 {self.python}" if self.python else "no python3"
        return node + f"vfio-tui not installed and {have}: nothing can read this host (docs/fleet.md)"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.entry.name, "reachable": True, "node": self.node, "vfio_tui": self.vfio_tui,
                "version": self.version, "python": self.python, "reads_with": self.reads_with,
                "changes": self.vfio_tui is not None, "seconds": round(self.seconds, 3)}


def probe_script(entry: HostEntry) -> str:
    configured = remote_words([entry.vfio_tui]) if entry.vfio_tui else "''"
    return "\n".join([
        f"VT={configured}",
        'if [ -z "$VT" ]; then VT=$(command -v vfio-tui 2>/dev/null) || '
        '{ [ -x "$HOME/.local/bin/vfio-tui" ] && VT="$HOME/.local/bin/vfio-tui"; }; fi',
        f'echo "{MARK} node $(uname -n 2>/dev/null)" >&2',
        f'if [ -n "$VT" ] && command -v "$VT" >/dev/null 2>&1; then echo "{MARK} vfio-tui $VT" >&2; '
        f'echo "{MARK} version $("$VT" --version 2>/dev/null | sed -n \'s/^vfio-tui //p\')" >&2; fi',
        f'command -v python3 >/dev/null 2>&1 && echo "{MARK} python '
        '$(python3 -c \'import sys; print("%d.%d.%d" % sys.version_info[:3])\' 2>/dev/null)" >&2',
        "exit 0",
    ]) + "\n"


def probe_host(entry: HostEntry, *, timeout: float = 30.0) -> HostProbe:
    """Ask the host who it is and what vfio-tui can use there.

    Raises:
        RemoteError: unreachable, unknown host key, no key accepted, no answer in time.
    """
    started = time.monotonic()
    res = run_ssh(entry, probe_script(entry), timeout=timeout)
    marks, _ = parse_marks(res.stderr)
    return HostProbe(entry, marks.get("node") or None, marks.get("vfio-tui") or None,
                     marks.get("version") or None, marks.get("python") or None, time.monotonic() - started)
