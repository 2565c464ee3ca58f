"""Provides VfioScreen: the base of the app's full screens, with typed access to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import VfioApp


class VfioScreen(Screen[None]):
    """A screen of VfioApp (knows its app's backend and host)."""

    @property
    def vfio_app(self) -> VfioApp:
        # Imported here: tui.app imports the screens.
        from tui.app import VfioApp

        assert isinstance(self.app, VfioApp)
        return self.app
