"""Provides the messages that cross screens (widget messages live in their widgets)."""

from __future__ import annotations

from textual.message import Message

from vfio_tui.tui.backend import HostView


class HostStateChanged(Message):
    """The host was read again (after a run, an undo, a restore, a fix or a reload): every screen
    that shows the host redraws from this one view, so none shows an older state than another."""

    def __init__(self, view: HostView | None, error: str = "") -> None:
        super().__init__()
        self.view = view
        """The host now (None when it could not be read: then `error` says why)."""
        self.error = error
