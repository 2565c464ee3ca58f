"""Case 3: what the real kernel refuses, vfio-tui predicts before writing anything.

- vfio-pci on a bridge: the kernel's probe fails with EINVAL (-22); vfio-tui refuses the
  plan and no write reaches the kernel (no probe line in the kernel log).
- A partially bound group: VFIO_GROUP_GET_STATUS says not viable; vfio-tui's verdict is not
  "ready" and its plan completes the group. Once every endpoint is on vfio-pci the kernel
  says viable and vfio-tui says ready.
"""

from __future__ import annotations

import errno

import kview
import pytest
from conftest import Cli, need_command, note
from kinds import BRIDGE_GROUP, MULTIFUNCTION, Case, bridge_to_refuse

Bindings = dict[str, tuple[str | None, bytes]]


def test_bridge_is_refused_before_any_write(vt: Cli, kernel_view: kview.KernelView,
                                            host_as_before: Bindings, vfio_loaded: None) -> None:
    bridge = bridge_to_refuse(kernel_view)
    if bridge is None:
        pytest.skip("topology has no bridge without a driver")
    need_command("bind")
    kmsg = kview.Kmsg()
    try:
        res = vt("bind", bridge.address, "--yes")
        text = (res.stdout + res.stderr).lower()
        assert res.returncode in (2, 3), f"bind of bridge {bridge.address} -> {res.returncode}: {text}"
        assert "bridge" in text, f"the refusal does not say why: {text}"
        assert "traceback" not in text
        assert kview.bindings() == host_as_before, "a refused plan changed the host"
        probes = [line for line in kmsg.new() if bridge.address in line]
        assert not probes, f"vfio-tui reached the kernel: {probes}"

        # ...and the kernel would indeed have refused it:
        base = kview.PCI_DEVICES / bridge.address
        assert kview.sysfs_write(base / "driver_override", "vfio-pci") == 0
        try:
            rc = kview.sysfs_write(kview.PCI_DRIVERS / "vfio-pci" / "bind", bridge.address)
        finally:
            kview.sysfs_write(base / "driver_override", "\n")
        assert rc == errno.EINVAL, f"the kernel answered {errno.errorcode.get(rc, rc)}, not EINVAL"
        lines = [line for line in kmsg.new() if bridge.address in line]
        assert any("error -22" in line for line in lines), lines
        note(f"bridge {bridge.address}: refused by vfio-tui (exit {res.returncode}) before writing;"
             f" the kernel's own answer: EINVAL, '{lines[-1]}'")
    finally:
        kmsg.close()


def _group_with_two_endpoints(cases: dict[str, Case | None]) -> Case:
    for kind in (MULTIFUNCTION, BRIDGE_GROUP):
        case = cases.get(kind)
        if case is not None and len(case.endpoints) >= 2:
            return case
    pytest.skip("topology has no group with two endpoints (multi-function group or group with a bridge)")


def _verdict(vt: Cli, group: int) -> str:
    inv = vt.json("inventory", "--json", "--group", str(group))
    return str(inv["groups"][0]["verdict"])


def test_partially_bound_group_is_not_viable(vt: Cli, cases: dict[str, Case | None],
                                             host_as_before: Bindings, vfio_loaded: None) -> None:
    """The tool's verdict follows the kernel's viability: half bound -> not ready; all bound -> ready.

    Linux >= 5.19 (kernel-semantics A1): only members bound to a driver other than vfio-pci,
    pci-stub or pcieport block the group; driverless members do not.
    """
    case = _group_with_two_endpoints(cases)
    bound, others = case.endpoints[-1], case.endpoints[:-1]
    blockers = [a for a in others if host_as_before[a][0] not in (None, "vfio-pci", "pci-stub", "pcieport")]
    try:
        kview.raw_bind(bound)
        assert kview.wait_for(lambda: str(case.group) in kview.dev_vfio_groups())
        viable = kview.group_viable(case.group)
        assert viable is (not blockers), f"kernel viability {viable} with {blockers or 'no'} host-driver members"
        verdict_half = _verdict(vt, case.group)
        if blockers:
            assert verdict_half != "ready", f"vfio-tui calls half-bound group {case.group} ready"
        for addr in case.endpoints:
            if kview.bindings()[addr][0] != "vfio-pci":
                kview.raw_bind(addr)
        assert kview.group_viable(case.group) is True
        assert _verdict(vt, case.group) == "ready"
        note(f"group {case.group}: {bound} on vfio-pci, {', '.join(blockers) or 'driverless partners'}"
             f" not -> kernel {'viable' if viable else 'not viable'}, vfio-tui '{verdict_half}';"
             " all on vfio-pci -> kernel viable, vfio-tui 'ready'")
    finally:
        _put_back(case, host_as_before)


def test_plan_completes_a_partially_bound_group(vt: Cli, cases: dict[str, Case | None],
                                                host_as_before: Bindings, vfio_loaded: None) -> None:
    """Bind of one function while another is already on vfio-pci plans the rest of the group."""
    case = _group_with_two_endpoints(cases)
    need_command("bind")
    first = case.endpoints[0]
    try:
        kview.raw_bind(case.endpoints[1])
        plan = vt.json("bind", first, "--dry-run", "--json")
        planned = {d["address"]: d["to_driver"] for d in plan["devices"]}
        now = kview.bindings()
        for addr in case.endpoints:
            assert planned.get(addr) == "vfio-pci" or now[addr][0] == "vfio-pci", \
                f"the plan for {first} leaves {addr} on {now[addr][0]}: the group would stay not viable"
    finally:
        _put_back(case, host_as_before)


def _put_back(case: Case, before: Bindings) -> None:
    for addr in case.endpoints:
        if kview.bindings()[addr] != before[addr]:
            kview.raw_restore(addr)
