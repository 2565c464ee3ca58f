"""Real logs: lines as real systems printed them (tests/fixtures/explain/real_logs.toml, each with its
provenance) give their cause first; the clean logs of the same sources give no finding at all."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from core.explain import explain_text, load_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "explain" / "real_logs.toml"
DATA = tomllib.loads(FIXTURES.read_text(encoding="utf-8"))
SAMPLES: list[dict[str, Any]] = DATA["sample"]
CLEAN: list[dict[str, Any]] = DATA["clean"]
CAUSES = {e.id: e for e in load_catalog()}

#: Causes without a real printed line yet, and why. A cause must be covered by a sample or listed here;
#: listing a cause that has a sample fails too, so this list only shrinks.
_MISSING = """
K01 K03 K06 K07 K08 K11 K13 K14 K15 K19 K20 K21 K22 K23 K24 K25 K26 K27 K28 K29 K30 K31 P01 P02
L06 L07 L08 L09 L10 L11 L13 L15 L16 L17 L18 L19 L20 L21 L22 L23 L24 L25 L26 L27 L28
E06 E08 E09 E12 E16 E18 E20 E21 E22 E23 E24 E25 E26 E27 E28 XN2 XN3 W01
SR1 SR2 SR3 SR4 SR5 SR6
"""
NOT_YET_SEEN: dict[str, str] = {
    cid: "no published log line found yet (issue threads searched: see docs/explain.md)" for cid in _MISSING.split()
}


def _id(sample: dict[str, Any]) -> str:
    src = str(sample["source"])
    return f"{sample['cause']}-{src.rsplit('/', 1)[-1] if src.startswith('http') else src.split(' ')[0].rsplit('/', 1)[-1]}"


def test_every_sample_names_a_cause_and_where_it_was_printed() -> None:
    for sample in SAMPLES:
        assert sample["cause"] in CAUSES, sample
        assert str(sample["source"]).startswith(("https://github.com/", "shared/")), sample
        assert sample["text"].strip()


def test_every_cause_has_a_real_line_or_says_why_not() -> None:
    covered = {s["cause"] for s in SAMPLES}
    assert set(CAUSES) - covered - set(NOT_YET_SEEN) == set(), "add a real line or list the cause"
    assert covered & set(NOT_YET_SEEN) == set(), "covered now: remove it from NOT_YET_SEEN"


@pytest.mark.parametrize("sample", SAMPLES, ids=[_id(s) for s in SAMPLES])
def test_a_real_line_gives_its_cause_first(sample: dict[str, Any]) -> None:
    report = explain_text(sample["text"])
    ids = [f.cause_id for f in report.findings]
    assert ids, f"no finding for a real {sample['cause']} line from {sample['source']}"
    assert ids[0] == sample.get("first", sample["cause"]), (ids, sample["source"])
    assert sample["cause"] in ids
    root = report.findings[0]
    flat = " ".join(sample["text"].split())
    assert root.matched and " ".join(root.matched[0].split()) in flat  # the evidence is the real text


@pytest.mark.parametrize("clean", CLEAN, ids=[f"clean-{i}" for i in range(len(CLEAN))])
def test_a_clean_real_log_gives_no_finding(clean: dict[str, Any]) -> None:
    report = explain_text(clean["text"])
    assert report.findings == [], ([f.cause_id for f in report.findings], clean["source"])
