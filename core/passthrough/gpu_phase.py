"""Provides the GPU part of a passthrough run and of its undo: the plan's release steps before the bind, each
recorded in the run record as it is done (run-N.json "gpu": {"plan", "done", "restored"}), and their undo
after the drivers are back — from the record, so a run cut short is undone as far as it got.

A step the host no longer needs (already true) is skipped and not recorded; a failed step stops the release
and what was done is put back at once, so a refused or failed run leaves the console and the display as
they were.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from vfio_tui.core.gpu.apply import GpuStepError, run_step
from vfio_tui.core.gpu.steps import GpuStep
from vfio_tui.core.passthrough.records import RunRecord
from vfio_tui.core.steps import StepEvent, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.gpu.plan import GpuPlan
    from vfio_tui.core.host import Host


def done_steps(record: RunRecord) -> list[GpuStep]:
    """The release steps a run made (from its record)."""
    out = []
    for data in (record.data.get("gpu") or {}).get("done", []):
        try:
            out.append(GpuStep.from_json(data))
        except ValueError:
            continue
    return out


def release(host: Host, gpu: GpuPlan, record: RunRecord, rep: StepReporter, timeout: float) -> str | None:
    """Make the plan's release steps; None when all went, else the error (after putting back what was done)."""
    record.data["gpu"] = {"plan": gpu.to_json(), "done": [], "restored": []}
    record.save()
    for step in gpu.release:
        name = step.describe()
        rep.emit(StepEvent(name, "started"))
        t0 = time.perf_counter()
        try:
            check = run_step(host, step, timeout)
        except GpuStepError as exc:
            rep.emit(StepEvent(name, "failed", str(exc), time.perf_counter() - t0))
            left = restore(host, record, rep, timeout)
            return str(exc) + (f"; and could not put back: {'; '.join(left)}" if left else "")
        if check.outcome == "skip":
            rep.emit(StepEvent(name, "info", f"skipped: {check.note}"))
            continue
        record.data["gpu"]["done"].append(step.to_json())
        record.save()
        rep.emit(StepEvent(name, "done", seconds=time.perf_counter() - t0))
    return None


def restore(host: Host, record: RunRecord, rep: StepReporter, timeout: float,
            made: list[str] | None = None) -> list[str]:
    """Undo the run's recorded release steps, last first. Returns what could not be put back ([] when all);
    `made` collects the steps that changed something (not the skipped ones)."""
    sub = StepReporter(rep.emit, phase="gpu-restore")
    gpu = record.data.get("gpu") or {}
    restored = gpu.setdefault("restored", [])
    failed: list[str] = []
    for step in reversed(done_steps(record)):
        undo = step.undo()
        if undo is None or undo.to_json() in restored:
            continue
        name = undo.describe()
        sub.emit(StepEvent(name, "started"))
        t0 = time.perf_counter()
        try:
            check = run_step(host, undo, timeout)
        except GpuStepError as exc:
            sub.emit(StepEvent(name, "failed", str(exc), time.perf_counter() - t0))
            failed.append(f"{name}: {exc.detail}")
            continue  # the rest still goes back: a console without its display manager beats neither
        restored.append(undo.to_json())
        record.save()
        if check.outcome == "skip":
            sub.emit(StepEvent(name, "info", f"skipped: {check.note}"))
        else:
            sub.emit(StepEvent(name, "done", seconds=time.perf_counter() - t0))
            if made is not None:
                made.append(name)
    return failed
