"""The whole flow against the real libvirt library, through its test driver (no daemon, no root)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import pytest

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt import (
    ConnectError,
    FailureRecord,
    Hypervisor,
    PlanRefusedError,
    UnknownDomainError,
    apply_attach,
    collect_failure,
    detach,
    open_hypervisor,
    plan_attach,
    start_domain,
    watch_domain,
)
from vfio_tui.core.libvirt.xml import DomainXml

A = PciAddress.parse
GOLDEN_DIFF = "tests/libvirt/golden/diff-vfio_test-0b00.diff"


@pytest.fixture
def hv() -> Iterator[Hypervisor]:
    with open_hypervisor(None, demo=True) as conn:
        yield conn


def config_hostdevs(hv: Hypervisor, vm: str) -> list[str]:
    return [str(h.address) for h in DomainXml(hv.xml(vm, inactive=True)).hostdevs()]


def test_demo_lists_the_seed_vm_and_the_vm_holding_the_vf(hv: Hypervisor) -> None:
    vms = {d.name: d for d in hv.list_domains()}
    assert set(vms) == {"vfio_test", "router", "win10", "hba_test", "nic_test"}
    assert vms["vfio_test"].state == "shut off" and vms["vfio_test"].hostdevs == []
    assert vms["nic_test"].state == "shut off" and vms["nic_test"].hostdevs == [A("0000:02:00.0")]
    assert vms["router"].state == "running" and vms["router"].hostdevs == [A("0000:07:10.2")]


def test_attach_config_shows_the_diff_then_defines_it(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test")
    assert plan.ok and plan.addresses == [A("0000:0b:00.0")]
    with open(GOLDEN_DIFF) as f:
        assert plan.diff == f.read()
    assert config_hostdevs(hv, "vfio_test") == []  # planning changes nothing
    steps: list[str] = []
    result = apply_attach(hv, plan, on_step=lambda e: steps.append(f"{e.state} {e.step}"))
    assert result.method == "defineXML"  # the test driver has no attachDeviceFlags
    assert config_hostdevs(hv, "vfio_test") == ["0000:0b:00.0"]
    assert steps[0] == "started attach 0000:0b:00.0 to vfio_test (config)"
    assert steps[-1] == "done define vfio_test with the edited XML"
    # everything else in the definition survived the edit
    assert "/var/lib/libvirt/images/vfio_test.qcow2" in hv.xml("vfio_test", inactive=True)


def test_multifunction_gpu_gets_both_functions_and_a_new_root_port(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:0a:00.0", "win10")
    assert plan.addresses == [A("0000:0a:00.0"), A("0000:0a:00.1")]
    assert plan.new_root_ports == [4]  # win10's three root ports are all taken
    apply_attach(hv, plan)
    dom = DomainXml(hv.xml("win10", inactive=True))
    guests = {str(h.address): h.guest for h in dom.hostdevs()}
    assert guests["0000:0a:00.0"] is not None and guests["0000:0a:00.1"] is not None
    assert (guests["0000:0a:00.0"].bus, guests["0000:0a:00.0"].function, guests["0000:0a:00.0"].multifunction) == (4, 0, True)
    assert (guests["0000:0a:00.1"].bus, guests["0000:0a:00.1"].function) == (4, 1)
    assert (4, "pcie-root-port") in dom.pci_controllers()


def test_device_of_a_running_vm_is_refused(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:07:10.2", "vfio_test")
    assert [p.kind for p in plan.problems] == ["in-use"]
    assert "router" in plan.problems[0].message and "running" in plan.problems[0].message
    with pytest.raises(PlanRefusedError) as err:
        apply_attach(hv, plan)
    assert err.value.exit_code == 3
    assert config_hostdevs(hv, "vfio_test") == []


def test_group_member_in_another_defined_vm_is_refused(demo_host: Host, hv: Hypervisor) -> None:
    apply_attach(hv, plan_attach(demo_host, hv, "0000:0a:00.0", "win10"))
    plan = plan_attach(demo_host, hv, "0000:0a:00.1", "vfio_test")
    assert {p.kind for p in plan.problems} == {"in-use"}
    assert any("win10" in p.message and "shut off" in p.message for p in plan.problems)


def test_already_attached_is_a_problem(demo_host: Host, hv: Hypervisor) -> None:
    apply_attach(hv, plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test"))
    plan = plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test")
    assert [p.kind for p in plan.problems] == ["already-attached"]
    assert plan.diff == ""


def test_unmanaged_needs_the_group_bound_first(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test", managed=False)
    assert [p.kind for p in plan.problems] == ["needs-binding"]
    assert "vfio-tui bind 0000:0b:00.0" in plan.problems[0].fix


def test_live_attach_needs_a_running_vm(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test", mode="live")
    assert "not-running" in [p.kind for p in plan.problems]


def test_bridge_is_refused(demo_host: Host, hv: Hypervisor) -> None:
    plan = plan_attach(demo_host, hv, "0000:00:09.0", "vfio_test")
    assert "bridge" in [p.kind for p in plan.problems]


def test_detach_config_removes_the_hostdev_and_its_sibling(demo_host: Host, hv: Hypervisor) -> None:
    apply_attach(hv, plan_attach(demo_host, hv, "0000:0a:00.1", "win10"))
    removed = detach(hv, "0000:0a:00.0", "win10", "config")
    assert removed == [A("0000:0a:00.0"), A("0000:0a:00.1")]
    assert config_hostdevs(hv, "win10") == []


def test_detach_of_a_device_the_vm_lacks_is_bad_input(hv: Hypervisor) -> None:
    with pytest.raises(InputError, match=r"no hostdev 0000:0b:00\.0"):
        detach(hv, "0000:0b:00.0", "vfio_test")


def test_start_reports_steps_and_the_vm_runs(demo_host: Host, hv: Hypervisor) -> None:
    apply_attach(hv, plan_attach(demo_host, hv, "0000:0b:00.0", "vfio_test"))
    events: list[str] = []
    result = start_domain(hv, "vfio_test", demo_host, on_step=lambda e: events.append(f"{e.state} {e.step}"))
    assert result.ok and result.record is None
    assert "started start vfio_test" in events and "done wait until vfio_test is running" in events
    assert {d.name: d.state for d in hv.list_domains()}["vfio_test"] == "running"


def test_unknown_vm_names_the_ones_there_are(demo_host: Host, hv: Hypervisor) -> None:
    with pytest.raises(UnknownDomainError, match=r"no VM named 'nope'.*router, vfio_test, win10"):
        plan_attach(demo_host, hv, "0000:0b:00.0", "nope")


def test_failure_record_captures_libvirt_error_qemu_log_and_kernel(demo_host: Host, hv: Hypervisor) -> None:
    lv = hv.libvirt
    with pytest.raises(lv.libvirtError) as err:
        hv.lookup("vfio_test").destroy()  # a real libvirt error: the domain is not running
    record = collect_failure(demo_host, "vfio_test", uri=hv.uri, error=err.value, hostdevs=["0000:02:00.0"])
    assert record.error_code == lv.VIR_ERR_OPERATION_INVALID
    assert record.error_code_name == "VIR_ERR_OPERATION_INVALID"
    assert record.error_message == "Requested operation is not valid: domain is not running"
    assert any("group 13 is not viable" in line for line in record.qemu_log)  # the demo host's VM log
    assert record.groups == {"0000:02:00.0": 13}
    assert any("DMAR" in line for line in record.kernel_log)
    assert FailureRecord.from_json(record.to_json()) == record
    from vfio_tui.core.libvirt import load_failure, save_failure

    saved = save_failure(demo_host, record)
    assert saved is not None and saved.stat().st_mode & 0o777 == 0o600
    assert load_failure(demo_host, "vfio_test") == record
    text = record.format_text()
    assert "libvirt error [VIR_ERR_OPERATION_INVALID" in text and "QEMU log /var/log/libvirt/qemu/vfio_test.log" in text


def test_logs_are_only_collected_where_the_vms_run(demo_host: Host, hv: Hypervisor) -> None:
    assert hv.runs_on(demo_host)
    record = collect_failure(demo_host, "vfio_test", uri="qemu+ssh://root@elsewhere/system", logs=False)
    assert record.qemu_log == () and record.kernel_log == ()
    assert "logs: not collected: the VMs of qemu+ssh://root@elsewhere/system do not run on demo" in record.format_text()


def test_watch_restores_what_is_left_on_vfio_when_the_vm_stops(demo_host: Host) -> None:
    restored: list[list[PciAddress]] = []

    def restore(host: Host, addresses: Sequence[PciAddress]) -> None:
        restored.append(list(addresses))

    with open_hypervisor(None, demo=True, events=True) as hv:
        ready = threading.Event()
        box: list[object] = []
        t = threading.Thread(target=lambda: box.append(
            watch_domain(hv, "router", demo_host, restore=restore, timeout=20, ready=ready)))
        t.start()
        assert ready.wait(10)
        hv.lookup("router").destroy()
        t.join(30)
    (result,) = box
    assert result.stopped  # type: ignore[attr-defined]
    assert [e.event for e in result.events] == ["stopped"]  # type: ignore[attr-defined]
    # the demo host still has the VF on vfio-pci after the stop: it is handed to restore
    assert restored == [[A("0000:07:10.2")]]


def test_connect_errors_say_what_to_do() -> None:
    with pytest.raises(ConnectError, match="start the libvirt daemon"):
        open_hypervisor("qemu:///system?socket=/nonexistent/libvirt-sock")
    with pytest.raises(InputError, match="not a libvirt URI"):
        open_hypervisor("garbage")
    with pytest.raises(InputError, match="no test-driver file"):
        open_hypervisor("test:///nonexistent/host.xml")


class _Err(Exception):
    """What libvirt.libvirtError answers (code, domain, message), for the translation table only."""

    def __init__(self, code: int, domain: int, message: str) -> None:
        super().__init__(message)
        self.args3 = (code, domain, message)

    def get_error_code(self) -> int:
        return self.args3[0]

    def get_error_domain(self) -> int:
        return self.args3[1]

    def get_error_message(self) -> str:
        return self.args3[2]


@pytest.mark.parametrize(("code", "message", "fix"), [
    (38, "Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied", "sudo"),
    (94, "authentication unavailable: no polkit agent available to authenticate action"
         " 'org.libvirt.unix.manage'", "sudo"),
    (38, "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
     "start the libvirt daemon"),
    (5, "no connection driver available for foo:///", "check the URI"),
])
def test_connect_error_translation(code: int, message: str, fix: str) -> None:
    from vfio_tui.core.libvirt.errors import connect_error

    err = connect_error("qemu:///system", _Err(code, 7, message))
    assert fix in err.fix and message in str(err) and err.exit_code == 2


def test_a_device_the_host_uses_is_refused(demo_host: Host, hv: Hypervisor, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from vfio_tui.core.model import HostUse

    inv = demo_host.inventory()
    used = replace(inv, host_use={A("0000:0a:00.1"): (HostUse("sound", "PipeWire has /dev/snd/pcmC1D3p open"),)})
    monkeypatch.setattr(demo_host, "inventory", lambda: used)
    plan = plan_attach(demo_host, hv, "0000:0a:00.0", "vfio_test")
    assert [p.kind for p in plan.problems] == ["host-uses"]
    assert "0000:0a:00.1: sound: PipeWire has /dev/snd/pcmC1D3p open" in plan.problems[0].message


def test_domain_uses_for_the_binding_guard(hv: Hypervisor) -> None:
    from vfio_tui.core.libvirt import domain_uses

    uses = domain_uses(hv)
    assert sorted(uses) == [A("0000:02:00.0"), A("0000:07:10.2")]
    (use,) = uses[A("0000:07:10.2")]
    assert (use.kind, use.detail) == ("domain", "<hostdev> of VM 'router' (running)")
    assert use.fix.startswith("vfio-tui detach 0000:07:10.2 router")


def test_watch_gives_the_vf_back_through_the_binding_engine(demo_host: Host) -> None:
    # the real restore of core.binding on the simulated kernel: VF 07:10.2 leaves vfio-pci
    with open_hypervisor(None, demo=True, events=True) as hv:
        ready = threading.Event()
        box: list[object] = []
        t = threading.Thread(target=lambda: box.append(watch_domain(hv, "router", demo_host, timeout=20,
                                                                    ready=ready)))
        t.start()
        assert ready.wait(10)
        hv.lookup("router").destroy()
        t.join(30)
    (result,) = box
    assert result.restored == [A("0000:07:10.2")]  # type: ignore[attr-defined]
    dev = demo_host.inventory().device(A("0000:07:10.2"))
    assert dev is not None and dev.driver == "ixgbevf" and not dev.on_vfio
