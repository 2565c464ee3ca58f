"""Provides StepList: the live list of run steps with a spinner, per-step time and status."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from textual.widgets import Static

from vfio_tui.tui.safe_text import SafeText as Text

SPINNER: Final = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
"""Braille spinner frames (present in DejaVu Sans Mono)."""


@dataclass
class _Step:
    name: str
    title: str
    status: str = "waiting"
    started: float = 0.0
    elapsed: float = 0.0
    detail: str = ""


class StepList(Static):
    """One row per step: waiting · running (spinner, seconds so far) · done (time) · failed."""

    DEFAULT_CSS = """
    StepList { height: auto; padding: 0 1; }
    """

    def __init__(self, steps: list[tuple[str, str]], *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._steps = [_Step(name, title) for name, title in steps]
        self._frame = 0

    def on_mount(self) -> None:
        self.set_interval(0.1, self._tick)
        self._render_steps()

    def _tick(self) -> None:
        if any(s.status == "running" for s in self._steps):
            self._frame += 1
            self._render_steps()

    def _find(self, name: str) -> _Step | None:
        return next((s for s in self._steps if s.name == name), None)

    def mark(self, name: str, status: str, elapsed: float = 0.0, detail: str = "") -> None:
        step = self._find(name)
        if step is None:
            return
        if status == "started":
            step.status, step.started = "running", time.monotonic()
        else:
            step.status, step.elapsed, step.detail = status, elapsed, detail
        self._render_steps()

    def skip_rest(self) -> None:
        for step in self._steps:
            if step.status in ("waiting", "running"):
                step.status = "skipped"
        self._render_steps()

    def status_of(self, name: str) -> str:
        step = self._find(name)
        return step.status if step else "unknown"

    def _render_steps(self) -> None:
        text = Text()
        for step in self._steps:
            if step.status == "running":
                mark, style = SPINNER[self._frame % len(SPINNER)], "bold yellow"
                took = f"{time.monotonic() - step.started:5.1f}s"
            elif step.status == "done":
                mark, style, took = "✓", "bold green", f"{step.elapsed:5.2f}s"
            elif step.status == "failed":
                mark, style, took = "✗", "bold red", f"{step.elapsed:5.2f}s"
            elif step.status == "skipped":
                mark, style, took = "–", "dim", ""
            else:
                mark, style, took = "·", "dim", ""
            text.append(f" {mark} ", style=style)
            text.append(f"{step.title:<34}", style=style if step.status != "waiting" else "dim")
            text.append(f"{took:>8}\n", style="dim")
            if step.detail and step.status == "failed":
                text.append(f"     {step.detail}\n", style="red")
        text.rstrip()
        self.update(text)
