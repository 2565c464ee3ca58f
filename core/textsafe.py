"""Provides printable(): text from a host, a snapshot or a log made safe to show on a terminal.

Such text is data someone else wrote (a received snapshot's label, a device's reset_method, a
kernel command line, a QEMU log line). Sent raw, an ESC or a C1 CSI (U+009B) in it is a terminal
command: clear the screen, set the window title, write an OSC 52 clipboard, ring the bell, move
the cursor to overwrite what vfio-tui printed. printable() replaces every C0 control but newline
and tab, DEL, every C1 control, and the bidirectional overrides that reorder what is shown with a
visible stand-in of the same length (one character for one character: ESC shows as "␛"), so the
escape sequence shows as text and styled spans over the text stay where they were.
"""

from __future__ import annotations

import re
from typing import Final

_UNSAFE: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SGR_OR_UNSAFE: Final = re.compile(
    "(\x1b\\[(?:0|1|2|22|3[0-7]|39|9[0-7])m)|[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
REPLACEMENT: Final = "\ufffd"


def _stand_in(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ESC → ␛, BEL → ␇, CR → ␍
    if code == 0x7F:
        return "\u2421"  # ␡
    return REPLACEMENT


def printable(text: str, *, newlines: bool = True) -> str:
    """`text` with every terminal control neutralised (same length; newline and tab kept unless
    `newlines` is False, then they show as ␊ and ␉ too, for one-line fields)."""
    if newlines:
        if not _UNSAFE.search(text):
            return text
        return _UNSAFE.sub(lambda m: _stand_in(m.group()), text)
    return printable(text).replace("\n", "\u240a").replace("\t", "\u2409")


def printable_keep_colors(text: str) -> str:
    """As printable(), but the plain colour and weight SGR sequences vfio-tui itself prints
    (ESC [ 0/1/2/3x/9x m) stay: what the CLI's output stream lets through."""
    if "\x1b" not in text and not _UNSAFE.search(text):
        return text
    return _SGR_OR_UNSAFE.sub(lambda m: m.group(1) or _stand_in(m.group()), text)


def is_printable(text: str) -> bool:
    """Whether `text` holds no terminal control (newline and tab allowed)."""
    return not _UNSAFE.search(text)
