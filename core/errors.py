"""Provides the VfioError family: every error a user may see, with what to do about it."""

from __future__ import annotations


class VfioError(Exception):
    """Base class of every error vfio-tui reports to a user.

    The CLI prints `str(error)` on one line and exits with `exit_code`; the TUI shows
    `title`, `detail` and `fix`. Nothing below this class should ever surface as a traceback.
    """

    exit_code: int = 2

    def __init__(self, detail: str, *, title: str = "", fix: str = "", path: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        """What went wrong, in one sentence."""
        self.title = title or type(self).__name__
        """A short heading for dialogs."""
        self.fix = fix
        """What the user can do about it (may be empty)."""
        self.path = path
        """The file or sysfs path involved, when there is one."""

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path and self.path not in self.detail else ""
        text = f"{where}{self.detail}"
        if self.fix:
            text += f" ({self.fix})"
        return text


class InputError(VfioError):
    """Bad input from the user: a malformed address, an unknown option value, a missing file."""


class PlanRefusedError(VfioError):
    """A plan was refused (the host or a VM uses a device, a group cannot go as a whole...); nothing
    was changed. Every front end exits 3 for it."""

    exit_code = 3


class HostDataError(VfioError):
    """A recorded host, a host tree or a file on the host could not be understood."""


class SysfsWriteError(VfioError):
    """A write to a kernel attribute failed (carries the errno the kernel returned)."""

    def __init__(self, path: str, value: str, errno_: int, message: str) -> None:
        super().__init__(f"writing {value!r} to {path} failed: {message}", path=path)
        self.errno = errno_
        self.value = value


class SysfsTimeoutError(VfioError):
    """A write to a kernel attribute did not return within its timeout (a hung driver remove())."""

    def __init__(self, path: str, value: str, timeout: float) -> None:
        super().__init__(
            f"writing {value!r} to {path} did not return within {timeout:g} s; abandoned",
            fix="a driver is still busy with the device (e.g. a GPU in use); stop its users and retry",
            path=path,
        )
        self.value = value
        self.timeout = timeout


class NeedsRootError(VfioError):
    """The action needs root; lists exactly what it would have written."""
