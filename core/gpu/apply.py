"""Provides check_step() and run_step(): a GPU step checked against the host as it is now, then made through
the host's interfaces (KernelInterface for sysfs writes and modules, ServiceManager for services).

Every step first looks at the host: a step whose change is already true (the console already unbound, the
module not loaded, the display manager already stopped) is skipped and not recorded as done, so undo never
puts back something this run did not take. The sysfs paths a step may write are fixed (a vtconsole's bind,
a firmware framebuffer driver's bind/unbind): a recorded plan that names anything else is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from vfio_tui.core.errors import VfioError
from vfio_tui.core.gpu.known import FIRMWARE_FB_DRIVERS
from vfio_tui.core.gpu.steps import GpuStep
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

_VTCON_PATH: Final = re.compile(r"^/sys/class/vtconsole/vtcon\d+/bind$")
_FB_PATH: Final = re.compile(r"^/sys/bus/platform/drivers/(" + "|".join(FIRMWARE_FB_DRIVERS) + r")/(un)?bind$")
_NAME: Final = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")

Outcome = Literal["do", "skip"]


class GpuStepError(VfioError):
    """A GPU step failed (the host is as the steps done before it left it)."""


@dataclass(frozen=True, slots=True)
class StepCheck:
    """What a step would do on the host as it is now."""

    outcome: Outcome
    note: str = ""


def _read(path: os.PathLike[str]) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _valid(step: GpuStep) -> str:
    """Why a step must not run at all ("" when it may): a recorded plan is data, not commands."""
    if not _NAME.match(step.target):
        return f"bad target {step.target!r}"
    if step.kind in ("unbind-vtconsole", "bind-vtconsole") and not _VTCON_PATH.match(step.path):
        return f"not a vtconsole bind attribute: {step.path}"
    if step.kind in ("unbind-framebuffer", "bind-framebuffer") and not _FB_PATH.match(step.path):
        return f"not a firmware framebuffer driver's bind/unbind: {step.path}"
    return ""


def check_step(host: Host, step: GpuStep) -> StepCheck:
    """Whether `step` has something to do on the host now (see the module docstring).

    Raises:
        GpuStepError: the step names a path or target it may not touch.
    """
    bad = _valid(step)
    if bad:
        raise GpuStepError(f"refusing a GPU step: {bad}")
    paths = host.paths
    if step.kind in ("unbind-vtconsole", "bind-vtconsole"):
        current = _read(paths.under(step.path))
        if current == "":
            return StepCheck("skip", f"{step.target} is gone: fbcon unregisters with the last framebuffer, and"
                                     " takes the consoles over again by itself when a framebuffer comes back")
        name = _read(paths.under(step.path.rsplit("/", 1)[0] + "/name"))
        if "frame buffer" not in name:
            return StepCheck("skip", f"{step.target} is now {name or 'another console driver'}, not fbcon")
        want = "0" if step.kind == "unbind-vtconsole" else "1"
        return StepCheck("skip", f"{step.target} is already {'un' if want == '0' else ''}bound") \
            if current == want else StepCheck("do")
    if step.kind in ("unbind-framebuffer", "bind-framebuffer"):
        device = paths.sys / "bus" / "platform" / "devices" / step.value
        if not os.path.lexists(device):
            return StepCheck("skip", f"{step.value} no longer exists (vfio-pci removes a firmware framebuffer"
                                     " from the GPU it takes, Linux >= 6.0); the GPU's own driver gives the console")
        bound = os.path.islink(device / "driver")
        if step.kind == "unbind-framebuffer":
            return StepCheck("do") if bound else StepCheck("skip", f"{step.value} is not bound")
        return StepCheck("skip", f"{step.value} is already bound") if bound else StepCheck("do")
    if step.kind in ("unload-module", "load-module"):
        loaded = paths.module(step.target).is_dir()
        if step.kind == "unload-module":
            return StepCheck("do") if loaded else StepCheck("skip", f"{step.target} is not loaded")
        return StepCheck("skip", f"{step.target} is loaded") if loaded else StepCheck("do")
    state = host.services.state(step.target)
    if step.kind == "stop-service":
        return StepCheck("do") if state == "active" else StepCheck("skip", f"{step.target} is {state}")
    return StepCheck("skip", f"{step.target} is active") if state == "active" else StepCheck("do")


def run_step(host: Host, step: GpuStep, timeout: float = DEFAULT_WRITE_TIMEOUT) -> StepCheck:
    """Check `step`, then make it when there is something to do. Returns what happened.

    Raises:
        GpuStepError: the step failed (the kernel or systemd said no, or it timed out).
    """
    check = check_step(host, step)
    if check.outcome == "skip":
        return check
    try:
        if step.kind in ("stop-service", "start-service"):
            svc = host.services
            (svc.stop if step.kind == "stop-service" else svc.start)(step.target, max(timeout, 30.0))
        elif step.kind == "unload-module":
            host.kernel.unload_module(step.target)
        elif step.kind == "load-module":
            host.kernel.load_module(step.target)
        else:
            host.kernel.write(host.paths.under(step.path), step.value, timeout)
    except VfioError as exc:
        raise GpuStepError(f"{step.describe()} failed: {exc.detail}", fix=exc.fix) from None
    return check
