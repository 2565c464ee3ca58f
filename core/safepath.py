"""Provides the confined walk every host path is opened through: one component at a time from the
root's directory fd, each directory opened O_NOFOLLOW relative to the one before; a symlink inside
the tree is read and its target walked the same way, and a target that is absolute or climbs above
the root is refused (UnsafePathError), never followed out. On the live host the root is "/" and
absolute targets restart at it, as the kernel's own lookup does.

core.safefile builds every write on it; readers that must not leave a tree use resolve(),
readlink() and open_regular() from here.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Final

from vfio_tui.core.errors import VfioError

MAX_LINKS: Final = 40
"""Symlinks followed in one path before giving up (the kernel's own limit, MAXSYMLINKS)."""
DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePathError(VfioError):
    """A path that would leave its tree, pass through a link where none may be, or replace
    something that is not a regular file. Nothing was written."""


def kind_of(mode: int) -> str:
    """What a file type is called in a message ("a character device", "a FIFO"...)."""
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _shown(root: Path, parts: list[str]) -> str:
    return ("/" if str(root) == "/" else str(root).rstrip("/") + "/") + "/".join(parts)


def rel_parts(root: Path, path: Path) -> list[str]:
    """The components of `path` below `root` (refused when `path` is not spelled under it)."""
    try:
        rel = Path(os.path.normpath(path)).relative_to(root) if path.is_absolute() else path
    except ValueError:
        raise UnsafePathError(f"{path} is not inside {root}", path=str(path)) from None
    parts = [p for p in rel.parts if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePathError(f"{path} climbs out of {root} ('..')", path=str(path))
    return parts


class Walk:
    """A walk from the root's fd: the stack of directory fds opened so far (closed by close())."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.live = str(root) == "/"
        try:
            self.stack = [os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)]
        except OSError as exc:
            raise UnsafePathError(f"cannot open the host root: {exc.strerror}", path=str(root)) from None
        self.names: list[str] = []

    def close(self) -> None:
        for fd in self.stack:
            os.close(fd)
        self.stack = []

    @property
    def fd(self) -> int:
        return self.stack[-1]

    def where(self, name: str = "") -> str:
        return _shown(self.root, [*self.names, name] if name else self.names)

    def walk(self, parts: list[str], *, create: bool = False, dir_mode: int = 0o755,
             follow_last: bool = False) -> str:
        """Open every directory of `parts` but the last; returns the last name (its parent is self.fd).
        With follow_last a final symlink is followed too (inside the tree)."""
        todo = list(parts)
        links = 0
        via = ""  # the last link followed, for the message when its target leads out
        if not todo:
            raise UnsafePathError("the host root itself is not a file", path=str(self.root))
        while True:
            name = todo.pop(0)
            if name in ("", "."):
                if not todo:
                    raise UnsafePathError(f"{self.where()} names a directory, not a file", path=self.where())
                continue
            if name == "..":
                if len(self.stack) == 1:
                    if self.live:
                        continue  # "/.." is "/"
                    raise UnsafePathError(f"{via or self.where('..')} leads outside the tree {self.root}",
                                          path=via or self.where(".."))
                os.close(self.stack.pop())
                self.names.pop()
                if not todo:
                    raise UnsafePathError(f"{self.where()} names a directory, not a file", path=self.where())
                continue
            last = not todo
            try:
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            except FileNotFoundError:
                if last:
                    return name
                if not create:
                    raise
                with suppress(FileExistsError):
                    os.mkdir(name, dir_mode, dir_fd=self.fd)
                st = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode) and (not last or follow_last):
                links += 1
                if links > MAX_LINKS:
                    raise UnsafePathError(f"too many symlinks at {self.where(name)}", path=self.where(name))
                target = os.readlink(name, dir_fd=self.fd)
                via = f"{self.where(name)} (-> {target})"
                if target.startswith("/"):
                    if not self.live:
                        raise UnsafePathError(f"{self.where(name)} links outside the tree (to {target})",
                                              path=self.where(name))
                    while len(self.stack) > 1:
                        os.close(self.stack.pop())
                    self.names = []
                todo = [p for p in target.split("/") if p] + todo
                if not todo:
                    raise UnsafePathError(f"{self.where(name)} links to a directory", path=self.where(name))
                continue
            if last:
                return name
            if not stat.S_ISDIR(st.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), self.where(name))
            self.stack.append(os.open(name, DIR_FLAGS, dir_fd=self.fd))
            self.names.append(name)


@contextmanager
def walk_to(root: Path, path: Path, *, create: bool = False, dir_mode: int = 0o755,
            follow_last: bool = False) -> Iterator[tuple[Walk, str]]:
    """The walk's last directory (open) and the final name of `path`, inside `root`."""
    w = Walk(root)
    try:
        name = w.walk(rel_parts(root, path), create=create, dir_mode=dir_mode, follow_last=follow_last)
        yield w, name
    finally:
        w.close()


def resolve(root: Path, path: Path, *, follow_last: bool = True) -> Path:
    """`path` with every symlink resolved, inside `root` (refused when it would leave it;
    FileNotFoundError when it does not exist)."""
    with walk_to(root, path, follow_last=follow_last) as (w, name):
        os.stat(name, dir_fd=w.fd, follow_symlinks=False)
        return Path(w.where(name))


def exists(root: Path, path: Path) -> bool:
    """Whether `path` exists inside the tree (a link that leaves it does not)."""
    try:
        with walk_to(root, path, follow_last=True) as (w, name):
            os.stat(name, dir_fd=w.fd, follow_symlinks=False)
    except (OSError, UnsafePathError):
        return False
    return True


def open_regular_at(w: Walk, name: str, flags: int, mode: int = 0o600, *, what: str = "write") -> int:
    """Open `name` in the walk's directory without following a link; refuse anything not regular
    (looked at before the open too: opening a device node can itself do something, a tape rewinds)."""
    with suppress(FileNotFoundError):
        before = os.stat(name, dir_fd=w.fd, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise UnsafePathError(f"refusing to {what} {w.where(name)}: it is {kind_of(before.st_mode)}"
                                  f"{'' if stat.S_ISLNK(before.st_mode) else ', not a regular file'}",
                                  path=w.where(name))
    try:
        fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=w.fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"refusing to {what} {w.where(name)}: it is a symlink", path=w.where(name)) from None
        if exc.errno in (errno.ENXIO, errno.EISDIR):
            try:
                kind = kind_of(os.stat(name, dir_fd=w.fd, follow_symlinks=False).st_mode)
            except OSError:
                kind = "not a regular file"
            raise UnsafePathError(f"refusing to {what} {w.where(name)}: it is {kind}, not a regular file",
                                  path=w.where(name)) from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise UnsafePathError(f"refusing to {what} {w.where(name)}: it is {kind_of(st.st_mode)}, not a regular file",
                              path=w.where(name))
    os.set_blocking(fd, True)
    return fd


def readlink(root: Path, path: Path) -> str:
    """The text of a symlink inside the tree (its parents walked without leaving the tree)."""
    with walk_to(root, path) as (w, name):
        return os.readlink(name, dir_fd=w.fd)


@contextmanager
def open_regular(root: Path, path: Path, *, follow: bool = False) -> Iterator[int]:
    """An existing regular file's fd, read-only, inside the tree (FileNotFoundError when absent)."""
    with walk_to(root, path, follow_last=follow) as (w, name):
        fd = open_regular_at(w, name, os.O_RDONLY, what="open")
    try:
        yield fd
    finally:
        os.close(fd)


