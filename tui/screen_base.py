"""Provides VfioScreen: the base of the app's full screens — typed access to the app, and the one
place a worker's error is shown (a worker that raises must never leave "Reading the host…" behind);
and ChangesHost, what a screen or modal that changes the host tells the app's quit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from vfio_tui.core.textsafe import printable

if TYPE_CHECKING:
    from vfio_tui.tui.app import VfioApp


class ChangesHost:
    """A screen or modal that changes the host while it works: `q` asks before quitting then."""

    def busy(self) -> str | None:
        """What it is doing to the host right now, in a few words (None: nothing)."""
        return None


class VfioScreen(Screen[None]):
    """A screen of VfioApp (knows its app's backend and host)."""

    @property
    def vfio_app(self) -> VfioApp:
        # Imported here: tui.app imports the screens.
        from vfio_tui.tui.app import VfioApp

        assert isinstance(self.app, VfioApp)
        return self.app

    def host_changed(self) -> None:
        """Something here changed the host: every screen redraws from one new read of it."""
        self.vfio_app.refresh_host()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        error = worker.error
        what = worker.description or worker.name or "a background task"
        text = f"{what} failed: {error}" if error is not None else f"{what} failed"
        # Error text can quote host data: shown as text (no markup, no terminal controls).
        self.notify(printable(text), severity="error", timeout=10, markup=False)
        self.show_worker_error(what, text)

    def show_worker_error(self, what: str, text: str) -> None:
        """Put a failed worker's error where its result would have gone (screens override it)."""
