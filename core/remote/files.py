"""Provides the files vfio-tui keeps for remote hosts: the hosts file and the last snapshot of each host.

Every write goes through write_private(): core.safefile's confined replace (temp + fsync + rename,
0600, never through a symlink), inside the vfio-tui dir of the user's config or cache dir (0700).
"""

from __future__ import annotations

import os
from pathlib import Path

from vfio_tui.core import safefile


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/vfio-tui (default ~/.cache/vfio-tui)."""
    base = os.environ.get("XDG_CACHE_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "vfio-tui"


def snapshot_cache(name: str) -> Path:
    """Where the last snapshot fetched from host `name` is kept (a checked name: no path tricks)."""
    return cache_dir() / "hosts" / f"{name}.json"


def write_private(path: Path, data: bytes, root: Path | None = None) -> None:
    """Replace `path` with `data`, 0600, confined to `root` (default: the file's own dir), whose
    missing directories are made 0700."""
    root = root or path.parent
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    safefile.replace(root, path, data, private=True, dir_mode=0o700)
