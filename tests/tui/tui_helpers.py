"""Helpers shared by the app tests."""

from __future__ import annotations

from textual.pilot import Pilot

from tui.app import VfioApp

SIZE = (100, 32)
"""The terminal size of every pilot and snapshot test."""


async def settle(pilot: Pilot[int], app: VfioApp) -> None:
    """Let workers finish and the screen repaint (replaces sleeps)."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
