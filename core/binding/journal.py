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

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from core.clock import utc
from core.errors import HostDataError, VfioError
from core.hostpaths import HostPaths

JOURNAL_SCHEMA: Final = "vfio-tui/bind-journal/1"
APPLYING: Final = "applying"
APPLIED: Final = "applied"


class LockedError(VfioError):
    """Another vfio-tui holds the writer lock."""


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


_held: dict[tuple[str, int], int] = {}
"""Lock files this thread holds, with their depth: a passthrough run holds the lock while the
binding inside it takes it again (flock on a second open file would refuse ourselves). Per thread:
another thread of the same process (an app worker) is another writer and is refused."""
_held_guard = threading.Lock()


@contextmanager
def writer_lock(paths: HostPaths, what: str) -> Iterator[None]:
    """Hold the one-writer lock; refuse (naming the holder) when another vfio-tui holds it.
    Re-entrant within one process."""
    ensure_state_dir(paths)
    lock_path = paths.state_dir / "lock"
    key = (str(lock_path), threading.get_ident())
    with _held_guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(lock_path)
            raise LockedError(
                f"another vfio-tui is changing this host: {holder}",
                fix="wait for it to finish (or stop it), then retry", path=paths.display(lock_path),
            ) from None
        info = {"pid": os.getpid(), "what": what, "command": " ".join(sys.argv),
                "host": socket.gethostname(), "since": utc()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        with _held_guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
    finally:
        os.close(fd)  # closing releases the flock; the kernel does the same on kill -9


def _read_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text())
        return f"pid {info.get('pid')} ({info.get('what')}: `{info.get('command')}`) since {info.get('since')}"
    except (OSError, ValueError, AttributeError):
        return "a process whose details are unreadable"


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists (a journal or run record's writer may be gone)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_is_free(paths: HostPaths) -> bool:
    lock_path = paths.state_dir / "lock"
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


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
