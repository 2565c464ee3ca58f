"""Provides the one writer lock of a host: every change vfio-tui makes to a host (bind, restore, config
fixes and their undo, persistence files, passthrough runs) happens under it.

The lock is `flock` on /var/lib/vfio-tui/lock (under the host's root, opened through core.safefile),
which also records the holder's pid, command and start time so that a refused second writer can name
it. The kernel drops a flock when its holder dies (kill -9 included), so a stale lock is taken over by
the next writer; readers never take it. Its own module (not core.binding) because core.configfiles
needs it and core.binding needs core.configfiles.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vfio_tui.core import private_state, safefile
from vfio_tui.core.clock import utc
from vfio_tui.core.errors import VfioError
from vfio_tui.core.hostpaths import HostPaths


class LockedError(VfioError):
    """Another vfio-tui holds the writer lock."""


def ensure_state_dir(paths: HostPaths) -> Path:
    """The state dir and its journal dir, 0700 (refused when either is a symlink); temp files a killed
    vfio-tui left there are removed. (The binding journal's dir, made here because taking the lock
    makes it; core.binding.journal re-exports this.)"""
    jdir = paths.state_dir / "journal"
    if _holds_lock(paths):
        return jdir  # made and checked when this thread took the lock (a bind's journal, a run's record)
    private_state.private_dirs(paths.root, paths.state_dir, jdir.name)
    return jdir


_held: dict[tuple[str, int], int] = {}
"""Lock files this thread holds, with their depth: a passthrough run holds the lock while the
binding inside it takes it again (flock on a second open file would refuse ourselves). Per thread:
another thread of the same process (an app worker) is another writer and is refused."""
_held_guard = threading.Lock()
_held_dirs: dict[tuple[str, int], private_state.HeldDir] = {}
"""The journal directory of each lock this thread holds, open since the lock's walk made it private:
journals are created, read, saved and removed through it instead of a walk from the root each time
(five directories opened and checked again, for the directory nothing else changes while the lock is held)."""


def held_dir(directory: Path) -> private_state.HeldDir | None:
    """`directory` held open by a writer lock this thread holds (its state dir's journal dir), else None."""
    with _held_guard:
        return _held_dirs.get((str(directory), threading.get_ident()))


def _holds_lock(paths: HostPaths) -> bool:
    with _held_guard:
        return bool(_held.get((str(paths.state_dir / "lock"), threading.get_ident())))


@contextmanager
def writer_lock(paths: HostPaths, what: str) -> Iterator[None]:
    """Hold the one-writer lock; refuse (naming the holder) when another vfio-tui holds it.
    Re-entrant within one process."""
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
    # The state and journal dirs made private and the lock file opened, in one walk.
    fd, jdir = private_state.private_dirs_and_lock(paths.root, paths.state_dir, "journal", lock_path.name)
    dir_key = (str(jdir.path), key[1])
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(paths.root, lock_path)
            raise LockedError(
                f"another vfio-tui is changing this host: {holder}",
                fix="wait for it to finish (or stop it), then retry", path=paths.display(lock_path),
            ) from None
        info = {"pid": os.getpid(), "what": what, "command": " ".join(sys.argv),
                "host": os.uname().nodename, "since": utc()}
        # Rewritten whole under the flock, so a lock file left truncated or garbled is repaired here.
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        with _held_guard:
            _held[key] = 1
            _held_dirs[dir_key] = jdir
        try:
            yield
        finally:
            with _held_guard:
                _held.pop(key, None)
                _held_dirs.pop(dir_key, None)
    finally:
        jdir.close()
        os.close(fd)  # releases the flock; the kernel does the same on kill -9


def _read_holder(root: Path, lock_path: Path) -> str:
    try:
        info = json.loads(safefile.read_bytes(root, lock_path, limit=1 << 16, follow=False)[: 1 << 16].decode())
        return f"pid {info.get('pid')} ({info.get('what')}: `{info.get('command')}`) since {info.get('since')}"
    except (OSError, ValueError, AttributeError, VfioError):
        return "a process whose details are unreadable"


def lock_is_free(paths: HostPaths) -> bool:
    lock_path = paths.state_dir / "lock"
    try:
        with safefile.open_regular(paths.root, lock_path) as fd:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
    except (OSError, VfioError):
        return True
    return True
