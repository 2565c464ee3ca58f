"""Provides the binding journal and the writer lock, under host.paths.state_dir.

Layout (/var/lib/vfio-tui, 0700; files 0600, written with fsync and atomic renames):
  lock                          flock'd by the one writer; holds the holder's pid/command/time
  journal/<id>.applying.json    a bind in progress: original states first, then every step
                                ("intent" before the write, "done"/"failed" after)
  journal/<id>.applied.json     a bind that finished: the record `restore` goes back to
A file left as `.applying` while nobody holds the lock is an interrupted run (kill -9, power
loss, SSH drop); `vfio-tui restore --all` brings its devices back.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.errors import HostDataError
from core.hostpaths import HostPaths
from core.lock import LockedError, lock_is_free, writer_lock

__all__ = ["LockedError", "lock_is_free", "writer_lock"]  # the lock lives in core.lock (configfiles needs it too)

JOURNAL_SCHEMA: Final = "vfio-tui/bind-journal/1"
APPLYING: Final = "applying"
APPLIED: Final = "applied"


def journal_dir(paths: HostPaths) -> Path:
    return paths.state_dir / "journal"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private(path: Path, text: str, *, sync_dir: bool = True, fsync: bool = True) -> None:
    """Write a 0600 file atomically and durably (tmp + fsync + rename [+ fsync of the directory])."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if sync_dir:
        _fsync_dir(path.parent)


def ensure_state_dir(paths: HostPaths) -> Path:
    jdir = journal_dir(paths)
    jdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.state_dir, 0o700)
    return jdir


@dataclass
class Journal:
    """One bind operation's journal file."""

    path: Path
    data: dict[str, Any]

    @property
    def status(self) -> str:
        return self.path.name.rsplit(".", 2)[-2]

    @property
    def group(self) -> int:
        return int(self.data.get("group", -1))

    @property
    def originals(self) -> dict[str, dict[str, Any]]:
        """{address: {"driver": ..., "override": ...}} as they were before the first write."""
        return {d["address"]: d for d in self.data["devices"]}

    @classmethod
    def create(cls, paths: HostPaths, data: dict[str, Any]) -> Journal:
        jdir = ensure_state_dir(paths)
        now = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now / 1e9)) + f".{now % 10**9:09d}-{os.getpid()}"
        journal = cls(jdir / f"{stamp}-g{data.get('group')}.{APPLYING}.json", data)
        journal.save()
        return journal

    def save(self, *, sync_dir: bool = True, fsync: bool = True) -> None:
        write_private(self.path, json.dumps(self.data, indent=1) + "\n", sync_dir=sync_dir, fsync=fsync)

    def step(self, index: int, state: str, *, durable: bool = True, **extra: Any) -> None:
        """Record a step's state. "intent" is fsynced before the write is made and also marks the
        previous step done (one fsync per step); other states need not be durable: restore works
        from the originals, whatever the step records say."""
        steps = self.data.setdefault("steps", [])
        while len(steps) <= index:
            steps.append({})
        if state == "intent" and index > 0 and steps[index - 1].get("state") == "intent":
            steps[index - 1]["state"] = "done"
        steps[index].update({"state": state, "at": time.time(), **extra})
        self.save(sync_dir=False, fsync=durable)

    def mark(self, status: str) -> None:
        new = self.path.with_name(self.path.name.replace(f".{self.status}.json", f".{status}.json"))
        os.replace(self.path, new)
        _fsync_dir(new.parent)
        self.path = new

    def drop_devices(self, addresses: set[str]) -> None:
        """Forget restored devices; the file goes when none is left."""
        self.data["devices"] = [d for d in self.data["devices"] if d["address"] not in addresses]
        if self.data["devices"]:
            self.save()
        else:
            self.remove()

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        _fsync_dir(self.path.parent)


def load_journals(paths: HostPaths) -> list[Journal]:
    """Every journal under the state dir, oldest first.

    Raises:
        HostDataError: a journal file is unreadable or corrupt (nothing is changed then).
    """
    jdir = journal_dir(paths)
    try:
        names = sorted(n for n in os.listdir(jdir) if n.endswith(".json") and not n.startswith("."))
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        path = jdir / name
        try:
            data = json.loads(path.read_text())
            ok = (isinstance(data, dict) and data.get("schema") == JOURNAL_SCHEMA
                  and isinstance(data.get("devices"), list)
                  and all(isinstance(d, dict) and isinstance(d.get("address"), str) for d in data["devices"]))
        except (OSError, ValueError):
            ok = False
        if not ok or name.rsplit(".", 2)[-2] not in (APPLYING, APPLIED):
            raise HostDataError(
                "corrupted vfio-tui journal; nothing was changed", path=paths.display(path),
                fix="inspect it, put the devices back by hand if needed, then delete the file",
            )
        out.append(Journal(path, data))
    return out


def interrupted_names(paths: HostPaths) -> list[str]:
    """Cheap check for the CLI start: names of `.applying` journals (one listdir; no parsing)."""
    try:
        names = os.listdir(journal_dir(paths))
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(f".{APPLYING}.json") and not n.startswith("."))
