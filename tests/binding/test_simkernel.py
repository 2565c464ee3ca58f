"""The simulated kernel answers writes as the real 6.1 kernel did in the lab (REPORT step 3)."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable

import pytest

from tests.binding.bind_helpers import lab_snapshot, read_meta
from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import SysfsWriteError, VfioError
from vfio_tui.core.host import Host
from vfio_tui.core.simulated.kernel import SimulatedKernel
from vfio_tui.core.viability import group_viable, viability_problems


def drv(host: Host, addr: str) -> str | None:
    return host.inventory().devices[PciAddress.parse(addr)].driver


@pytest.fixture
def q35(make_host: Callable[..., Host]) -> Host:
    return make_host(lab_snapshot("q35-viommu"))


def write(host: Host, rel: str, value: str) -> None:
    host.kernel.write(host.paths.pci_bus / rel, value, 1.0)


def errno_of(host: Host, rel: str, value: str) -> int:
    with pytest.raises(SysfsWriteError) as info:
        write(host, rel, value)
    return info.value.errno


# The lab's table "E. Error strings", row by row.
@pytest.mark.parametrize(("rel", "value", "override", "expected"), [
    ("drivers_probe", "0000:0b:00.0", None, errno.ENODEV),
    ("drivers/vfio-pci/bind", "0000:0b:00.0", None, errno.ENODEV),
    ("drivers/vfio-pci/new_id", "zzzz", None, errno.EINVAL),
    ("drivers/vfio-pci/unbind", "0000:01:00.0", None, errno.ENODEV),
    ("drivers/vfio-pci/bind", "0000:01:00.0", None, errno.ENODEV),
    ("drivers/vfio-pci/bind", "0000:01:00.0", "vfio-pci", errno.EBUSY),
    ("devices/0000:01:00.0/driver_override", "x" * 5000, None, errno.EINVAL),
])
def test_lab_errno_table(q35: Host, rel: str, value: str, override: str | None, expected: int) -> None:
    if override:
        write(q35, "devices/0000:01:00.0/driver_override", override)
    assert errno_of(q35, rel, value) == expected
    assert drv(q35, "0000:01:00.0") == "e1000e"


def test_endpoint_round_trip_like_libvirt(q35: Host) -> None:
    a = "0000:01:00.0"
    write(q35, f"devices/{a}/driver_override", "vfio-pci")
    assert drv(q35, a) == "e1000e"  # the override alone changes nothing visible
    write(q35, f"devices/{a}/driver/unbind", a)
    assert drv(q35, a) is None and not (q35.paths.dev_vfio / "11").exists()
    write(q35, "drivers_probe", a)
    assert drv(q35, a) == "vfio-pci"
    assert (q35.paths.dev_vfio / "11").exists()
    assert (q35.paths.pci_device(a) / "vfio-dev").is_dir()
    write(q35, f"devices/{a}/driver_override", "\n")
    assert (q35.paths.pci_device(a) / "driver_override").read_text() == "(null)\n"
    write(q35, "drivers/vfio-pci/unbind", a)
    write(q35, "drivers_probe", a)
    assert drv(q35, a) == "e1000e"
    assert not (q35.paths.dev_vfio / "11").exists()


def test_bridge_probe_succeeds_silently_and_bind_fails_einval(q35: Host) -> None:
    bridge = "0000:03:00.0"  # pcie-pci-bridge, no driver
    write(q35, f"devices/{bridge}/driver_override", "vfio-pci")
    write(q35, "drivers_probe", bridge)  # no error, as on the real kernel
    assert drv(q35, bridge) is None
    assert f"vfio-pci: probe of {bridge} failed with error -22" in SimulatedKernel(q35.paths).kernel_log()
    assert errno_of(q35, "drivers/vfio-pci/bind", bridge) == errno.EINVAL


def test_new_id_binds_every_unbound_match_and_dev_vfio_follows_the_group(q35: Host) -> None:
    # Group 12: 02:00.0 e1000e + 02:00.1 xhci (1b36:000d), as in the lab's experiment B.
    write(q35, "devices/0000:02:00.1/driver/unbind", "0000:02:00.1")
    write(q35, "drivers/vfio-pci/new_id", "1b36 000d")
    assert drv(q35, "0000:02:00.1") == "vfio-pci"
    assert (q35.paths.dev_vfio / "12").exists()
    members = q35.inventory().members(12)
    assert not group_viable(members, q35.inventory().kernel)
    assert "0000:02:00.0 is bound to e1000e" in viability_problems(members, "6.1.0")[0]
    assert errno_of(q35, "drivers/vfio-pci/new_id", "1b36 000d") == errno.EEXIST
    write(q35, "drivers/vfio-pci/remove_id", "1b36 000d")
    assert errno_of(q35, "drivers/vfio-pci/remove_id", "1b36 000d") == errno.ENODEV
    assert drv(q35, "0000:02:00.1") == "vfio-pci"  # remove_id does not unbind
    write(q35, "drivers/vfio-pci/unbind", "0000:02:00.1")
    assert not (q35.paths.dev_vfio / "12").exists()


def test_new_id_does_not_take_a_bound_twin(q35: Host) -> None:
    # 07:00.0 and 08:00.0 are both 8086:10d3 on e1000e; only an unbound one is claimed.
    write(q35, "devices/0000:07:00.0/driver/unbind", "0000:07:00.0")
    write(q35, "drivers/vfio-pci/new_id", "8086 10d3")
    assert drv(q35, "0000:07:00.0") == "vfio-pci"
    assert drv(q35, "0000:08:00.0") == "e1000e"
    # ...but the twin is claimed the moment it is unbound and re-probed: dynids come first (A2 pitfall).
    write(q35, "devices/0000:08:00.0/driver/unbind", "0000:08:00.0")
    write(q35, "drivers_probe", "0000:08:00.0")
    assert drv(q35, "0000:08:00.0") == "vfio-pci"


def test_viability_rules_by_kernel_version(q35: Host) -> None:
    members = q35.inventory().members(15)  # switch port on pcieport + 07:00.0 e1000e
    write(q35, "devices/0000:07:00.0/driver_override", "vfio-pci")
    write(q35, "devices/0000:07:00.0/driver/unbind", "0000:07:00.0")
    write(q35, "drivers_probe", "0000:07:00.0")
    members = q35.inventory().members(15)
    assert group_viable(members, "6.1.0-56-amd64")
    from dataclasses import replace
    shpchp = [replace(d, driver="shpchp") if d.is_bridge else d for d in members]
    assert not group_viable(shpchp, "6.1.0")  # >= 5.19: only pcieport among bridge drivers
    assert group_viable(shpchp, "5.15.0-91-generic")  # < 5.19: any bridge was fine


def test_sriov_pf_with_vfs_is_refused_ebusy(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    pf = "0000:07:00.0"
    write(demo, f"devices/{pf}/driver_override", "vfio-pci")
    write(demo, f"devices/{pf}/driver/unbind", pf)
    assert errno_of(demo, "drivers/vfio-pci/bind", pf) == errno.EBUSY
    assert drv(demo, pf) is None


def test_module_loading_creates_the_driver_only_when_available(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    shutil.rmtree(demo.paths.pci_driver("vfio-pci"))
    shutil.rmtree(demo.paths.module("vfio_pci"))
    (demo.paths.dev_vfio / "vfio").unlink()
    demo.kernel.load_module("vfio-pci")
    assert (demo.paths.pci_driver("vfio-pci") / "bind").exists()
    assert (demo.paths.dev_vfio / "vfio").exists() and demo.paths.module("vfio_pci").is_dir()
    with pytest.raises(VfioError, match="not found"):
        demo.kernel.load_module("nvidia")


def test_faults_fire_once_at_the_nth_matching_write(make_host: Callable[..., Host]) -> None:
    demo = make_host()
    kernel = demo.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(faults=[{"match": "driver_override", "nth": 2, "errno": errno.EIO}])
    write(demo, "devices/0000:0b:00.0/driver_override", "a")
    assert errno_of(demo, "devices/0000:0b:00.0/driver_override", "b") == errno.EIO
    write(demo, "devices/0000:0b:00.0/driver_override", "c")
    assert read_meta(demo.paths)["faults"] == []


def test_unbind_of_an_open_group_blocks_until_the_timeout(make_host: Callable[..., Host]) -> None:
    from vfio_tui.core.errors import SysfsTimeoutError

    demo = make_host()
    kernel = demo.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(open_groups=[17])  # 07:10.2 is on vfio-pci; a "user" holds /dev/vfio/17
    with pytest.raises(SysfsTimeoutError):
        kernel.write(demo.paths.pci_driver("vfio-pci") / "unbind", "0000:07:10.2", 0.2)
    assert drv(demo, "0000:07:10.2") == "vfio-pci"
