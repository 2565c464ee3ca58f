"""Provides SafeText: rich's Text with every terminal control in its text neutralised.

Rich passes ESC and C1 controls through to the terminal as they are (it strips only a few C0
ones), and most of what the app shows came from a host, a recording or a log. Every screen builds
its text with this class (imported as `Text`), so a label such as "\\x1b]0;pwned\\x07" shows as
"␛]0;pwned␇" instead of retitling the terminal. The stand-ins are one character for one, so
styled spans stay where they were (core.textsafe).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from vfio_tui.core.textsafe import printable


class SafeText(Text):
    """Text whose content can hold no terminal control (newline and tab kept)."""

    def __init__(self, text: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(printable(text), *args, **kwargs)

    def append(self, text: str | Text, style: Any = None) -> SafeText:
        if isinstance(text, str):
            text = printable(text)
        elif not isinstance(text, SafeText) and not is_clean(text.plain):
            clean = SafeText(text.plain, style=text.style, end=text.end)
            clean._spans = list(text._spans)  # same length: the spans still fit
            text = clean
        super().append(text, style)
        return self

    def join(self, lines: Iterable[Text]) -> SafeText:
        out = SafeText()
        out.append(super().join(lines))
        return out


def is_clean(text: str) -> bool:
    return printable(text) == text
