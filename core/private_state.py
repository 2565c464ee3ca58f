"""Provides vfio-tui's own state on a host, made on core.safefile's confined walk: the private
directories under /var/lib/vfio-tui (0700, never a link, even inside the tree), the writer's lock
file, a journal directory held open for a run's saves, and the sweep of temp files a killed
vfio-tui left behind. core.lock and the journals and records build on it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from vfio_tui.core.safefile import TMP_SUFFIX, fsync_dir, read_fd, rename_in, replace_in
from vfio_tui.core.safepath import DIR_FLAGS, UnsafePathError, Walk, open_regular_at, rel_parts, walk_to

__all__ = ["HeldDir", "open_lock_file", "pid_alive", "private_dir", "private_dirs", "private_dirs_and_lock",
           "sweep_temp_files"]


def private_dir(root: Path, path: Path) -> None:
    """Create `path` (0700) and make it 0700; refused when it is a symlink or not a directory."""
    with walk_to(root, path, create=True, dir_mode=0o700) as (w, name):
        os.close(_enter_private(w, name, keep=False))


def private_dirs(root: Path, path: Path, child: str) -> None:
    """private_dir() of `path` and of `path`/`child`, then sweep_temp_files() of the latter, in one walk
    (the writer lock does this at every start; three walks cost three times the system calls)."""
    with walk_to(root, path, create=True, dir_mode=0o700) as (w, name):
        _enter_private(w, name, keep=True)
        _enter_private(w, child, keep=True)
        _sweep_in(w)


def private_dirs_and_lock(root: Path, path: Path, child: str, lock: str) -> tuple[int, HeldDir]:
    """private_dirs(), and open_lock_file() of `path`/`lock` on the same walk: its fd, and `path`/`child`
    held open (the walk's own directories), both for the caller to close."""
    w = Walk(root)
    try:
        _enter_private(w, w.walk(rel_parts(root, path), create=True, dir_mode=0o700), keep=True)
        fd = _open_lock_at(w, lock)
        try:
            _enter_private(w, child, keep=True)
            _sweep_in(w)
        except BaseException:
            os.close(fd)
            raise
    except BaseException:
        w.close()
        raise
    return fd, HeldDir.adopt(path / child, w)


def _enter_private(w: Walk, name: str, *, keep: bool) -> int:
    """Make `name` in the walk's directory a 0700 directory and open it (never through a link); with
    `keep` the walk goes into it (its fd joins the walk's, closed with them)."""
    try:
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=w.fd)
        except FileNotFoundError:  # made on first use only: a mkdir that fails with EEXIST costs a system call
            with suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=w.fd)
            fd = os.open(name, DIR_FLAGS, dir_fd=w.fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePathError(f"refusing to use {w.where(name)} as vfio-tui's private directory:"
                                  " it is a symlink or not a directory", path=w.where(name)) from None
        raise
    if keep:
        w.stack.append(fd)
        w.names.append(name)
    try:
        os.fchmod(fd, 0o700)
    except BaseException:
        if not keep:
            os.close(fd)
        raise
    return fd

class HeldDir:
    """A directory of the tree, reached by the confined walk once and held open for a series of
    replace()/rename() of vfio-tui's own files in it (a bind's journal: a walk per save was a fifth of
    the journal's time on the lab's 9p root). The caller closes it."""

    def __init__(self, root: Path, directory: Path) -> None:
        self.path = directory
        self._w = Walk(root)
        try:
            self._w.walk(rel_parts(root, directory / "_"))  # every directory of the path opened, none created
        except BaseException:
            self._w.close()
            raise

    @classmethod
    def adopt(cls, directory: Path, walk: Walk) -> HeldDir:
        """A walk already standing in `directory` (its fds are the HeldDir's now)."""
        held = cls.__new__(cls)
        held.path, held._w = directory, walk
        return held

    def read_private(self, name: str, limit: int) -> bytes:
        """One of vfio-tui's own files in the directory, never through a link, at most `limit` + 1 bytes."""
        return read_fd(open_regular_at(self._w, name, os.O_RDONLY, what="read"), limit)

    def unlink(self, name: str) -> None:
        """Remove a file (or a link: never what it points to) of the directory; gone already is fine."""
        try:
            st = os.stat(name, dir_fd=self._w.fd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"refusing to unlink {self._w.where(name)}: it is a directory",
                                  path=self._w.where(name))
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=self._w.fd)
        fsync_dir(self._w.fd)

    def replace_private(self, name: str, data: bytes, *, fsync: bool, sync_dir: bool) -> None:
        """replace(root, directory / name, data, private=True) through the held directory."""
        replace_in(self._w, name, data, mode=None, private=True, fsync=fsync, sync_dir=sync_dir)

    def rename(self, src: str, dst: str) -> None:
        """rename(root, directory / src, directory / dst) through the held directory."""
        rename_in(self._w, src, dst)

    def close(self) -> None:
        self._w.close()

@contextmanager
def open_lock_file(root: Path, path: Path) -> Iterator[int]:
    """A private lock file's fd (O_RDWR, created 0600, never through a link, regular only)."""
    with walk_to(root, path, create=True, dir_mode=0o700) as (w, name):
        fd = _open_lock_at(w, name)
    try:
        yield fd
    finally:
        os.close(fd)


def _open_lock_at(w: Walk, name: str) -> int:
    fd = open_regular_at(w, name, os.O_RDWR | os.O_CREAT, 0o600, what="lock")
    try:
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    except BaseException:
        os.close(fd)
        raise
    return fd

def sweep_temp_files(root: Path, directory: Path) -> int:
    """Remove temp files a killed vfio-tui left in `directory` (their writer's pid is gone)."""
    try:
        with walk_to(root, directory / "_") as (w, _name):
            return _sweep_in(w)
    except (OSError, UnsafePathError):
        return 0


def _sweep_in(w: Walk) -> int:
    """sweep_temp_files() of the walk's directory."""
    try:
        names = os.listdir(w.fd)
    except OSError:
        return 0
    removed = 0
    for n in names:
        if not (n.startswith(".") and n.endswith(TMP_SUFFIX)):
            continue
        bits = n[1:-len(TMP_SUFFIX)].rsplit(".", 2)
        pid = int(bits[1]) if len(bits) == 3 and bits[1].isdigit() else None
        if pid_alive(pid):
            continue
        with suppress(OSError):
            st = os.stat(n, dir_fd=w.fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                os.unlink(n, dir_fd=w.fd)
                removed += 1
    return removed


def pid_alive(pid: object) -> bool:
    """Whether a process with this pid exists (the writer of a temp file, journal or run record may be
    gone; our own pid counts: a writer in another thread of this process)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
