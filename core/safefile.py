"""Provides the one way vfio-tui creates, replaces and removes files: confined to a root directory.

vfio-tui runs as root on trees it did not make (a `--root` image, a received snapshot's temp copy,
a simulated host another user prepared). A path inside such a tree may pass through symlinks that
the kernel would follow anywhere, including to this machine's /etc; every path here is walked by
core.safepath instead (from the root's dir fd, O_NOFOLLOW at each step, in-tree links followed,
links that lead out refused). On the live host the root is "/" and nothing is "outside", but the
same walk gives O_NOFOLLOW on private files and the regular-file checks.

Replacing a file is: a random temp name created with O_CREAT|O_EXCL|O_NOFOLLOW in the target's own
directory, write, fsync, rename over the target, fsync the directory. A target that is not a
regular file (a device node, a FIFO, a socket, a directory — or a symlink where none is allowed) is
refused, so `/dev/null` never turns into a file. Config edits keep the file's owner, mode and
SELinux label; the bytes are written exactly as given (line endings are the caller's).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from vfio_tui.core.safepath import (  # re-exported: the one module writers and confined readers import
    DIR_FLAGS,
    UnsafePathError,
    Walk,
    exists,
    kind_of,
    open_regular,
    open_regular_at,
    readlink,
    rel_parts,
    resolve,
    walk_to,
)

__all__ = ["UnsafePathError", "append", "create_exclusive", "exists", "kind_of", "mkdirs", "open_lock_file",
           "open_regular", "private_dir", "read_bytes", "readlink", "rel_parts", "remove_tree", "rename", "replace",
           "resolve", "rmdir", "sweep_temp_files", "symlink", "temp_name", "unlink", "write_in_place", "write_output"]

TMP_SUFFIX: Final = ".tmp"
_SELINUX: Final = "security.selinux"


def read_bytes(root: Path, path: Path, *, limit: int | None = None, follow: bool = True) -> bytes:
    """A regular file's bytes (at most `limit`+1, so a caller can tell "too big"), inside the tree."""
    with walk_to(root, path, follow_last=follow) as (w, name):
        fd = open_regular_at(w, name, os.O_RDONLY, what="read")
    chunks: list[bytes] = []
    size = 0
    try:
        while limit is None or size <= limit:
            chunk = os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def mkdirs(root: Path, path: Path, mode: int = 0o755) -> None:
    """Create `path` and its missing parents inside the tree."""
    with walk_to(root, path / "_", create=True, dir_mode=mode):
        pass


def private_dir(root: Path, path: Path) -> None:
    """Create `path` (0700) and make it 0700; refused when it is a symlink or not a directory."""
    with walk_to(root, path, create=True, dir_mode=0o700) as (w, name):
        os.close(_enter_private(w, name, keep=False))


def private_dirs(root: Path, path: Path, child: str) -> None:
    """private_dir() of `path` and of `path`/`child`, then sweep_temp_files() of the latter, in one walk
    (the writer lock does this at every start; three walks cost three times the system calls)."""
    _private_dirs(root, path, child, None)


def private_dirs_and_lock(root: Path, path: Path, child: str, lock: str) -> int:
    """private_dirs(), and open_lock_file() of `path`/`lock` on the same walk: its fd, for the caller to close."""
    fd = _private_dirs(root, path, child, lock)
    if fd is None:  # pragma: no cover - _private_dirs opens it whenever a lock name is given
        raise UnsafePathError(f"cannot open {path / lock}", path=str(path / lock))
    return fd


def _private_dirs(root: Path, path: Path, child: str, lock: str | None) -> int | None:
    with walk_to(root, path, create=True, dir_mode=0o700) as (w, name):
        _enter_private(w, name, keep=True)
        fd = _open_lock_at(w, lock) if lock is not None else None
        try:
            _enter_private(w, child, keep=True)
            _sweep_in(w)
        except BaseException:
            if fd is not None:
                os.close(fd)
            raise
        return fd


def _enter_private(w: Walk, name: str, *, keep: bool) -> int:
    """Make `name` in the walk's directory a 0700 directory and open it (never through a link); with
    `keep` the walk goes into it (its fd joins the walk's, closed with them)."""
    with suppress(FileExistsError):
        os.mkdir(name, 0o700, dir_fd=w.fd)
    try:
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


def _fsync_dir(fd: int) -> None:
    with suppress(OSError):  # some filesystems cannot fsync a directory; the rename is still atomic
        os.fsync(fd)


def _keep_attrs(w: Walk, name: str, tmp_fd: int, mode: int | None) -> None:
    """Give the temp file the mode, owner and SELinux label of the file it replaces."""
    try:
        old = open_regular_at(w, name, os.O_RDONLY, what="replace")
    except FileNotFoundError:
        os.fchmod(tmp_fd, 0o644 if mode is None else mode)
        return
    try:
        st = os.fstat(old)
        if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            with suppress(PermissionError):
                os.fchown(tmp_fd, st.st_uid, st.st_gid)  # before the mode: a chown clears set-id bits
        os.fchmod(tmp_fd, stat.S_IMODE(st.st_mode) if mode is None else mode)
        try:
            label = os.getxattr(old, _SELINUX)
        except OSError:
            label = None
        if label is not None:
            with suppress(OSError):
                os.setxattr(tmp_fd, _SELINUX, label)
    finally:
        os.close(old)


def temp_name(name: str) -> str:
    """A fresh hidden temp name beside `name` (".name.<pid>.<random>.tmp")."""
    return f".{name}.{os.getpid()}.{os.urandom(6).hex()}{TMP_SUFFIX}"


def _replace_in(w: Walk, name: str, data: bytes, *, mode: int | None, private: bool, fsync: bool,
                sync_dir: bool) -> None:
    try:
        st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"refusing to replace {w.where(name)}: it is {kind_of(st.st_mode)}, not a regular file",
                              path=w.where(name))
    tmp = temp_name(name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=w.fd)
    try:
        try:
            if private:
                os.fchmod(fd, 0o600 if mode is None else mode)
            else:
                _keep_attrs(w, name, fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=w.fd, dst_dir_fd=w.fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp, dir_fd=w.fd)
        raise
    if sync_dir:
        _fsync_dir(w.fd)


def replace(root: Path, path: Path, data: bytes, *, mode: int | None = None, private: bool = False,
            follow: bool | None = None, fsync: bool = True, sync_dir: bool = True, create_dirs: bool = True,
            dir_mode: int = 0o755) -> None:
    """Atomically make `path` hold `data` (temp + fsync + rename), inside the tree.

    private: vfio-tui's own files (journal, lock, records, backups): 0600 (or `mode`), never through
    a symlink. Otherwise (config files) a final symlink inside the tree is edited through (the link
    stays) and the file keeps its owner, mode (unless `mode`) and SELinux label.
    """
    follow = not private if follow is None else follow
    with walk_to(root, path, create=create_dirs, dir_mode=dir_mode, follow_last=follow) as (w, name):
        _replace_in(w, name, data, mode=mode, private=private, fsync=fsync, sync_dir=sync_dir)


def write_in_place(root: Path, path: Path, data: bytes, *, create: bool = False, mode: int = 0o644) -> None:
    """Truncate and write an existing regular file (a simulated sysfs attribute), never through a link."""
    with walk_to(root, path, create=create) as (w, name):
        fd = open_regular_at(w, name, os.O_WRONLY | (os.O_CREAT if create else 0), mode)
    try:
        os.ftruncate(fd, 0)  # only once it is known to be a regular file
        os.write(fd, data)
    finally:
        os.close(fd)


def append(root: Path, path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Append to a regular file (a log), creating it and its directories; never through a link."""
    with walk_to(root, path, create=True) as (w, name):
        fd = open_regular_at(w, name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def create_exclusive(root: Path, path: Path, data: bytes = b"", *, mode: int = 0o644) -> bool:
    """Create a new regular file; False (nothing written) when something already has that name."""
    with walk_to(root, path, create=True) as (w, name):
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                         dir_fd=w.fd)
        except FileExistsError:
            return False
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)
    return True


def unlink(root: Path, path: Path, *, missing_ok: bool = True) -> None:
    """Remove a file or a symlink (the link, never what it points to) inside the tree."""
    try:
        with walk_to(root, path) as (w, name):
            st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(f"refusing to unlink {w.where(name)}: it is a directory", path=w.where(name))
            os.unlink(name, dir_fd=w.fd)
            _fsync_dir(w.fd)
    except FileNotFoundError:
        if not missing_ok:
            raise


def remove_tree(root: Path, path: Path) -> None:
    """Remove a directory and everything in it, inside the tree (no link on the way is followed out,
    and shutil.rmtree with dir_fd never follows a link inside it)."""
    import shutil

    try:
        with walk_to(root, path) as (w, name):
            st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=w.fd)
            else:
                os.unlink(name, dir_fd=w.fd)
    except FileNotFoundError:
        return


def rmdir(root: Path, path: Path) -> None:
    """Remove an empty directory inside the tree (a symlink is not a directory here)."""
    with walk_to(root, path) as (w, name):
        os.rmdir(name, dir_fd=w.fd)


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

    def replace_private(self, name: str, data: bytes, *, fsync: bool, sync_dir: bool) -> None:
        """replace(root, directory / name, data, private=True) through the held directory."""
        _replace_in(self._w, name, data, mode=None, private=True, fsync=fsync, sync_dir=sync_dir)

    def rename(self, src: str, dst: str) -> None:
        """rename(root, directory / src, directory / dst) through the held directory."""
        _rename_in(self._w, src, dst)

    def close(self) -> None:
        self._w.close()


def rename(root: Path, src: Path, dst: Path) -> None:
    """Rename within one directory of the tree (a journal's state change)."""
    if src.parent != dst.parent:
        raise UnsafePathError(f"{src} and {dst} are not in one directory", path=str(src))
    with walk_to(root, src) as (w, name):
        _rename_in(w, name, dst.name)


def _rename_in(w: Walk, name: str, new: str) -> None:
    st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"refusing to rename {w.where(name)}: it is {kind_of(st.st_mode)}",
                              path=w.where(name))
    os.rename(name, new, src_dir_fd=w.fd, dst_dir_fd=w.fd)
    _fsync_dir(w.fd)


def symlink(root: Path, link: Path, target: str, *, replace_existing: bool = True,
            absolute_ok: bool = False) -> None:
    """Make `link` point to the relative `target`; refused when the target would leave the tree.
    absolute_ok: a link only ever read, never followed (a simulated /proc/PID/fd/N entry); the walk
    here refuses to follow an absolute link in a tree anyway."""
    parts = rel_parts(root, link)
    if target.startswith("/") and absolute_ok:
        pass
    elif target.startswith("/"):
        raise UnsafePathError(f"link {link} would point outside the tree (to {target})", path=str(link))
    # Lexically inside the tree; every directory on the way is then opened O_NOFOLLOW, and the
    # target is walked (and checked) again whenever something follows it.
    lexical = os.path.normpath(os.path.join(*parts[:-1], target) if parts[:-1] else target)
    if lexical == ".." or lexical.startswith("../"):
        raise UnsafePathError(f"link {link} would point outside the tree (to {target})", path=str(link))
    with walk_to(root, link, create=True) as (w, name):
        try:
            os.symlink(target, name, dir_fd=w.fd)
        except FileExistsError:
            if not replace_existing:
                raise
            st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(f"refusing to replace the directory {w.where(name)} with a link",
                                      path=w.where(name)) from None
            os.unlink(name, dir_fd=w.fd)
            os.symlink(target, name, dir_fd=w.fd)


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


def write_output(path: Path, data: bytes) -> None:
    """Write a file the user named on the command line: the same temp + fsync + rename, refusing to
    replace anything that is not a regular file (a device node, a FIFO, a symlink: said so)."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafePathError(f"cannot write {path}: {exc.strerror} ({parent})", path=str(path)) from None
    w = Walk.__new__(Walk)
    w.root, w.live, w.stack, w.names = parent, False, [dfd], []
    try:
        try:
            st = os.stat(path.name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"refusing to write {path}: it is {kind_of(st.st_mode)}, not a regular file"
                                  " (give a new file name, or - for stdout)", path=str(path))
        _replace_in(w, path.name, data, mode=None, private=False, fsync=True, sync_dir=True)
    finally:
        w.close()


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
        if pid is not None and _alive(pid):
            continue
        with suppress(OSError):
            st = os.stat(n, dir_fd=w.fd, follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                os.unlink(n, dir_fd=w.fd)
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True  # (our own pid: a writer in another thread of this process)
