"""Provides NavList: an OptionList that stops at its ends and knows vim's keys."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.widgets import OptionList


class NavList(OptionList):
    """A short list (VMs, checks, runs): ↓ on the last row stays there instead of wrapping to the
    first, where a fast Enter would pick something else; j/k/g/G move as ↓/↑/Home/End."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First", show=False),
        Binding("G", "last", "Last", show=False),
    ]

    def _step(self, direction: int) -> None:
        options = self.options
        if not options:
            return
        if self.highlighted is None:
            self.action_first() if direction > 0 else self.action_last()
            return
        index = self.highlighted + direction
        while 0 <= index < len(options):
            if not options[index].disabled:
                self.highlighted = index
                return
            index += direction

    def action_cursor_down(self) -> None:
        self._step(1)

    def action_cursor_up(self) -> None:
        self._step(-1)
