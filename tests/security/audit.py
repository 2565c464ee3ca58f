"""An audit of everything this process writes (and what it reads of a victim), through
sys.addaudithook: open for writing, mkdir, rename/replace, remove, rmdir, chmod, chown, symlink,
link, truncate, utime, rmtree. A path given relative to a dir fd is placed through
/proc/self/fd/N. Python's "open" audit event does not carry the dir fd, so while recording,
os.open is wrapped to place its path first (the event it raises then is not counted twice).

Audit hooks cannot be removed, so one hook is installed for the session and records only inside
`recording()`.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WRITE_EVENTS = {"os.mkdir": (0, 2), "os.rename": (0, 2), "os.remove": (0, 1), "os.rmdir": (0, 1),
                "os.chmod": (0, 2), "os.chown": (0, 3), "os.symlink": (1, 2), "os.link": (1, 3),
                "os.truncate": (0, None), "os.utime": (0, 3), "shutil.rmtree": (0, 1)}
"""event → (index of the path argument, index of its dir_fd argument or None)."""
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@dataclass
class Record:
    allowed: list[Path]
    watched: list[Path]
    writes: int = 0
    outside: list[str] = field(default_factory=list)
    """Write events outside the allowed dirs, and opens of anything under a watched (victim) dir."""


_current: Record | None = None
_busy = threading.local()


def _where(path: Any, dir_fd: Any) -> Path | None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, int):
        try:
            return Path(os.readlink(f"/proc/self/fd/{path}"))
        except OSError:
            return None
    if not isinstance(path, str | os.PathLike):
        return None
    p = Path(path)
    if p.is_absolute():
        return Path(os.path.normpath(p))
    base = Path.cwd()
    if isinstance(dir_fd, int) and dir_fd >= 0:
        try:
            base = Path(os.readlink(f"/proc/self/fd/{dir_fd}"))
        except OSError:
            return None
    return Path(os.path.normpath(base / p))


def _under(p: Path, dirs: list[Path]) -> bool:
    return any(p == d or d in p.parents for d in dirs)


def _note_open(rec: Record, where: Path | None, writing: bool) -> None:
    if where is None:
        return
    if _under(where, rec.watched):
        rec.outside.append(f"open {where} ({'write' if writing else 'read'})")
    elif writing:
        rec.writes += 1
        if not _under(where, rec.allowed):
            rec.outside.append(f"open-for-write {where}")


def _os_open(path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
    rec = _current
    if rec is not None and not getattr(_busy, "on", False):
        _busy.on = True
        try:
            _note_open(rec, _where(path, dir_fd), bool(flags & _WRITE_FLAGS))
        finally:
            _busy.on = False
    _busy.in_os_open = True
    try:
        return _real_os_open(path, flags, mode, dir_fd=dir_fd)
    finally:
        _busy.in_os_open = False


_real_os_open = os.open


def _hook(event: str, args: tuple[Any, ...]) -> None:
    rec = _current
    if rec is None or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        if event == "open":
            if getattr(_busy, "in_os_open", False):
                return  # placed by _os_open, with its dir fd
            path, mode, flags = [*list(args), None, None, None][:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                (isinstance(flags, int) and bool(flags & _WRITE_FLAGS))
            _note_open(rec, _where(path, None), writing)
        elif event in WRITE_EVENTS:
            pi, fi = WRITE_EVENTS[event]
            where = _where(args[pi], args[fi] if fi is not None and fi < len(args) else None)
            rec.writes += 1
            if where is None or not _under(where, rec.allowed) or _under(where, rec.watched):
                rec.outside.append(f"{event} {where}")
            if event == "os.rename":
                dst = _where(args[1], args[3] if len(args) > 3 else None)
                if dst is None or not _under(dst, rec.allowed) or _under(dst, rec.watched):
                    rec.outside.append(f"{event} -> {dst}")
    finally:
        _busy.on = False


_installed = False


@contextmanager
def recording(allowed: list[Path], watched: list[Path]) -> Iterator[Record]:
    """Record this process's writes; `outside` lists those not under `allowed` and any touch of `watched`."""
    global _current, _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True
    rec = Record([Path(os.path.realpath(a)) for a in allowed], [Path(os.path.realpath(w)) for w in watched])
    _current = rec
    os.open = _os_open  # put back below
    try:
        yield rec
    finally:
        os.open = _real_os_open
        _current = None


def listing(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under `root` with its type, mode and content hash (or link target)."""
    out: dict[str, tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = ("link", st.st_mode, os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p)] = ("file", st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest())
            else:
                out[str(p)] = ("other", st.st_mode, f"{st.st_rdev}")
    return out
