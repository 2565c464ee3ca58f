"""Provides SimulatedServices: the services of a simulated host (core.services.ServiceManager). Stopping the
display manager ends the processes of its graphical session (the compositor, Xwayland: their /proc entries
and open nodes go, as on a real host); starting it brings them back as recorded. The state lives with the
simulated kernel's (one lock, one file), so separate processes on one --root DIR agree.
"""

from __future__ import annotations

from typing import Any

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.services import DEFAULT_SERVICE_TIMEOUT, ServiceError, ServiceState
from vfio_tui.core.simulated.gpu_kernel import log
from vfio_tui.core.simulated.gpu_tree import gpu_state, render_gpu, static
from vfio_tui.core.simulated.kernel import SimulatedKernel


class SimulatedServices:
    """Services of a simulated host tree."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths
        self._kernel = SimulatedKernel(paths)

    @staticmethod
    def _known(meta: dict[str, Any], real: str) -> dict[str, Any] | None:
        """The recorded service `real` (an already resolved unit name)."""
        services = static(meta).get("services") or {}
        entry = services.get(real)
        return entry if isinstance(entry, dict) else None

    def state(self, unit: str) -> ServiceState:
        real = self.resolve(unit)
        meta = self._kernel.metadata()
        if self._known(meta, real) is None:
            return "unknown"
        return "active" if gpu_state(meta)["services"].get(real) else "inactive"

    def resolve(self, unit: str) -> str:
        if unit == "display-manager.service":
            dm = static(self._kernel.metadata()).get("display_manager")
            if isinstance(dm, str):
                return dm
        return unit

    def _set(self, unit: str, active: bool) -> None:
        real = self.resolve(unit)  # before taking the lock: resolve() reads the metadata under it
        with self._kernel._state() as meta:  # the kernel's state lock: one writer for the whole tree
            if self._known(meta, real) is None:
                raise ServiceError(f"Unit {real} not loaded.", fix="is that the right unit name?")
            failure = (static(meta).get("services") or {}).get(real, {}).get("fail_start")
            if active and failure:
                log(meta, f"systemd: {real}: start failed: {failure}")
                raise ServiceError(f"systemctl start {real} failed: Job for {real} failed.",
                                   fix=f"journalctl -u {real} -b says why ({failure})")
            gpu_state(meta)["services"][real] = active
            log(meta, f"systemd: {'started' if active else 'stopped'} {real}")
            render_gpu(self.paths, meta)

    def stop(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        self._set(unit, False)

    def start(self, unit: str, timeout: float = DEFAULT_SERVICE_TIMEOUT) -> None:
        self._set(unit, True)
