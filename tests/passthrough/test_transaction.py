"""The passthrough transaction on the real core and the demo host: plan → run → undo, and every guard
around a VM that holds the device."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.passthrough.state import domains_state, host_state
from vfio_tui.core.errors import PlanRefusedError
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.passthrough import list_runs, plan_passthrough, plan_undo, run_passthrough, undo_passthrough
from vfio_tui.core.steps import StepEvent

Session = Callable[[], tuple[Host, Hypervisor]]


def test_refusals_come_first_and_nothing_runs(session: Session) -> None:
    host, hv = session()
    before = host_state(host), domains_state(hv)
    # group 17 holds the VF the running router VM has; group 14's PF has VFs enabled.
    held = plan_passthrough(host, hv, "0000:07:10.2", "vfio_test", "config", True)
    assert not held.ok and "running VM 'router'" in held.refusals[0].reason
    pf = plan_passthrough(host, hv, "0000:07:00.0", "vfio_test")
    assert not pf.ok and [r.reason.split(":")[0] for r in pf.refusals] == ["used by the host", "PF with 2 SR-IOV VFs enabled; vfio-pci refuses it (EBUSY)"]
    with pytest.raises(PlanRefusedError) as info:
        run_passthrough(held)
    assert info.value.exit_code == 3
    assert (host_state(host), domains_state(hv)) == before
    assert list_runs(host) == []


def test_pass_start_undo_with_stop_vm_puts_host_and_domain_back(session: Session) -> None:
    host, hv = session()
    before_host, before_domains = host_state(host), domains_state(hv)
    plan = plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True)
    assert plan.ok and [s.split("  ")[0] for s in plan.members] == ["0000:0b:00.0"]
    events: list[StepEvent] = []
    result = run_passthrough(plan, events.append)
    assert result.ok and result.done == ("bind", "verify", "attach", "start"), result
    assert result.message == "vfio_test is running with 0000:0b:00.0"
    assert [e.phase for e in events if e.step == e.phase and e.state == "done"] == list(result.done)
    assert domains_state(hv)["vfio_test"] == ("running", ["0000:0b:00.0"])
    assert host_state(host)["0000:0b:00.0"] == ("vfio-pci", "vfio-pci")

    # A new session, as the next command would open it: the run is on record.
    host2, hv2 = session()
    undo = undo_passthrough(host2, hv2, None, stop_vm=True)
    assert undo.ok, undo
    assert undo.done == ("shut down vfio_test", "removed 0000:0b:00.0 from vfio_test's definition",
                         "drivers back: 0000:0b:00.0 on qla2xxx")
    assert undo.summary.startswith("Undone (run-1): shut down vfio_test; removed")
    after = domains_state(hv2)
    assert after["vfio_test"] == ("shut off", [])
    assert {k: v for k, v in after.items() if k != "vfio_test"} == \
        {k: v for k, v in before_domains.items() if k != "vfio_test"}
    assert host_state(host2) == before_host
    assert [r.status for r in list_runs(host2)] == ["undone"]


def test_undo_while_the_vm_runs_is_refused_naming_it_and_changes_nothing(session: Session) -> None:
    host, hv = session()
    assert run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True)).ok
    before = host_state(host), domains_state(hv)
    plan = plan_undo(host, hv, "run-1")
    assert not plan.ok and plan.vm_running
    assert plan.refusal == "vfio_test is running with 0000:0b:00.0"
    assert "stop vfio_test first, or undo with --live" in plan.fix and "--stop-vm" in plan.fix
    with pytest.raises(PlanRefusedError, match=r"vfio_test is running with 0000:0b:00\.0"):
        undo_passthrough(host, hv, "run-1")
    assert (host_state(host), domains_state(hv)) == before
    assert list_runs(host)[0].status == "done"


def test_restore_is_refused_while_the_vm_holds_the_device(session: Session) -> None:
    from vfio_tui.core.binding.restore import restore
    from vfio_tui.core.libvirt.for_host import domain_facts

    host, hv = session()
    assert run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True)).ok
    before = host_state(host)
    with pytest.raises(PlanRefusedError, match="running VM 'vfio_test' holds it"):
        restore(host, all=True, domains=domain_facts(hv))
    # Without libvirt's answer, the kernel's side still shows it: QEMU has /dev/vfio/19 open.
    with pytest.raises(PlanRefusedError, match=r"qemu-system-x86 \(pid \d+\) has /dev/vfio/19 open"):
        restore(host, ["0000:0b:00.0"])
    assert host_state(host) == before


def test_live_undo_where_the_hypervisor_cannot_unplug_fails_cleanly(session: Session) -> None:
    host, hv = session()
    assert run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True)).ok
    before = host_state(host), domains_state(hv)
    result = undo_passthrough(host, hv, None, live=True)
    assert not result.ok
    assert "cannot hot-unplug (libvirt's test driver)" in result.error
    assert result.left == ("0000:0b:00.0 in vfio_test", "0000:0b:00.0 on vfio-pci")
    assert not result.summary.startswith("Undone")
    assert (host_state(host), domains_state(hv)) == before
    assert list_runs(host)[0].status == "undo-failed"
    # and the way that works here, afterwards
    assert undo_passthrough(host, hv, None, stop_vm=True).ok


def test_a_failed_start_is_explained_and_undone(session: Session) -> None:
    from vfio_tui.core.explain import explain_failure

    host, hv = session()
    before_host, before_domains = host_state(host), domains_state(hv)
    result = run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "hba_test", "config", True))
    assert not result.ok and result.failed_phase == "start" and result.done == ("bind", "verify", "attach")
    assert result.failure is not None
    assert "qemu unexpectedly closed the monitor" in result.failure.error_message
    report = explain_failure(result.failure, host)
    assert report.findings[0].cause_id == "K02"  # RLIMIT_MEMLOCK: hba_test's hard_limit is below its RAM
    assert report.findings[0].values.get("bytes") == str(1 << 30)
    assert domains_state(hv)["hba_test"] == ("shut off", ["0000:0b:00.0"])
    undo = undo_passthrough(host, hv, result.run_id)
    assert undo.ok and undo.done == ("removed 0000:0b:00.0 from hba_test's definition",
                                     "drivers back: 0000:0b:00.0 on qla2xxx")
    assert host_state(host) == before_host and domains_state(hv) == before_domains


def test_a_failed_bind_rolls_itself_back_and_leaves_nothing_to_undo(session: Session) -> None:
    import errno

    from vfio_tui.core.simulated.kernel import SimulatedKernel

    host, hv = session()
    before = host_state(host), domains_state(hv)
    kernel = host.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(faults=[{"match": "drivers_probe", "errno": errno.EIO}])
    result = run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True))
    assert not result.ok and result.failed_phase == "bind" and result.done == ()
    assert "rolled back" in result.error and "nothing was changed" in result.message
    assert (host_state(host), domains_state(hv)) == before
    assert list_runs(host)[0].status == "rolled-back"
    with pytest.raises(Exception, match="nothing to undo"):
        undo_passthrough(host, hv, None)


def test_bind_only_run_and_its_undo(session: Session) -> None:
    host, hv = session()
    before = host_state(host)
    result = run_passthrough(plan_passthrough(host, hv, "0000:02:00.1", None))
    assert result.ok and result.done == ("bind", "verify") and result.message == "group 13 is on vfio-pci"
    assert host_state(host)["0000:02:00.0"][0] == "vfio-pci"
    assert undo_passthrough(host, hv, result.run_id).ok
    assert host_state(host) == before


def test_config_only_on_a_running_vm_reaches_it_at_its_next_start(session: Session) -> None:
    host, hv = session()
    plan = plan_passthrough(host, hv, "0000:0b:00.0", "router")
    assert plan.ok
    assert any("router is running: the device is added to its definition" in w for w in plan.warnings)
    result = run_passthrough(plan)
    assert result.ok and result.message == "0000:0b:00.0 is in router's definition (config)"
    # The running router never got it live: undo needs no stop.
    undo = undo_passthrough(host, hv, None)
    assert undo.ok and domains_state(hv)["router"] == ("running", ["0000:07:10.2"])


def test_undo_takes_out_the_controller_the_run_added(session: Session) -> None:
    """win10's root ports are all taken: the GPU and its audio function get a new pcie-root-port, and
    undo leaves the definition exactly as it was."""
    host, hv = session()
    before_xml = hv.xml("win10", inactive=True)
    plan = plan_passthrough(host, hv, "0000:0a:00.0", "win10")
    assert plan.ok and plan.attach is not None
    assert [(c.model, c.index) for c in plan.attach.new_controllers] == [("pcie-root-port", 4)]
    assert run_passthrough(plan).ok
    assert "model='pcie-root-port'" in hv.xml("win10", inactive=True).split("index='4'")[1][:40]
    undone = undo_passthrough(host, hv, None)
    assert undone.ok, undone
    assert hv.xml("win10", inactive=True) == before_xml


def test_open_run_for_names_the_run_that_holds_a_device(session: Session) -> None:
    """The app offers "undo the run that put it there" for a device a VM holds: open_run_for finds it
    by any device of the run's group, and not once the run is undone."""
    from vfio_tui.core.passthrough import open_run_for

    host, hv = session()
    assert open_run_for(host, "0000:0b:00.0") is None
    result = run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True))
    assert result.ok
    run = open_run_for(host, "0000:0b:00.0")
    assert run is not None and run.id == result.run_id and run.vm == "vfio_test"
    assert open_run_for(host, "0000:02:00.0") is None
    assert undo_passthrough(host, hv, run.id, stop_vm=True).ok
    assert open_run_for(host, "0000:0b:00.0") is None
