"""Provides remote_pass() and remote_undo(): the passthrough transaction run by vfio-tui on a named
host, as core's own types — each `{"event":"step"}` line a StepEvent to `on_step` as it arrives, the
`{"event":"result"}` line a RunResult / UndoResult — so the app's run screen shows a remote run
exactly as a local one. The host plans again before it runs (it refuses what its own state refuses).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from vfio_tui.core.remote.hosts import HostEntry
from vfio_tui.core.remote.run import remote_events
from vfio_tui.core.remote.ssh import RemoteError
from vfio_tui.core.steps import OnStep, Phase, StepEvent, StepState

if TYPE_CHECKING:
    from vfio_tui.core.passthrough import RunResult, UndoResult


def step_from_json(obj: dict[str, Any]) -> StepEvent | None:
    """A `{"event":"step", ...}` object as a StepEvent (None when it is not one this version knows)."""
    states: dict[object, StepState] = {s: s for s in get_args(StepState)}
    phases: dict[object, Phase] = {p: p for p in get_args(Phase)}
    state, phase = states.get(obj.get("state")), phases.get(obj.get("phase", ""))
    if state is None or phase is None or not isinstance(obj.get("step"), str):
        return None
    seconds = obj.get("seconds")
    return StepEvent(str(obj["step"]), state, str(obj.get("detail") or ""),
                     float(seconds) if isinstance(seconds, int | float) else None, phase,
                     str(obj.get("address") or ""))


def _strs(value: object) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


_Obj = dict[str, Any]


def _run(entry: HostEntry, words: Sequence[str],
         on_step: OnStep | None) -> tuple[_Obj | None, _Obj | None, list[str], list[StepEvent], int]:
    result: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    events: list[StepEvent] = []
    texts: list[str] = []

    def on_event(obj: dict[str, Any]) -> None:
        nonlocal result, plan
        kind = obj.get("event")
        if kind == "step":
            ev = step_from_json(obj)
            if ev is not None:
                events.append(ev)
                if on_step is not None:
                    on_step(ev)
        elif kind == "result":
            result = obj
        elif kind == "plan" and isinstance(obj.get("plan"), dict):
            plan = obj["plan"]
        elif kind == "text":
            texts.append(str(obj.get("text")))

    res = remote_events(entry, words, on_event, on_stderr=texts.append)
    return result, plan, texts, events, res.returncode


def remote_pass(entry: HostEntry, address: str, vm: str, on_step: OnStep | None = None, *, mode: str = "config",
                start: bool = False, managed: bool = True,
                assume_unused: bool = False) -> tuple[RunResult, dict[str, Any] | None]:
    """`vfio-tui pass ADDRESS VM --yes --json` on the host: (RunResult, the explanation's JSON or None).

    Raises:
        RemoteError: unreachable, vfio-tui not there, or it ended without a result (what it said).
    """
    from vfio_tui.core.passthrough import RunResult

    words = ["pass", address, vm, f"--{mode}", "--yes", "--json"]
    if start:
        words.append("--start")
    if not managed:
        words += ["--managed", "no"]
    if assume_unused:
        words.append("--assume-unused")
    result, plan, texts, events, code = _run(entry, words, on_step)
    refusals = plan.get("refusals") if plan is not None else None
    if result is None and isinstance(refusals, list) and refusals and isinstance(refusals[0], dict):
        first = refusals[0]
        why = f"{first.get('address')}: {first.get('reason')}" if first.get("address") else str(first.get("reason"))
        return RunResult(None, False, (), "plan", f"refused on {entry.name}: {why}",
                         message="refused: nothing changed"), None
    if result is None:
        raise RemoteError(f"{entry.name}: vfio-tui ended (status {code}) without a result: "
                          + (texts[-1] if texts else "no output"), kind="remote")
    run = RunResult(result.get("run_id") if isinstance(result.get("run_id"), str) else None,
                    result.get("ok") is True, _strs(result.get("done")),
                    result.get("failed_phase") if isinstance(result.get("failed_phase"), str) else None,
                    str(result.get("error") or ""), None, result.get("cancelled") is True,
                    str(result.get("message") or ""), tuple(events))
    explanation = result.get("explanation")
    return run, explanation if isinstance(explanation, dict) else None


def remote_undo(entry: HostEntry, run_id: str | None, on_step: OnStep | None = None, *, live: bool = False,
                stop_vm: bool = False, force: bool = False) -> UndoResult:
    """`vfio-tui undo [RUN] --yes --json` on the host, as an UndoResult (a refusal: ok False, why).

    Raises:
        RemoteError: unreachable, vfio-tui not there, or it ended without a result.
    """
    from vfio_tui.core.passthrough import UndoResult

    words = ["undo", *([run_id] if run_id else []), "--yes", "--json"]
    words += ["--live"] if live else (["--stop-vm"] if stop_vm else [])
    if force:
        words.append("--force")
    result, _plan, texts, events, code = _run(entry, words, on_step)
    if result is None:
        raise RemoteError(f"{entry.name}: vfio-tui ended (status {code}) without a result: "
                          + (texts[-1] if texts else "no output"), kind="remote")
    if result.get("refused"):
        return UndoResult(str(result.get("run_id") or run_id or "?"), False, (), (),
                          f"{result['refused']} ({result.get('fix') or ''})".rstrip(" ()"), tuple(events))
    return UndoResult(str(result.get("run_id") or run_id or "?"), result.get("ok") is True,
                      _strs(result.get("done")), _strs(result.get("left")), str(result.get("error") or ""),
                      tuple(events))
