"""Provides the messages that cross screens (widget messages live in their widgets)."""

from __future__ import annotations

from textual.message import Message


class HostChanged(Message):
    """Something changed drivers or VM definitions: screens showing the host should re-read it."""
