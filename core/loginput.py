"""Provides open_log(), read_log() and read_tail(): every log vfio-tui reads (explain, failure records,
checks), read without blocking or bloat.

A log named by the user (`explain FILE`, the app's "load a log"), the domain's QEMU log (`--vm`) and
the kernel logs the checks read may be anything a path can name. A FIFO would block the open (and a
read) forever, `/dev/zero` or `/dev/urandom` never end, a socket or a directory is not a log. So the
file is opened with O_NONBLOCK (the open of a FIFO without a writer returns at once), checked with
fstat() on the open descriptor (no race with a rename or a symlink swap) and refused unless it is a
regular file; what is read is capped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from vfio_tui.core.errors import InputError

MAX_INPUT = 256 << 20
"""The size cap: explain reads at most this much of one input (a 50 MB log takes well under 1 s)."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


class NotRegularFile(InputError):
    """The path names a FIFO, a device, a socket or a directory."""


def open_log(path: Path, shown: str | None = None) -> BinaryIO:
    """Open a regular file for reading, at once, whatever `path` names.

    Raises:
        NotRegularFile: a FIFO, device, socket or directory (one line, with what to do instead).
        OSError: the file does not exist or cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(f"{shown or path} is {_kind(mode)}, not a log file",
                                 fix="give a log file, or pipe the text: ... | vfio-tui explain -")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_log(path: Path, limit: int = MAX_INPUT, shown: str | None = None) -> tuple[bytes, bool]:
    """The first `limit` bytes of a regular file and whether there was more (see open_log for errors)."""
    with open_log(path, shown) as fh:
        data = fh.read(limit)
        return data, bool(fh.read(1))


def read_tail(path: Path, limit: int) -> bytes | None:
    """The last `limit` bytes of a regular file; None when it is missing, unreadable or not a regular file."""
    try:
        with open_log(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                fh.seek(size - limit)
            return fh.read(limit)
    except (OSError, InputError):
        return None


def read_stream(stream: BinaryIO, limit: int = MAX_INPUT) -> tuple[bytes, bool]:
    """At most `limit` bytes of a stream (stdin) and whether there was more."""
    data = stream.read(limit)
    return data, bool(stream.read(1)) if len(data) >= limit else False
