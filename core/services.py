"""Provides ServiceManager: the only way core/ stops or starts a host service (the display manager, before
and after a GPU leaves the host). LiveServices runs systemctl on this machine; the simulated host has its
own (core.simulated.services); a plain tree refuses. Like KernelInterface, it is injected through Host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from vfio_tui.core.errors import VfioError
from vfio_tui.core.hostpaths import HostPaths

if TYPE_CHECKING:
    import subprocess

ServiceState: TypeAlias = Literal["active", "inactive", "failed", "unknown"]
DEFAULT_SERVICE_TIMEOUT = 60.0
"""Seconds a stop or start may take (a display manager ends the whole graphical session)."""


class ServiceError(VfioError):
    """A service could not be stopped or started."""


class ServiceManager(Protocol):
    """Stops and starts host services."""

    paths: HostPaths

    def state(self, unit: str) -> ServiceState:
        ...

    def resolve(self, unit: str) -> str:
        """The unit an alias stands for (display-manager.service -> gdm.service); the unit itself otherwise."""
        ...

    def stop(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        """Raises ServiceError."""
        ...

    def start(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        """Raises ServiceError."""
        ...


class LiveServices:
    """This machine's systemd. Only ever used when the host root is "/"."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def _run(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        import shutil
        import subprocess  # only a live host's service change needs it (a read-only command starts faster)

        systemctl = shutil.which("systemctl") or "/bin/systemctl"
        try:
            return subprocess.run([systemctl, *args], capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ServiceError(f"systemctl {' '.join(args)} did not return within {timeout:g} s") from None
        except OSError as exc:
            raise ServiceError(f"cannot run systemctl: {exc}", fix="is this a systemd host?") from None

    def state(self, unit: str) -> ServiceState:
        out = self._run("is-active", unit, timeout=10).stdout.strip()
        return out if out in ("active", "inactive", "failed") else "unknown"  # type: ignore[return-value]

    def resolve(self, unit: str) -> str:
        out = self._run("show", "-p", "Id", "--value", unit, timeout=10).stdout.strip()
        return out or unit

    def stop(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        proc = self._run("stop", unit, timeout=timeout)
        if proc.returncode != 0:
            raise ServiceError(f"systemctl stop {unit} failed: {proc.stderr.strip() or proc.returncode}")

    def start(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        proc = self._run("start", unit, timeout=timeout)
        if proc.returncode != 0:
            raise ServiceError(f"systemctl start {unit} failed: {proc.stderr.strip() or proc.returncode}",
                               fix=f"journalctl -u {unit} -b says why")


class ReadOnlyServices:
    """A plain host tree: its services are not this machine's and not simulated."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def state(self, unit: str) -> ServiceState:
        return "unknown"

    def resolve(self, unit: str) -> str:
        return unit

    def stop(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        raise ServiceError(f"refusing to stop {unit}: the host at {self.paths.root} is a plain tree")

    def start(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        raise ServiceError(f"refusing to start {unit}: the host at {self.paths.root} is a plain tree")
