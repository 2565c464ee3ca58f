"""Provides the files vfio-tui keeps for remote hosts: the hosts file and the last snapshot of each host.

Every write goes through write_private(), the one place that becomes core.safefile once it lands.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.configfiles import atomic_write


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/vfio-tui (default ~/.cache/vfio-tui)."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "vfio-tui"


def snapshot_cache(name: str) -> Path:
    """Where the last snapshot fetched from host `name` is kept (a checked name: no path tricks)."""
    return cache_dir() / "hosts" / f"{name}.json"


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, 0600, in a 0700 directory (temp + fsync + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(path, data, mode=0o600)
