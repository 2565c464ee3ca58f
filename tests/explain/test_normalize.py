"""hypothesis: the normalizer never raises, is idempotent, and leaves nothing that can drive a terminal."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_tui.core.explain.normalize import normalize_line, safe_multiline, safe_text

FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
#: Pieces people's logs really contain, so that the examples reach every branch of the normalizer.
PIECES = [
    "\x1b[2J", "\x1b[1;31m", "\x1b]52;c;aGk=\x07", "\x1b]0;title\x1b\\", "\x1bP1$r\x1b\\", "\x9b31m", "\x07", "\x1b",
    "\x9b", "\r\n", "\t", "\u00a0", "\u200b", "\u2019", "\u201c", "\u2014", "\u2026", "\u202e", "\u2028",
    '{"MESSAGE":"', '{"msg":"', '","level":"error"}', '"}', "  MESSAGE=", "\\n", '\\"', "\\\\", "  ", "  ",
    "vfio 0000:02:00.0: group 13 is not viable", "qemu-system-x86_64: ", "[  12.345678] ", "Nov 25 10:00:00 h k: ",
]
lines = st.lists(st.one_of(st.text(max_size=60), st.sampled_from(PIECES)), max_size=30).map("".join)


@settings(settings.get_profile("explain-normalize"))
@given(lines)
def test_normalize_is_idempotent_and_inert(line: str) -> None:
    once = normalize_line(line)
    assert normalize_line(once) == once
    assert not FORBIDDEN.search(once), repr(once)


@settings(settings.get_profile("explain-normalize"))
@given(lines)
def test_safe_text_is_idempotent_and_inert(text: str) -> None:
    once = safe_text(text)
    assert safe_text(once) == once
    assert not FORBIDDEN.search(once), repr(once)
    many = safe_multiline(text + "\n" + text)
    assert safe_multiline(many) == many
    assert not FORBIDDEN.search(many.replace("\n", "")), repr(many)


def test_the_escapes_people_paste_are_removed_not_just_their_escape_byte() -> None:
    assert normalize_line("a\x1b[2Jb\x1b]52;c;aGk=\x07c\x9b31md\x07e") == "abcd e"
    assert normalize_line("vfio 0000:02:00.0: group 13 is\u00a0not\u2009viable\r\n") == \
        "vfio 0000:02:00.0: group 13 is not viable"
    assert normalize_line('{"MESSAGE":"vfio: group 8 is not viable","PRIORITY":"3"}') == "vfio: group 8 is not viable"
