"""The source inventory: every mapped message, instantiated as printed, is recognised as its mapping says."""

from __future__ import annotations

import pytest

from tests.explain.instantiate import instantiate
from vfio_tui.core.explain import explain_text, load_catalog
from vfio_tui.core.explain.scan import GATES
from vfio_tui.core.explain.sources import FAILURE, Mapping, load_inventory, mappings

MAPPINGS = mappings()
CAUSES = {e.id: e for e in load_catalog()}
#: Wrappers and non-standalone causes are shown with the command line of a VM that has a VFIO device.
VFIO_CONTEXT = "-device vfio-pci,host=0000:02:00.0,id=hostdev0\n"
VIRSH_START = "error: Failed to start domain 'vm1'\n"


def _ids(m: Mapping) -> str:
    return m.message.id


def test_inventory_has_each_source_and_provenance() -> None:
    inv = load_inventory()
    projects = {m.project for m in inv}
    assert {"linux", "libvirt", "qemu", "xen", "proxmox", "kubevirt", "virsh", "incus"} <= projects
    for m in inv:
        assert m.file and m.format and m.severity and m.versions, m


def test_failure_messages_are_mapped_to_specific_causes() -> None:
    failures = [m for m in MAPPINGS if m.message.severity in FAILURE]
    specific = [m for m in failures if m.kind == "cause" and not CAUSES[m.cause or ""].wrapper]
    unmapped = [m for m in failures if m.kind == "unmapped"]
    assert len(unmapped) / len(failures) < 0.02, [(m.message.id, m.message.format, m.reason) for m in unmapped]
    assert len(specific) / len(failures) >= 0.95


def test_every_rule_cause_exists() -> None:
    for m in MAPPINGS:
        if m.kind == "cause":
            assert m.cause in CAUSES, m


@pytest.mark.parametrize("mapping", [m for m in MAPPINGS if m.kind == "cause"], ids=_ids)
def test_a_mapped_message_as_printed_gives_its_cause(mapping: Mapping) -> None:
    line = instantiate(mapping.message)
    entry = CAUSES[mapping.cause or ""]
    req = mapping.requires
    if req and not any(r in line.lower() for r in req.split("|")):
        # e.g. an SELinux label error about a disk image: not a finding of this cause
        assert mapping.cause not in [f.cause_id for f in explain_text(line).findings]
        return
    if mapping.message.project == "libvirt" and not any(g.decode() in line.lower() for g in GATES):
        line = VIRSH_START + line  # the reason of a failed `virsh start` is the line after this one
    assert any(g.decode() in line.lower() for g in GATES), f"no prefilter gate in {line!r}"
    text = (VFIO_CONTEXT + line) if (entry.wrapper or not entry.standalone) else line
    if not entry.standalone:  # L14 is reported next to a specific cause only
        text += "\nvfio 0000:02:00.0: group 13 is not viable\n"
    ids = [f.cause_id for f in explain_text(text).findings]
    assert mapping.cause in ids, f"{mapping.message.id} {line!r} -> {ids}, mapped to {mapping.cause}"


@pytest.mark.parametrize("mapping", [m for m in MAPPINGS if m.kind == "benign"], ids=_ids)
def test_a_benign_message_is_never_a_finding(mapping: Mapping) -> None:
    for finding in explain_text(instantiate(mapping.message)).findings:
        assert mapping.message.id not in finding.messages


def test_each_searched_piece_stands_for_its_gate_whatever_surrounds_it() -> None:
    """Phase 1 searches a piece of at most 5 bytes of each gate (faster in CPython): a piece must occur
    wherever its gate does, so that no line with a gate is missed, and a line holding a piece of a
    gate but not the gate costs a candidate, not a finding."""
    from vfio_tui.core.explain.scan import SEARCHED

    assert set(SEARCHED) <= set(GATES)
    for gate, piece in SEARCHED.items():
        assert piece in gate and len(piece) <= 5, (gate, piece)
    near_miss = "Nov 25 10:00:00 host kernel: that domain is not in use, job failed, write enable\n" * 3
    assert explain_text(near_miss).findings == []
    # virsh's reason on the line after "Failed to start domain" (found through the piece "t dom")
    text = "error: Failed to start domain 'vm1'\nerror: internal error: Multiple USB devices for 046d:c52b\n"
    assert explain_text(text.upper().replace("'VM1'", "'vm1'")).candidate_lines >= 2
