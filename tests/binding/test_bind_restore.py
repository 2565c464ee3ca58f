"""plan -> apply -> verify -> restore on the simulated kernel: the seed's cases and every lab group."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.binding.bind_helpers import host_state, journal_files, lab_snapshot, lab_snapshot_names
from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import BindPlan, StepEvent, apply_plan, pending_recovery, plan_bind, restore, undo_plan
from vfio_tui.core.binding.state import verify_group
from vfio_tui.core.errors import InputError
from vfio_tui.core.host import Host


def drivers(host: Host, group: int) -> dict[str, str | None]:
    return {str(d.address): d.driver for d in host.inventory().members(group)}


def round_trip(host: Host, plan: BindPlan) -> None:
    before = host_state(host.paths)
    events: list[StepEvent] = []
    result = apply_plan(host, plan, on_step=events.append, timeout=2)
    assert [e.state for e in events] == ["started", "done"] * len(plan.steps)
    assert verify_group(host.paths, plan.group, plan.endpoints, plan.kernel) == []
    assert all(drv == "vfio-pci" for a, drv in drivers(host, plan.group).items() if a in plan.endpoints)
    assert (host.paths.dev_vfio / str(plan.group)).exists()
    assert result.journal is not None and journal_files(host.paths)
    assert host.inventory().verdicts[plan.group].kind == "ready"
    restored = restore(host, [plan.target], timeout=2)
    assert restored.ok
    # restoring the address `bind` was given puts back the whole group that run bound
    assert {a for a, _ in restored.restored} == {d.address for d in plan.devices}
    assert host_state(host.paths) == before
    assert journal_files(host.paths) == []


def test_seed_case_1_hba_alone_in_group_19(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    plan = plan_bind(demo, "0000:0b:00.0")
    assert plan.group == 19 and plan.ok
    assert [(s.path, s.value) for s in plan.writes] == [
        ("/sys/bus/pci/devices/0000:0b:00.0/driver_override", "vfio-pci"),
        ("/sys/bus/pci/devices/0000:0b:00.0/driver/unbind", "0000:0b:00.0"),
        ("/sys/bus/pci/drivers_probe", "0000:0b:00.0"),
    ]
    round_trip(demo, plan)


def test_seed_case_2_multifunction_nic_binds_both_functions_overrides_first(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    plan = plan_bind(demo, "02:00.1")
    assert plan.group == 13 and plan.endpoints == ("0000:02:00.0", "0000:02:00.1")
    kinds = [s.kind for s in plan.steps]
    # every override before any unbind, every unbind before any probe: no function can be re-grabbed
    assert kinds == ["override", "override", "unbind", "unbind", "probe", "probe"]
    round_trip(demo, plan)


def test_seed_case_3_group_8_root_ports_stay_and_host_devices_are_forced(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    plan = plan_bind(demo, "04:00.0", force_host_devices=["0000:03:00.0", "0000:05:00.1"])
    assert plan.ok and set(plan.forced) == {"0000:03:00.0", "0000:05:00.1"}
    assert set(plan.bridges) == {"0000:00:1c.0", "0000:00:1c.2", "0000:00:1c.4"}
    assert all(s.address not in plan.bridges for s in plan.steps)
    assert len(plan.warnings) == 2
    round_trip(demo, plan)
    assert drivers(demo, 8)["0000:00:1c.0"] == "pcieport"


@pytest.mark.parametrize("name", lab_snapshot_names())
def test_every_group_of_every_lab_snapshot(make_host: Callable[..., Host], name: str) -> None:
    host = make_host(lab_snapshot(name))
    inv = host.inventory()
    if not inv.iommu_enabled:
        for dev in inv:
            with pytest.raises(InputError, match="IOMMU is off"):
                plan_bind(host, dev.address)
        return
    tried = 0
    for gid in inv.groups:
        members = inv.members(gid)
        endpoints = [d for d in members if not d.is_bridge]
        if not endpoints:
            with pytest.raises(InputError, match="bridge"):
                plan_bind(host, members[0].address)
            continue
        # A lab recording has no host-usage facts: unknown is refused, not taken for "unused".
        unknown = plan_bind(host, endpoints[-1].address)
        assert not unknown.ok and "host use not recorded" in unknown.refused[-1].reason
        plan = plan_bind(host, endpoints[-1].address, assume_unused=True)
        if any(d.is_chipset for d in endpoints):
            assert not plan.ok and "chipset" in plan.refused[0].reason
            continue
        assert "--assume-unused" in plan.warnings[-1]
        assert plan.ok, plan.refused
        if plan.nothing_to_do:  # already on vfio-pci (q35-viommu-bound group 11)
            assert all(d.from_driver == "vfio-pci" for d in plan.devices if not d.is_bridge)
            continue
        round_trip(host, plan)
        tried += 1
    assert tried >= 9


def test_undo_plan_puts_the_group_back(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    before = host_state(demo.paths)
    plan = plan_bind(demo, "02:00.0")
    apply_plan(demo, plan)
    assert undo_plan(demo, plan) == {}
    assert host_state(demo.paths) == before


def test_pending_recovery_is_empty_after_clean_runs(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    apply_plan(demo, plan_bind(demo, "0b:00.0"))
    assert pending_recovery(demo) == []


def test_restore_of_a_device_vfio_tui_never_bound_reattaches_like_libvirt(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    # 07:10.2 was on vfio-pci (override set) before vfio-tui ever ran: nodedev-reattach semantics.
    result = restore(demo, ["0000:07:10.2"])
    assert result.ok
    dev = demo.inventory().devices[PciAddress.parse("0000:07:10.2")]
    assert (dev.driver, dev.driver_override) == ("ixgbevf", None)
    with pytest.raises(InputError, match="no record"):
        restore(demo, ["0000:0b:00.0"])


def test_verify_reads_no_config_space_of_functions_on_vfio_pci(make_host: Callable[..., Host],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading config space wakes a function vfio-pci runtime-suspended (10 ms on the lab's kernel)."""
    import vfio_tui.core.binding.state as state

    host = make_host()
    plan = plan_bind(host, "0b:00.0")
    apply_plan(host, plan, timeout=2)

    def no_read(*_: object) -> bool:
        raise AssertionError("config space read")

    monkeypatch.setattr(state, "is_bridge_at", no_read)
    assert verify_group(host.paths, plan.group, plan.endpoints, plan.kernel) == []


@pytest.mark.parametrize("release", ["5.10.0", "6.1.0"])
def test_a_bridge_on_its_port_driver_keeps_a_group_viable_and_an_endpoint_on_a_host_driver_does_not(
        make_host: Callable[..., Host], release: str) -> None:
    host = make_host()
    inv = host.inventory()
    port = next(d for d in inv if d.is_bridge and d.driver == "pcieport" and d.iommu_group is not None)
    assert port.iommu_group is not None
    def viability(group: int) -> list[str]:
        return [p for p in verify_group(host.paths, group, (), release) if "not viable" in p]

    assert viability(port.iommu_group) == []  # before 5.19 by being a bridge, since by its driver
    nic = inv.device(PciAddress.parse("0b:00.0"))
    assert nic is not None and nic.iommu_group is not None and nic.driver not in (None, "vfio-pci")
    assert viability(nic.iommu_group) == [
        f"group {nic.iommu_group} is not viable: {nic.address} is bound to {nic.driver}"]
