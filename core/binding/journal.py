"""Provides the binding journal, under host.paths.state_dir (the writer lock is core.lock's).

Layout (/var/lib/vfio-tui, 0700; files 0600, written with fsync and atomic renames through
core.safefile: inside the host root, never through a symlink, a random O_EXCL temp name each time):
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from vfio_tui.core import private_state, safefile
from vfio_tui.core.errors import HostDataError, VfioError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.lock import LockedError, ensure_state_dir, held_dir, lock_is_free, writer_lock
from vfio_tui.core.private_state import pid_alive

# The lock lives in core.lock (core.configfiles needs it, and core.binding needs core.configfiles).
__all__ = ["LockedError", "ensure_state_dir", "lock_is_free", "pid_alive", "writer_lock"]

JOURNAL_SCHEMA: Final = "vfio-tui/bind-journal/1"
APPLYING: Final = "applying"
APPLIED: Final = "applied"


def journal_dir(paths: HostPaths) -> Path:
    return paths.state_dir / "journal"


MAX_RECORD_BYTES: Final = 16 * 1024 * 1024
"""A journal, run record or lock bigger than this is not vfio-tui's (and is not read whole)."""


def write_private(root: Path, path: Path, text: str, *, sync_dir: bool = True, fsync: bool = True) -> None:
    """Write a 0600 file under `root` atomically and durably (random temp + fsync + rename [+ fsync
    of the directory]); refused when the file is a symlink or not a regular file."""
    safefile.replace(root, path, text.encode(), private=True, sync_dir=sync_dir, fsync=fsync, dir_mode=0o700)


def read_private(root: Path, path: Path) -> str:
    """One of vfio-tui's own files, never through a symlink, at most MAX_RECORD_BYTES.

    Raises:
        OSError (FileNotFoundError when absent), UnsafePathError, ValueError (too big or not UTF-8).
    """
    data = safefile.read_bytes(root, path, limit=MAX_RECORD_BYTES, follow=False)
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"bigger than {MAX_RECORD_BYTES} bytes")
    return data.decode()


def read_private_in(held: private_state.HeldDir, name: str) -> str:
    """read_private() of a file in a directory held open (the writer lock's, a listing's)."""
    data = held.read_private(name, MAX_RECORD_BYTES)
    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"bigger than {MAX_RECORD_BYTES} bytes")
    return data.decode()


@dataclass
class Journal:
    """One bind operation's journal file."""

    path: Path
    data: dict[str, Any]
    root: Path
    """The host root the journal lives under (every write stays inside it)."""

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

    held: private_state.HeldDir | None = field(default=None, repr=False, compare=False)
    """Its directory held open by the run writing it (create(hold=True)): saves skip the walk there."""

    @classmethod
    def create(cls, paths: HostPaths, data: dict[str, Any], *, hold: bool = False) -> Journal:
        """Write a new journal (durably). With `hold`, its directory stays open for this run's saves
        until release() (the writer lock is held all along, so nothing else changes it); under the
        writer lock the lock's own open directory serves."""
        jdir = ensure_state_dir(paths)
        now = time.time_ns()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now / 1e9)) + f".{now % 10**9:09d}-{os.getpid()}"
        journal = cls(jdir / f"{stamp}-g{data.get('group')}.{APPLYING}.json", data, paths.root,
                      private_state.HeldDir(paths.root, jdir) if hold and held_dir(jdir) is None else None)
        try:
            journal.save()
        except BaseException:
            journal.release()
            raise
        return journal

    def release(self) -> None:
        """Close the held directory (saves walk to it again)."""
        if self.held is not None:
            self.held.close()
            self.held = None

    def _held_here(self) -> private_state.HeldDir | None:
        if self.held is not None and self.held.path == self.path.parent:
            return self.held
        return held_dir(self.path.parent)

    def save(self, *, sync_dir: bool = True, fsync: bool = True) -> None:
        # One line (`jq .` shows it indented): json's indenting encoder is pure Python, four times the C
        # one, and a bind saves its journal three times (a millisecond each on the lab's emulated CPU).
        text = json.dumps(self.data) + "\n"
        if (held := self._held_here()) is not None:
            held.replace_private(self.path.name, text.encode(), fsync=fsync, sync_dir=sync_dir)
        else:
            write_private(self.root, self.path, text, sync_dir=sync_dir, fsync=fsync)

    def step(self, index: int, state: str, *, durable: bool = False, **extra: Any) -> None:
        """Record a step's state ("intent" before the write is made also marks the previous step done).

        Not fsynced by default: restore works from the originals (made durable by create()), whatever
        the step records say, and they only say how far a run got. A killed vfio-tui's records are in
        the page cache for the next one to read; the crash that loses the page cache reboots the
        kernel, whose driver bindings are then the boot's, so no record of a write to them outlives
        the writes themselves."""
        steps = self.data.setdefault("steps", [])
        while len(steps) <= index:
            steps.append({})
        if state == "intent" and index > 0 and steps[index - 1].get("state") == "intent":
            steps[index - 1]["state"] = "done"
        steps[index].update({"state": state, "at": time.time(), **extra})
        self.save(sync_dir=False, fsync=durable)

    def mark(self, status: str) -> None:
        new = self.path.with_name(self.path.name.replace(f".{self.status}.json", f".{status}.json"))
        if (held := self._held_here()) is not None:
            held.rename(self.path.name, new.name)
        else:
            safefile.rename(self.root, self.path, new)
        self.path = new

    def drop_devices(self, addresses: set[str]) -> None:
        """Forget restored devices; the file goes when none is left."""
        self.data["devices"] = [d for d in self.data["devices"] if d["address"] not in addresses]
        if self.data["devices"]:
            self.save()
        else:
            self.remove()

    def remove(self) -> None:
        if (held := self._held_here()) is not None:
            held.unlink(self.path.name)
        else:
            safefile.unlink(self.root, self.path)


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
    held = held_dir(jdir)
    for name in names:
        path = jdir / name
        try:
            data = json.loads(read_private(paths.root, path) if held is None else read_private_in(held, name))
            ok = (isinstance(data, dict) and data.get("schema") == JOURNAL_SCHEMA
                  and isinstance(data.get("devices"), list)
                  and all(isinstance(d, dict) and isinstance(d.get("address"), str) for d in data["devices"]))
        except (OSError, ValueError, RecursionError, VfioError):
            ok = False
        if not ok or name.rsplit(".", 2)[-2] not in (APPLYING, APPLIED):
            raise HostDataError(
                "corrupted vfio-tui journal; nothing was changed", path=paths.display(path),
                fix="inspect it, put the devices back by hand if needed, then delete the file",
            )
        out.append(Journal(path, data, paths.root))
    return out


def interrupted_names(paths: HostPaths) -> list[str]:
    """Cheap check for the CLI start: names of `.applying` journals (one listdir; no parsing)."""
    try:
        names = os.listdir(journal_dir(paths))
    except OSError:
        return []
    return sorted(n for n in names if n.endswith(f".{APPLYING}.json") and not n.startswith("."))
