"""Restore learns that nobody holds a VFIO group from the kernel's exclusive open of /dev/vfio/N
(vfio_group_fops_open answers EBUSY while anyone has the group or one of its devices open), and
scans every process's fds only when that open cannot prove it. Only the kernel's own node is
opened: a character device with the number /sys/class/vfio/N/dev gives, never a symlink.

The node here is a character device with /dev/null's number, which always opens: the tests
decide which answer restore trusts, and that a node that is not provably the group's is not."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import apply_plan, plan_bind, restore
from vfio_tui.core.errors import PlanRefusedError
from vfio_tui.core.holders import group_node_unopened, holders_of
from vfio_tui.core.host import Host
from vfio_tui.core.model import DomainHold, DomainHolds

HBA = PciAddress.parse("0000:0b:00.0")  # the demo's QLogic HBA, alone in group 19
NULL = os.makedev(1, 3)


def _bound(make_host: Callable[..., Host]) -> tuple[Host, int]:
    host = make_host()
    plan = plan_bind(host, HBA)
    assert apply_plan(host, plan).problems == ()
    return host, plan.group


def _char_node(host: Host, group: int, *, number: int = NULL, sysfs: str = "1:3", cdev: bool = False) -> Path:
    """/dev/vfio/N as a character device, and the number sysfs gives for the group; without `cdev`,
    the device has no VFIO cdev: its vfio-dev/vfioN has no device number (a kernel before 6.6, or one
    built without it, as the lab's 6.1)."""
    if not cdev:  # (the vfio-dev directory stays, without a device number, as on 6.1-6.5)
        for child in (host.paths.pci_device(HBA) / "vfio-dev").iterdir():
            (child / "dev").unlink()
    node = host.paths.dev_vfio / str(group)
    node.unlink()
    try:
        os.mknod(node, stat.S_IFCHR | 0o600, number)
    except PermissionError:
        pytest.skip("making a character device node needs CAP_MKNOD (CI runs as root)")
    (host.paths.sys / "class" / "vfio" / str(group)).mkdir(parents=True, exist_ok=True)
    (host.paths.sys / "class" / "vfio" / str(group) / "dev").write_text(sysfs + "\n")
    return node


def _qemu_has_it_open(host: Host, group: int) -> None:
    """What /proc shows for a QEMU with the group open."""
    fd_dir = host.paths.proc / "4242" / "fd"
    fd_dir.mkdir(parents=True)
    (host.paths.proc / "4242" / "comm").write_text("qemu-system-x86\n")
    os.symlink(host.paths.display(host.paths.dev_vfio / str(group)), fd_dir / "23")


def _libvirt() -> tuple[list[int], Callable[[], DomainHolds]]:
    calls: list[int] = []

    def domains() -> DomainHolds:
        calls.append(1)
        return {HBA: (DomainHold("win10", "running", True, True),)}

    return calls, domains


def test_a_group_node_that_opens_proves_nobody_holds_it(make_host: Callable[..., Host]) -> None:
    host, group = _bound(make_host)
    _char_node(host, group)
    assert group_node_unopened(host.paths, group)
    _qemu_has_it_open(host, group)  # (what a real kernel cannot show while the node opens)
    calls, domains = _libvirt()
    assert holders_of(host.paths, [HBA], domains, open_groups=True) == {} and calls == []
    # A caller that does not take the device (a read) never opens the node: the scan answers.
    assert [h.kind for h in holders_of(host.paths, [HBA], domains)[str(HBA)]] == ["vm"]


def test_a_busy_group_node_makes_restore_scan_and_name_the_holder(make_host: Callable[..., Host],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    host, group = _bound(make_host)
    node = _char_node(host, group)
    _qemu_has_it_open(host, group)
    real_open = os.open

    def busy(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        if str(path) == str(node):
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", busy)
    assert not group_node_unopened(host.paths, group)
    with pytest.raises(PlanRefusedError, match=r"qemu-system-x86 \(pid 4242\) has /dev/vfio/19 open"):
        restore(host, [HBA])
    assert host.paths.pci_device(HBA).joinpath("driver").resolve().name == "vfio-pci"


@pytest.mark.parametrize("case", ["another device's number", "no sysfs number", "a regular file", "a symlink"])
def test_a_node_not_provably_the_groups_is_not_trusted(make_host: Callable[..., Host], case: str) -> None:
    host, group = _bound(make_host)
    node = host.paths.dev_vfio / str(group)
    if case == "another device's number":
        _char_node(host, group, sysfs="1:5")
    elif case == "no sysfs number":
        _char_node(host, group)
        (host.paths.sys / "class" / "vfio" / str(group) / "dev").unlink()
    elif case == "a symlink":
        target = _char_node(host, group).with_name("null")
        node.rename(target)
        node.symlink_to(target.name)
    else:
        assert node.is_file()
    assert not group_node_unopened(host.paths, group)
    _qemu_has_it_open(host, group)
    held = holders_of(host.paths, [HBA], open_groups=True)
    assert [h.describe() for h in held[str(HBA)]] == ["qemu-system-x86 (pid 4242) has /dev/vfio/19 open"]


def test_a_device_with_a_cdev_is_still_scanned(make_host: Callable[..., Host]) -> None:
    """A cdev opened but not yet bound to an iommufd does not block the group's open, yet it holds
    a registration of the device that vfio-pci's remove() waits for."""
    host, group = _bound(make_host)
    _char_node(host, group, cdev=True)
    assert group_node_unopened(host.paths, group)
    cdev = next((host.paths.pci_device(HBA) / "vfio-dev").iterdir()).name
    fd_dir = host.paths.proc / "4343" / "fd"
    fd_dir.mkdir(parents=True)
    (host.paths.proc / "4343" / "comm").write_text("dpdk-testpmd\n")
    os.symlink(f"/dev/vfio/devices/{cdev}", fd_dir / "7")
    held = holders_of(host.paths, [HBA], open_groups=True)
    assert [h.describe() for h in held[str(HBA)]] == [f"dpdk-testpmd (pid 4343) has /dev/vfio/devices/{cdev} open"]


def test_restore_goes_through_when_the_group_node_opens(make_host: Callable[..., Host]) -> None:
    host, group = _bound(make_host)
    _char_node(host, group)
    result = restore(host, [HBA])
    assert result.ok and dict(result.restored)[str(HBA)] == "qla2xxx"
