"""hypothesis: no input makes explain raise (text, binary garbage, huge lines, invalid UTF-8)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.explain import explain_text
from core.explain.model import ExplainReport
from core.explain.render import format_report

NEEDLES = [
    "group 13 is not viable", "failed to open /dev/vfio/vfio: ", "/dev/vfio/", "failed to setupcontainer for group",
    "qemu unexpectedly closed the monitor: ", "qemu-kvm: ", "RLIMIT_MEMLOCK (", "write error: ", "PCI device ",
    "Could not open '", "vfio_dma_map(", ") = -", "\u00a0", "\n", "\r\n", "guest=", " -m ", "host=",
]

texts = st.lists(st.one_of(st.text(max_size=200), st.sampled_from(NEEDLES)), max_size=40).map("".join)
garbage = st.lists(st.one_of(st.binary(max_size=300), st.sampled_from([n.encode() for n in NEEDLES]),
                             st.just(b"\xff\xfe\xc2"), st.just(b"\xc2\xa0")), max_size=40).map(b"".join)


def _ok(report: ExplainReport) -> None:
    assert isinstance(report, ExplainReport)
    format_report(report, color=True)
    report.to_json()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_any_text(text: str) -> None:
    _ok(explain_text(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage)
def test_any_bytes(data: bytes) -> None:
    _ok(explain_text(data))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=80), max_size=30))
def test_any_line_list(lines: list[str]) -> None:
    _ok(explain_text(lines))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(NEEDLES), st.integers(min_value=100_000, max_value=300_000), st.booleans())
def test_huge_lines(needle: str, size: int, newline: bool) -> None:
    data = (b"A" * size + needle.encode() + b"\xff" * 10 + b"group 7 is not viable" + (b"\n" if newline else b""))
    _ok(explain_text(data))


def test_lone_surrogates_in_str() -> None:
    _ok(explain_text("vfio 0000:02:00.0: group 13 is not viable \udcff\ud800"))
