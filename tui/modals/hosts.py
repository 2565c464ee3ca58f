"""Provides HostSwitchModal: pick the host the app works on — the one it was opened on, or a named host
(`vfio-tui hosts add`); dismisses with the choice (None: stay)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vfio_tui.tui.safe_text import SafeText as Text

HOME = "\0home"
"""The choice that means "the host the app was opened on"."""


class HostSwitchModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    HostSwitchModal { align: center middle; }
    HostSwitchModal #dialog { width: 80; max-width: 100%; height: auto; max-height: 90%;
        border: thick $primary; background: $panel; padding: 0 1; }
    HostSwitchModal #title { text-style: bold; }
    HostSwitchModal OptionList { height: auto; max-height: 20; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Back")]

    def __init__(self, home_label: str, current: str | None, hosts: list[tuple[str, str]]) -> None:
        super().__init__()
        self._home = home_label
        self._current = current
        """The named host the app is on now (None: the one it was opened on)."""
        self._hosts = hosts
        """(name, ssh destination) of every named host."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(Text("Work on which host?"), id="title")
            options = [Option(Text(f"{'●' if self._current is None else ' '} {self._home}"), id=HOME)]
            options += [Option(Text(f"{'●' if self._current == n else ' '} {n}  ({dest})"), id=n)
                        for n, dest in self._hosts]
            yield OptionList(*options)
            if not self._hosts:
                yield Static(Text("No named hosts: `vfio-tui hosts add NAME [user@]host[:port]` adds one."))
            yield Static(Text("Reads use the host's recording (over ssh); changes run by vfio-tui there."),
                         classes="dim")

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
