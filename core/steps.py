"""Provides StepEvent, StepReporter and format_step: the live progress of everything core does to a
host or a VM (sysfs writes, module loads, libvirt calls, waits), one type for all of them.

The CLI prints each event as it arrives (or one JSON object per line); the app posts them from
its worker thread. A reporter times each step, so the numbers users see are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

StepState: TypeAlias = Literal["started", "done", "failed", "info"]
Phase: TypeAlias = Literal["", "gpu", "bind", "verify", "attach", "start", "detach", "stop", "restore", "persist",
                           "gpu-restore", "sriov"]


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One step changed state."""

    step: str
    """What the step does, in words: "/sys/bus/pci/devices/0000:0b:00.0/driver_override <- vfio-pci",
    "attach 0000:0b:00.0 to vfio_test (config)", "start vfio_test"."""
    state: StepState
    detail: str = ""
    """The error on "failed", the note on "info"."""
    seconds: float | None = None
    """Duration, on done/failed."""
    phase: Phase = ""
    """The part of a passthrough run the step belongs to ("" outside one)."""
    address: str = ""
    """The PCI device the step is about, when there is one."""

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "state": self.state, "detail": self.detail, "seconds": self.seconds,
                "phase": self.phase, "address": self.address}


OnStep: TypeAlias = Callable[[StepEvent], None]


@dataclass
class StepReporter:
    """Sends StepEvents to a callback (or nowhere), stamped with a phase, and keeps them."""

    on_step: OnStep | None = None
    phase: Phase = ""
    events: list[StepEvent] = field(default_factory=list)

    def emit(self, event: StepEvent) -> None:
        if self.phase and not event.phase:
            event = replace(event, phase=self.phase)
        self.events.append(event)
        if self.on_step is not None:
            self.on_step(event)

    def info(self, step: str, detail: str = "") -> None:
        self.emit(StepEvent(step, "info", detail))

    @contextmanager
    def step(self, name: str, detail: str = "", *, address: str = "") -> Iterator[None]:
        """Emit started, then done or failed (with the exception's text) and the time taken."""
        self.emit(StepEvent(name, "started", detail, address=address))
        t0 = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            # a LibvirtError carries libvirt's own text: the step name already says what was done
            text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
            self.emit(StepEvent(name, "failed", text, time.perf_counter() - t0, address=address))
            raise
        self.emit(StepEvent(name, "done", detail, time.perf_counter() - t0, address=address))


def format_step(event: StepEvent) -> str:
    """One line for a terminal: "[  ..] attach 0000:0b:00.0 to vfio_test (config)", "[  ok] ... (0.03 s)"."""
    mark = {"started": "..", "done": "ok", "failed": "FAIL", "info": "--"}[event.state]
    secs = f" ({event.seconds:.2f} s)" if event.seconds is not None else ""
    detail = f": {event.detail}" if event.detail and event.state in ("failed", "info") else ""
    return f"[{mark:>4}] {event.step}{secs}{detail}"
