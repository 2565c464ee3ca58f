"""The catalog: every cause is data with a real message that proves its pattern."""

from __future__ import annotations

import pytest

from tests.explain.explain_messages import REAL_MESSAGES, REFERENCE_IDS
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.explain import explain_text, load_catalog
from vfio_tui.core.explain.catalog import parse_entry

CATALOG = load_catalog()
IDS = [e.id for e in CATALOG]


def test_catalog_covers_the_44_reference_causes() -> None:
    assert len(REFERENCE_IDS) == 44
    assert set(REFERENCE_IDS) <= set(IDS)


@pytest.mark.parametrize("cause_id", IDS)
def test_every_cause_has_a_real_message_that_it_matches(cause_id: str) -> None:
    samples = REAL_MESSAGES.get(cause_id)
    assert samples, f"catalog cause {cause_id} has no real message text in tests/explain/explain_messages.py"
    for text, source in samples:
        found = [f.cause_id for f in explain_text(text).findings]
        assert cause_id in found, f"{cause_id} did not match its real message from {source}: {text!r}"


@pytest.mark.parametrize("cause_id", IDS)
def test_a_specific_cause_ranks_first_on_its_own_message(cause_id: str) -> None:
    entry = next(e for e in CATALOG if e.id == cause_id)
    if entry.wrapper:
        pytest.skip("a wrapper ranks below what it wraps")
    text, _ = REAL_MESSAGES[cause_id][0]
    assert explain_text(text).findings[0].cause_id == cause_id


@pytest.mark.parametrize("entry", CATALOG, ids=IDS)
def test_every_cause_is_complete(entry: object) -> None:
    from vfio_tui.core.explain.model import CauseEntry

    assert isinstance(entry, CauseEntry)
    from vfio_tui.core.explain.sources import mappings

    assert entry.title and entry.explanation and entry.fix and entry.source
    # recognised by its own patterns, or by the source messages mapped to it (inventory/mapping.toml)
    assert (entry.keywords and entry.patterns) or any(m.cause == entry.id and m.kind == "cause" for m in mappings())


def test_wrappers_rank_below_the_cause_they_wrap() -> None:
    wrapped = ("qemu-system-x86_64: vfio 0000:02:00.0: failed to setup container for group 13: memory listener "
               "initialization failed: Region pc.ram: vfio_dma_map(0x1, 0x100000, 0xbff00000, 0x7f0) = -12 "
               "(Cannot allocate memory)")
    ids = [f.cause_id for f in explain_text(wrapped).findings]
    assert ids[0] == "E14" and ids[-1] == "E02"


def test_errno_picks_the_variant() -> None:
    busy = explain_text("vfio 0000:02:00.0: Could not open '/dev/vfio/13': Device or resource busy").findings[0]
    denied = explain_text("vfio 0000:02:00.0: failed to open /dev/vfio/13: Permission denied").findings[0]
    assert "already in use" in busy.title and "fuser -v /dev/vfio/13" in busy.fix
    assert "security label" in denied.title and "qemu:///system" in denied.fix


def test_a_bad_entry_is_reported_not_crashed() -> None:
    with pytest.raises(HostDataError, match="bad regex"):
        parse_entry({"id": "Z1", "title": "t", "keywords": ["x"], "patterns": ["("], "explanation": "e",
                     "fix": "f", "source": "s"}, "test.toml")
    with pytest.raises(HostDataError, match="lowercase"):
        parse_entry({"id": "Z1", "title": "t", "keywords": ["X"], "patterns": ["x"], "explanation": "e",
                     "fix": "f", "source": "s"}, "test.toml")
