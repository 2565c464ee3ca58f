"""Provides SimulatedKernel (placeholder until the binding issue lands: writes are refused)."""

from __future__ import annotations

from pathlib import Path

from core.errors import VfioError
from core.hostpaths import HostPaths
from core.kernel import DEFAULT_WRITE_TIMEOUT


class SimulatedKernel:
    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def write(self, path: Path, value: str, timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        raise VfioError("the simulated kernel does not accept writes yet")

    def load_module(self, name: str) -> None:
        raise VfioError("the simulated kernel cannot load modules yet")
