"""Provides what every command's output goes through: hints that name the host in use, errors on
one line, and the last line of defence that turns an environment's failure (a permission, a full
disk, a path too long, an input too large) into one line and exit 2 instead of a traceback."""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from vfio_tui.tui.cli.common import host_args, with_host_args

if TYPE_CHECKING:
    from vfio_tui.core.host import HostOptions


class HintStream:
    """A text stream that adds the host options in use to every `vfio-tui COMMAND` written to it.

    Hints come from everywhere (core's refusals and fixes, check results, explain's findings, the
    inventory's header): rewriting what reaches the terminal is the one place that sees them all.
    JSON on stdout is never rewritten (its values are a contract), see hints_for().
    """

    def __init__(self, stream: TextIO, options: HostOptions) -> None:
        self._stream = stream
        self._options = options

    def write(self, text: str) -> int:
        self._stream.write(with_host_args(text, self._options) if "vfio-tui" in text else text)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def verbatim(text: str, file: TextIO | None = None) -> None:
    """Write `text` exactly as it is (a diff of a file, XML): what a file holds is never rewritten."""
    stream = file if file is not None else sys.stdout
    stream = stream._stream if isinstance(stream, HintStream) else stream
    stream.write(text)


@contextmanager
def hints_for(args: argparse.Namespace, options: HostOptions) -> Iterator[None]:
    """Rewrite hints in this command's human output (stdout unless --json, and stderr)."""
    command = getattr(args, "command", None)
    if command in (None, "web", "sim-host", "completion") or not host_args(options):
        # The app and the web server own the terminal; sim-host makes a host; a completion script is code;
        # the live host needs nothing.
        yield
        return
    saved = sys.stdout, sys.stderr
    if not getattr(args, "json", False):
        sys.stdout = HintStream(sys.stdout, options)
    sys.stderr = HintStream(sys.stderr, options)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def hangups_interrupt(args: argparse.Namespace) -> Iterator[None]:
    """A hang-up (the SSH session dropped) or a termination stops a command the way Ctrl-C does: as a
    KeyboardInterrupt, so a bind rolls back and a run leaves its record, instead of dying between two
    writes. Not for the app and the web server, which handle their own signals."""
    if getattr(args, "command", None) in (None, "web") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    saved = {s: signal.signal(s, interrupt) for s in (signal.SIGHUP, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def one_line(text: str) -> str:
    """The promise is one line per error: a detail that carries newlines is joined."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


_OS_FIXES = {
    errno.EACCES: "run it as root, or as the owner of that file",
    errno.EPERM: "run it as root, or as the owner of that file",
    errno.EROFS: "the file system is read-only; use a writable one",
    errno.ENOSPC: "free some space and retry",
    errno.EDQUOT: "free some space and retry",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.ELOOP: "a symbolic link points back at itself; fix or remove it",
}


def environment_error(exc: BaseException) -> str | None:
    """One line for a failure the user's environment caused, or None for a bug (exit 70 then).

    An OSError here escaped every specific handler, but it names a file the user can do something
    about (permissions, space, a directory where a file belongs); MemoryError and RecursionError come
    from an input too large or too deep (a huge file, /dev/zero given as a file).
    """
    if isinstance(exc, OSError) and exc.errno is not None:
        where = exc.filename if isinstance(exc.filename, str) else None
        what = exc.strerror or errno.errorcode.get(exc.errno, str(exc.errno))
        text = f"{where}: {what}" if where else what
        fix = _OS_FIXES.get(exc.errno)
        if where and len(where) > 200:
            text = f"{where[:80]}…{where[-40:]}: {what}"
        return f"{text} ({fix})" if fix else text
    if isinstance(exc, MemoryError):
        return "out of memory reading the input: a file is too large or never ends (such as /dev/zero)"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to read"
    return None


def print_error(prog: str, text: str, options: HostOptions | None) -> None:
    """`prog: error: text` on one line, with the host options in any command it names."""
    from vfio_tui.core.textsafe import printable

    print(f"{prog}: error: {one_line(with_host_args(printable(text), options))}", file=sys.stderr)
