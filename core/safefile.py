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

vfio-tui's own state (private directories, the lock file, a held journal directory, the sweep of
temp files a killed run left) is core.private_state's, on the same walk.
"""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Final

from vfio_tui.core.safepath import (  # re-exported: the one module writers and confined readers import
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

__all__ = ["UnsafePathError", "append", "create_exclusive", "exists", "kind_of", "mkdirs", "open_regular",
           "read_bytes", "read_fd", "readlink", "rel_parts", "remove_tree", "rename", "replace", "resolve", "rmdir",
           "symlink", "temp_name", "unlink", "write_in_place", "write_output"]

TMP_SUFFIX: Final = ".tmp"
_SELINUX: Final = "security.selinux"


def read_bytes(root: Path, path: Path, *, limit: int | None = None, follow: bool = True) -> bytes:
    """A regular file's bytes (at most `limit`+1, so a caller can tell "too big"), inside the tree."""
    with walk_to(root, path, follow_last=follow) as (w, name):
        fd = open_regular_at(w, name, os.O_RDONLY, what="read")
    return read_fd(fd, limit)


def read_fd(fd: int, limit: int | None = None) -> bytes:
    """Everything `fd` has left (at most `limit`+1 bytes); the fd is closed."""
    chunks: list[bytes] = []
    size = 0
    try:
        while limit is None or size <= limit:
            # 64 KiB first: most of these files are a few KiB, and os.read allocates what it is asked for
            # (a 1 MiB buffer is an mmap and a munmap).
            want = (1 << 16) if not chunks else (1 << 20)
            chunk = os.read(fd, want if limit is None else min(want, limit + 1 - size))
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


def fsync_dir(fd: int) -> None:
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


def replace_in(w: Walk, name: str, data: bytes, *, mode: int | None, private: bool, fsync: bool,
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
        fsync_dir(w.fd)


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
        replace_in(w, name, data, mode=mode, private=private, fsync=fsync, sync_dir=sync_dir)


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
            fsync_dir(w.fd)
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


def rename(root: Path, src: Path, dst: Path) -> None:
    """Rename within one directory of the tree (a journal's state change)."""
    if src.parent != dst.parent:
        raise UnsafePathError(f"{src} and {dst} are not in one directory", path=str(src))
    with walk_to(root, src) as (w, name):
        rename_in(w, name, dst.name)


def rename_in(w: Walk, name: str, new: str) -> None:
    st = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"refusing to rename {w.where(name)}: it is {kind_of(st.st_mode)}",
                              path=w.where(name))
    os.rename(name, new, src_dir_fd=w.fd, dst_dir_fd=w.fd)
    fsync_dir(w.fd)


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
        replace_in(w, path.name, data, mode=None, private=False, fsync=True, sync_dir=True)
    finally:
        w.close()
