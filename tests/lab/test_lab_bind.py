"""Case 2: bind -> verify -> restore on the real kernel, one group of each kind.

The kernel is the judge: after `vfio-tui bind` every non-bridge member is on vfio-pci, the
bridges and ports are untouched, /dev/vfio/N exists, opens, and VFIO_GROUP_GET_STATUS says
viable; after `vfio-tui restore` every device's driver and raw driver_override bytes are
what they were before.
"""

from __future__ import annotations

from typing import Any

import kview
import pytest
from conftest import Cli, first_json, need, need_command, note
from kinds import BIND_KINDS

Bindings = dict[str, tuple[str | None, bytes]]


def check_plan(plan: dict[str, Any], case: object, before: Bindings) -> None:
    """The plan covers the whole group: every endpoint to vfio-pci, no bridge touched."""
    from kinds import Case

    assert isinstance(case, Case)
    assert plan["group"] == case.group
    assert plan.get("refused") in ([], None), plan.get("refused")
    planned = {d["address"]: d for d in plan["devices"]}
    for addr in case.endpoints:
        assert addr in planned, f"plan leaves {addr} of group {case.group} out: the group would not be viable"
        assert planned[addr]["to_driver"] == "vfio-pci"
        assert planned[addr]["from_driver"] == before[addr][0]
    for addr in case.bridges:
        assert planned.get(addr, {}).get("to_driver") in (None, before[addr][0]), \
            f"plan moves bridge {addr}: vfio-pci refuses bridges (EINVAL)"
    written = {w["path"] for w in plan["writes"]}
    assert not any(b in p for b in case.bridges for p in written), f"plan writes to a bridge: {written}"


@pytest.mark.parametrize("kind", BIND_KINDS)
def test_bind_verify_restore(kind: str, cases: dict[str, Any], vt: Cli, host_as_before: Bindings) -> None:
    case = need(cases, kind)
    need_command("bind", "restore")
    before = host_as_before
    vfio_before = kview.dev_vfio_groups()

    res = vt("bind", case.target, "--yes", "--json")
    assert res.returncode == 0, res.stderr + res.stdout
    doc = first_json(res.stdout)
    check_plan(doc, case, before)
    assert doc.get("applied", {}).get("verified") is True, doc.get("applied")
    kv = kview.read_kernel_view()
    for addr in case.endpoints:
        assert kv.devices[addr].driver == "vfio-pci", f"{addr} is on {kv.devices[addr].driver}"
    for addr in case.bridges:
        assert kv.devices[addr].driver == before[addr][0], f"bridge {addr} moved to {kv.devices[addr].driver}"
    assert str(case.group) in kview.dev_vfio_groups(), f"/dev/vfio/{case.group} did not appear"
    assert kview.group_viable(case.group) is True, f"/dev/vfio/{case.group} does not open as viable"

    res = vt("restore", case.target)
    assert res.returncode == 0, res.stderr + res.stdout
    after = kview.bindings()
    left = {a: (before[a], after[a]) for a in after if after[a] != before[a]}
    assert not left, (f"`vfio-tui restore {case.target}` (the undo `bind` names) left part of group {case.group}"
                      f" changed: {left}" if set(left) <= set(case.members) else left)
    assert kview.wait_for(lambda: kview.dev_vfio_groups() <= vfio_before, timeout=5), \
        f"/dev/vfio still lists {kview.dev_vfio_groups() - vfio_before}"
    applied = doc.get("applied", {}).get("seconds")
    note(f"{kind}: {case.describe()}: bound (engine {applied} s), viable, restored byte-for-byte")
