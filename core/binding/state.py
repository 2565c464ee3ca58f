"""Provides the small reads and the state-based "put it back" shared by apply, rollback and restore.

Rollback and restore do not replay undo entries blindly: they look at each device now and
make it match what the journal recorded before the first write, so they are correct from any
point a run stopped at (a failed write, a hang, kill -9 between two writes).
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Mapping
from typing import Any

from vfio_tui.core.binding.plan import Step
from vfio_tui.core.errors import SysfsWriteError, VfioError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.kernel import KernelInterface, checked_timeout
from vfio_tui.core.model import VFIO_DRIVER
from vfio_tui.core.steps import OnStep, Phase, StepEvent
from vfio_tui.core.viability import binding_keeps_viable


def driver_of(paths: HostPaths, address: str) -> str | None:
    try:
        return os.path.basename(os.readlink(f"{paths.pci_devices}/{address}/driver"))
    except OSError:
        return None


def override_of(paths: HostPaths, address: str) -> str | None:
    try:
        fd = os.open(f"{paths.pci_devices}/{address}/driver_override", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        text = os.read(fd, 4096).decode(errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if text in ("", "(null)") else text


def is_bridge_at(paths: HostPaths, address: str) -> bool:
    try:
        with open(paths.pci_device(address) / "config", "rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return len(head) > 14 and (head[14] & 0x7F) in (1, 2)


def group_members(paths: HostPaths, group: int) -> list[str]:
    try:
        return sorted(os.listdir(paths.iommu_groups / str(group) / "devices"))
    except OSError:
        return []


def verify_group(paths: HostPaths, group: int, endpoints: tuple[str, ...], release: str | None) -> list[str]:
    """Why the group is not ready for a VM (empty when every check passes)."""
    problems = []
    drivers = {a: driver_of(paths, a) for a in endpoints}
    for a, drv in drivers.items():
        if drv != VFIO_DRIVER:
            problems.append(f"{a} is on {drv or 'no driver'}, not vfio-pci")
    if not (paths.dev_vfio / str(group)).exists():
        problems.append(f"{paths.display(paths.dev_vfio / str(group))} does not exist")
    for a in group_members(paths, group):
        drv = drivers[a] if a in drivers else driver_of(paths, a)
        on_vfio = drv == VFIO_DRIVER or (drv is not None and (paths.pci_device(a) / "vfio-dev").is_dir())
        # Config space is read only when being a bridge could matter (a host driver on a kernel < 5.19):
        # reading it wakes a function vfio-pci has just runtime-suspended (D3hot -> D0 waits 10 ms).
        if not binding_keeps_viable(drv, is_bridge=False, on_vfio=on_vfio, release=release) and \
                not binding_keeps_viable(drv, is_bridge=is_bridge_at(paths, a), on_vfio=on_vfio, release=release):
            problems.append(f"group {group} is not viable: {a} is bound to {drv}")
    return problems


class StepRunner:
    """Runs steps through the kernel interface, timing them and reporting events."""

    def __init__(self, paths: HostPaths, kernel: KernelInterface, timeout: float,
                 on_step: OnStep | None = None, phase: Phase = "bind") -> None:
        self.paths = paths
        self.phase = phase
        self.kernel = kernel
        self.timeout = checked_timeout(timeout)
        self.on_step = on_step
        self.times: list[tuple[Step, float]] = []

    def run(self, step: Step) -> None:
        name = step.describe()
        if self.on_step:
            self.on_step(StepEvent(name, "started", phase=self.phase, address=step.address))
        t0 = time.perf_counter()
        try:
            if step.kind == "modprobe":
                self.kernel.load_module(step.value)
            else:
                self.kernel.write(self.paths.under(step.path), step.value, self.timeout)
        except VfioError as exc:
            if self.on_step:
                self.on_step(StepEvent(name, "failed", str(exc), time.perf_counter() - t0, self.phase, step.address))
            raise
        elapsed = time.perf_counter() - t0
        self.times.append((step, elapsed))
        if self.on_step:
            self.on_step(StepEvent(name, "done", "", elapsed, self.phase, step.address))


def _sys(paths: HostPaths, *parts: str) -> str:
    return paths.display(paths.pci_bus.joinpath(*parts))


def return_devices(runner: StepRunner, originals: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Put devices back to their recorded driver and driver_override; {address: error} for failures.

    Order for a group: every unbind first (a host driver cannot bind while the group is owned by
    VFIO), then the overrides, then the binds. A bind goes to the recorded driver by name
    (drivers/D/bind), falling back to drivers_probe when D does not match by id.
    """
    paths = runner.paths
    failed: dict[str, str] = {}

    def attempt(addr: str, step: Step) -> bool:
        if addr in failed:
            return False
        try:
            runner.run(step)
        except VfioError as exc:
            failed[addr] = str(exc)
            return False
        return True

    for addr, orig in originals.items():
        cur = driver_of(paths, addr)
        if cur is not None and cur != orig.get("driver"):
            attempt(addr, Step("unbind", addr, _sys(paths, "drivers", cur, "unbind"), addr, ""))
    for addr, orig in originals.items():
        want = orig.get("override")
        if override_of(paths, addr) != want and (paths.pci_device(addr) / "driver_override").exists():
            attempt(addr, Step("override", addr, _sys(paths, "devices", addr, "driver_override"),
                               want if want else "\n", ""))
    for addr, orig in originals.items():
        want_drv = orig.get("driver")
        if want_drv is None or driver_of(paths, addr) == want_drv or addr in failed:
            continue
        try:
            runner.run(Step("probe", addr, _sys(paths, "drivers", want_drv, "bind"), addr, ""))
        except SysfsWriteError as exc:
            if exc.errno not in (errno.ENODEV, errno.ENOENT):
                failed[addr] = str(exc)
                continue
            attempt(addr, Step("probe", addr, _sys(paths, "drivers_probe"), addr, ""))
        except VfioError as exc:
            failed[addr] = str(exc)
            continue
        if addr not in failed and (now := driver_of(paths, addr)) != want_drv:
            failed[addr] = f"{addr} did not go back to {want_drv} (it is on {now or 'no driver'})"
    return failed
