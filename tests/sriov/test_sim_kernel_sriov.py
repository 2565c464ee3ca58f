"""The simulated kernel's sriov_numvfs is the real one's (drivers/pci/iov.c sriov_numvfs_store(),
drivers/vfio/pci/vfio_pci.c vfio_pci_sriov_configure(), drivers/iommu/iommu.c pci_device_group())."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import SysfsTimeoutError, SysfsWriteError
from vfio_tui.core.host import Host
from vfio_tui.core.simulated.kernel import SimulatedKernel
from vfio_tui.core.simulated.sriov import SriovRefused, parse_u16
from vfio_tui.core.simulated.synthetic import ACS_FULL, HostBuilder

PF = "0000:07:00.1"   # the demo's second 82599 port: 0 of 63 VFs, not used by the host


def write(host: Host, rel: str, value: str, timeout: float = 1.0) -> None:
    host.kernel.write(host.paths.pci_bus / "devices" / rel, value, timeout)


def errno_of(host: Host, rel: str, value: str) -> int:
    with pytest.raises(SysfsWriteError) as info:
        write(host, rel, value)
    return info.value.errno


def log(host: Host) -> list[str]:
    kernel = host.kernel
    assert isinstance(kernel, SimulatedKernel)
    return kernel.kernel_log()


def vfs_of(host: Host, pf: str) -> list[str]:
    inv = host.inventory()
    return sorted(str(d.address) for d in inv if d.physfn == PciAddress.parse(pf))


@pytest.mark.parametrize(("value", "expected"), [
    ("64", errno.ERANGE),      # over sriov_totalvfs (63): -ERANGE, not EINVAL
    ("70000", errno.EINVAL),   # kstrtou16 overflow: sriov_numvfs_store() answers EINVAL for every parse error
    ("two", errno.EINVAL),     # kstrtou16 garbage
    ("-1", errno.EINVAL),
    ("", errno.EINVAL),
])
def test_bad_counts_are_refused_like_the_kernel(demo: Host, value: str, expected: int) -> None:
    assert errno_of(demo, f"{PF}/sriov_numvfs", value) == expected
    assert vfs_of(demo, PF) == []


def test_vfs_appear_as_devices_with_their_own_groups(demo: Host) -> None:
    write(demo, f"{PF}/sriov_numvfs", "2")
    # First VF Offset 0x80, VF Stride 2 from the PF at devfn 1: 07:10.1 and 07:10.3
    assert vfs_of(demo, PF) == ["0000:07:10.1", "0000:07:10.3"]
    inv = demo.inventory()
    pf = inv.devices[PciAddress.parse(PF)]
    assert pf.sriov_num_vfs == 2
    groups = {inv.devices[PciAddress.parse(a)].iommu_group for a in vfs_of(demo, PF)}
    assert len(groups) == 2 and pf.iommu_group not in groups  # root port 00:05.0 has ACS
    for a in vfs_of(demo, PF):
        vf = inv.devices[PciAddress.parse(a)]
        assert (vf.vendor_id, vf.device_id, vf.driver) == ("8086", "10ed", "ixgbevf")  # autoprobe 1
        group = inv.group_of(vf.address)
        assert group is not None and group.members == (vf.address,)


def test_changing_the_count_goes_through_zero(demo: Host) -> None:
    write(demo, f"{PF}/sriov_numvfs", "2")
    assert errno_of(demo, f"{PF}/sriov_numvfs", "3") == errno.EBUSY
    assert any("2 VFs already enabled. Disable before enabling 3 VFs" in line for line in log(demo))
    write(demo, f"{PF}/sriov_numvfs", "2")  # the same count: nothing happens, no error
    write(demo, f"{PF}/sriov_numvfs", "0")
    assert vfs_of(demo, PF) == []
    write(demo, f"{PF}/sriov_numvfs", "3")
    assert len(vfs_of(demo, PF)) == 3


def test_groups_are_freed_and_reused(demo: Host) -> None:
    before = set(demo.inventory().groups)
    write(demo, f"{PF}/sriov_numvfs", "2")
    added = set(demo.inventory().groups) - before
    assert added == {20, 21}  # the lowest free numbers (ida_alloc)
    write(demo, f"{PF}/sriov_numvfs", "0")
    assert set(demo.inventory().groups) == before
    assert not (demo.paths.iommu_groups / "20").exists()


def test_autoprobe_off_leaves_vfs_unbound_but_an_override_binds(demo: Host) -> None:
    write(demo, f"{PF}/sriov_drivers_autoprobe", "0")
    write(demo, f"{PF}/sriov_numvfs", "1")
    vf = "0000:07:10.1"
    assert demo.inventory().devices[PciAddress.parse(vf)].driver is None
    demo.kernel.write(demo.paths.pci_bus / "drivers_probe", vf, 1.0)
    assert demo.inventory().devices[PciAddress.parse(vf)].driver is None  # pci_device_can_probe()
    write(demo, f"{vf}/driver_override", "vfio-pci")
    demo.kernel.write(demo.paths.pci_bus / "drivers_probe", vf, 1.0)
    assert demo.inventory().devices[PciAddress.parse(vf)].driver == "vfio-pci"
    assert (demo.paths.dev_vfio / "20").exists()
    assert errno_of(demo, f"{PF}/sriov_drivers_autoprobe", "maybe") == errno.EINVAL


def test_removing_a_vf_a_vm_holds_blocks(demo: Host) -> None:
    # The demo's router VM holds 07:10.2 (group 17, on vfio-pci): QEMU has /dev/vfio/17 open.
    kernel = demo.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(open_groups=[17])
    with pytest.raises(SysfsTimeoutError):
        write(demo, "0000:07:00.0/sriov_numvfs", "0", timeout=0.3)
    assert "0000:07:10.2" in vfs_of(demo, "0000:07:00.0")
    kernel.update_metadata(open_groups=[])
    write(demo, "0000:07:00.0/sriov_numvfs", "0")
    assert vfs_of(demo, "0000:07:00.0") == []
    assert not (demo.paths.dev_vfio / "17").exists()  # the group's last vfio-pci member went


def test_pf_without_driver_or_not_a_pf(demo: Host) -> None:
    write(demo, f"{PF}/driver/unbind", PF)
    assert errno_of(demo, f"{PF}/sriov_numvfs", "1") == errno.ENOENT
    assert any("no driver bound to device; cannot configure SR-IOV" in line for line in log(demo))
    # A device without SR-IOV has no sriov_numvfs attribute at all.
    assert errno_of(demo, "0000:0b:00.0/sriov_numvfs", "1") == errno.ENOENT


def test_vfio_pci_as_pf_driver_needs_enable_sriov_and_captures_the_vfs(demo: Host) -> None:
    write(demo, f"{PF}/driver_override", "vfio-pci")
    write(demo, f"{PF}/driver/unbind", PF)
    demo.kernel.write(demo.paths.pci_bus / "drivers_probe", PF, 1.0)
    assert demo.inventory().devices[PciAddress.parse(PF)].driver == "vfio-pci"
    assert errno_of(demo, f"{PF}/sriov_numvfs", "1") == errno.ENOENT  # enable_sriov=N
    (demo.paths.module("vfio_pci") / "parameters" / "enable_sriov").write_text("Y\n")
    write(demo, f"{PF}/sriov_numvfs", "1")
    vf = demo.inventory().devices[PciAddress.parse("0000:07:10.1")]
    assert (vf.driver, vf.driver_override) == ("vfio-pci", "vfio-pci")
    assert any("Captured SR-IOV VF 0000:07:10.1 driver_override" in line for line in log(demo))


def test_vfs_behind_a_port_without_acs_join_its_group(make_host: Callable[..., Host]) -> None:
    b = HostBuilder(label="no ACS")
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0)
    b.add("0000:00:1c.0", 0x8086, 0x3A40, 0x060400, group=1, header_type=1, driver="pcieport",
          pcie="root_port", buses=(0, 1, 1))
    b.add("0000:01:00.0", 0x8086, 0x1521, 0x020000, group=1, parent="0000:00:1c.0", driver="igb",
          pcie="endpoint", flr=True, sriov=(7, 0), sriov_vf=(0x80, 4, 0x1520))
    b.add("0000:00:1d.0", 0x8086, 0x3A40, 0x060400, group=2, header_type=1, driver="pcieport",
          pcie="root_port", acs=ACS_FULL, buses=(0, 2, 2))
    host = make_host(b.snapshot({"schema": "vfio-tui/host-extras/1"}))
    write(host, "0000:01:00.0/sriov_numvfs", "2")
    inv = host.inventory()
    vfs = vfs_of(host, "0000:01:00.0")
    assert vfs == ["0000:01:10.0", "0000:01:10.4"]
    assert {inv.devices[PciAddress.parse(a)].iommu_group for a in vfs} == {1}  # with the port and the PF
    assert set(inv.groups) == {0, 1, 2}


@given(st.text(max_size=12))
def test_parse_u16_is_kstrtou16(text: str) -> None:
    stripped = text[:-1] if text.endswith("\n") else text
    try:
        value = parse_u16(text)
    except SriovRefused as exc:
        assert exc.code == errno.EINVAL  # sriov_numvfs_store(): every kstrtou16() failure is -EINVAL
        return
    assert 0 <= value <= 0xFFFF
    body = stripped.lstrip("+")
    assert body.isascii() and (body.isdigit() or body.lower().startswith("0x"))
    assert value == int(body, 16 if body.lower().startswith("0x") else (8 if len(body) > 1 and body[0] == "0" else 10))


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("7\n", 7), ("0x10", 16), ("010", 8), ("+3", 3), ("65535", 65535)])
def test_parse_u16_examples(text: str, value: int) -> None:
    assert parse_u16(text) == value


def test_vf_links_match_the_kernel_layout(demo: Host) -> None:
    write(demo, f"{PF}/sriov_numvfs", "2")
    pf_dir = demo.paths.pci_device(PF)
    assert os.readlink(pf_dir / "virtfn0") == "../0000:07:10.1"
    assert os.readlink(pf_dir / "virtfn1") == "../0000:07:10.3"
    assert os.readlink(demo.paths.pci_device("0000:07:10.1") / "physfn") == f"../{PF}"
