"""Provides KeyFooter: Textual's footer, tightened on narrow terminals so every key stays visible."""

from __future__ import annotations

from textual import events
from textual.widgets import Footer

COMPACT_BELOW = 120
"""Below this width the keys lose their padding."""
PALETTE_FROM = 120
"""Below this width the ^p entry gives its room to the screen's keys (^p still works; help lists it)."""


class KeyFooter(Footer):
    """At 80 columns Textual's footer cut the last keys ("? He▏") and hid c x u q."""

    def on_resize(self, event: events.Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        palette = event.size.width >= PALETTE_FROM
        if (compact, palette) != (self.compact, self.show_command_palette):
            self.compact = compact
            self.show_command_palette = palette
            self.call_after_refresh(self.recompose)
