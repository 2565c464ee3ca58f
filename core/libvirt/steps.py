"""Provides StepEvent and StepReporter: live progress of attach, detach and start.

The CLI prints each event as it arrives; the TUI posts them as messages from its worker
thread. A reporter times each step so the numbers users see are the real ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

StepState: TypeAlias = Literal["started", "done", "failed", "info"]


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One step of an operation changed state."""

    step: str
    """What the step does, e.g. "attach 0000:0b:00.0 to vfio_test (config)"."""
    state: StepState
    detail: str = ""
    seconds: float | None = None
    """Duration, on done/failed."""

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "state": self.state, "detail": self.detail, "seconds": self.seconds}


OnStep: TypeAlias = Callable[[StepEvent], None]


@dataclass
class StepReporter:
    """Sends StepEvents to a callback (or nowhere) and keeps them."""

    on_step: OnStep | None = None
    events: list[StepEvent] = field(default_factory=list)

    def emit(self, event: StepEvent) -> None:
        self.events.append(event)
        if self.on_step is not None:
            self.on_step(event)

    def info(self, step: str, detail: str = "") -> None:
        self.emit(StepEvent(step, "info", detail))

    @contextmanager
    def step(self, name: str, detail: str = "") -> Iterator[None]:
        """Emit started, then done or failed (with the exception's text) and the time taken."""
        self.emit(StepEvent(name, "started", detail))
        t0 = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            # a LibvirtError carries libvirt's own text: the step name already says what was done
            detail = str(getattr(exc, "message", "") or exc)
            self.emit(StepEvent(name, "failed", detail, time.perf_counter() - t0))
            raise
        self.emit(StepEvent(name, "done", detail, time.perf_counter() - t0))


def format_step(event: StepEvent) -> str:
    """One line for a terminal: "  ... attach 0000:0b:00.0 (config)", "  ok  ... 0.03 s"."""
    mark = {"started": "..", "done": "ok", "failed": "FAIL", "info": "--"}[event.state]
    secs = f" ({event.seconds:.2f} s)" if event.seconds is not None else ""
    detail = f": {event.detail}" if event.detail and event.state in ("failed", "info") else ""
    return f"[{mark:>4}] {event.step}{secs}{detail}"
