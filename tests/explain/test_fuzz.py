"""hypothesis: no input makes explain raise or stall (text, binary garbage, huge lines, invalid UTF-8), and
nothing from the input that could drive a terminal comes out.

The sizes come from the "explain-fuzz" profile (tests/explain/conftest.py): 10,000 examples per test with
CI=true, a few hundred locally, each under a 2 s deadline.
"""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_tui.core.explain import explain_text
from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.core.explain.render import format_report

NEEDLES = [
    "group 13 is not viable", "failed to open /dev/vfio/vfio: ", "/dev/vfio/", "failed to setupcontainer for group",
    "qemu unexpectedly closed the monitor: ", "qemu-kvm: ", "RLIMIT_MEMLOCK (", "write error: ", "PCI device ",
    "Could not open '", "vfio_dma_map(", ") = -", "\u00a0", "\n", "\r\n", "guest=", " -m ", "host=",
    "\x1b[2J", "\x1b]52;c;aGk=\x07", "\x9b31m", "\x07", "\u202e", '{"MESSAGE":"', '"}', "\\n", "(vm='",
    "Nov 25 10:00:00 host192 kernel: ", "[   12.345678] ", "error: internal error: ",
]
FORBIDDEN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FUZZ = settings(settings.get_profile("explain-fuzz"))

texts = st.lists(st.one_of(st.text(max_size=200), st.sampled_from(NEEDLES)), max_size=40).map("".join)
garbage = st.lists(st.one_of(st.binary(max_size=300), st.sampled_from([n.encode() for n in NEEDLES]),
                             st.just(b"\xff\xfe\xc2"), st.just(b"\xc2\xa0")), max_size=40).map(b"".join)


def _ok(report: ExplainReport) -> None:
    assert isinstance(report, ExplainReport)
    format_report(report, color=True)
    text = format_report(report, color=False, verbose=True)
    assert not FORBIDDEN.search(text), repr(text)
    assert not FORBIDDEN.search(json.dumps(report.to_json(), ensure_ascii=False).replace("\\n", ""))


@FUZZ
@given(texts)
def test_any_text(text: str) -> None:
    _ok(explain_text(text))


@FUZZ
@given(garbage)
def test_any_bytes(data: bytes) -> None:
    _ok(explain_text(data))


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=80), st.sampled_from(NEEDLES)), max_size=30))
def test_any_line_list(lines: list[str]) -> None:
    _ok(explain_text(lines))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(NEEDLES), st.integers(min_value=100_000, max_value=300_000), st.booleans())
def test_huge_lines(needle: str, size: int, newline: bool) -> None:
    data = (b"A" * size + needle.encode() + b"\xff" * 10 + b"group 7 is not viable" + (b"\n" if newline else b""))
    _ok(explain_text(data))


def test_lone_surrogates_in_str() -> None:
    _ok(explain_text("vfio 0000:02:00.0: group 13 is not viable \udcff\ud800"))
