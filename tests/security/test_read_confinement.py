"""Reading a --root tree stays inside it: a planted link in the device list, in the sysfs directories or
in the /etc files the checks read is refused (one line), never read through to this machine."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.host import HostOptions
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import open_host

Run = Callable[..., subprocess.CompletedProcess[str]]


def _plain_tree(sim_root: HostPaths) -> Path:
    """The demo's tree without its simulated-host marker: a plain tree, as a mounted image is."""
    (sim_root.root / ".vfio-tui-sim.json").unlink()
    return sim_root.root


def test_a_device_link_leading_out_of_the_tree_is_refused(run_cli: Run, sim_root: HostPaths) -> None:
    root = _plain_tree(sim_root)
    link = root / "sys/bus/pci/devices/0000:0b:00.0"
    link.unlink()
    os.symlink("/sys/devices/pci0000:00/0000:00:00.0", link)  # this machine's own device
    p = run_cli("inventory", "--root", str(root))
    assert p.returncode == 2
    assert "0000:0b:00.0 in this host tree leads outside it" in p.stderr and len(p.stderr.splitlines()) == 1


@pytest.mark.parametrize("target", [
    # The kernel's own prefix, then climbing out to this machine's /sys (the reader's quick check of the
    # kernel spelling must not take these for it).
    "../../../devices/../../../../../../../../sys/devices/pci0000:00/0000:00:00.0",
    "../../../devices/pci0000:00/../../../../../../../../../sys/devices/pci0000:00/0000:00:00.0",
])
def test_a_relative_device_link_climbing_out_of_the_tree_is_refused(sim_root: HostPaths, target: str) -> None:
    root = _plain_tree(sim_root)
    link = root / "sys/bus/pci/devices/0000:0b:00.0"
    link.unlink()
    os.symlink(target, link)
    with open_host(HostOptions(root=root)) as host, pytest.raises(HostDataError, match="leads outside it"):
        host.inventory()


def test_a_sysfs_directory_leading_out_of_the_tree_is_refused(run_cli: Run, sim_root: HostPaths) -> None:
    root = _plain_tree(sim_root)
    devices = root / "sys/bus/pci/devices"
    os.rename(devices, root / "elsewhere")
    os.symlink("/sys/bus/pci/devices", devices)
    p = run_cli("inventory", "--root", str(root))
    assert p.returncode == 2 and "this host tree leads outside itself" in p.stderr


_TREE_DIRS = ["sys", "sys/devices", "sys/bus", "sys/bus/pci", "sys/bus/pci/devices", "sys/bus/pci/drivers",
              "sys/kernel", "sys/kernel/iommu_groups"]


@pytest.mark.parametrize("where", _TREE_DIRS)
def test_a_link_at_any_level_above_what_is_read_is_followed_only_inside(tmp_path: Path, sim_root: HostPaths,
                                                                       where: str) -> None:
    # Every directory between the root and the ones read, moved out of the tree and linked back: refused.
    # The same directory kept inside the tree, beside where it was (its own relative links still resolve),
    # and linked back relatively, reads the same host as before.
    root = _plain_tree(sim_root)
    with open_host(HostOptions(root=root)) as host:
        before = host.inventory()
    real = root / where
    os.rename(real, tmp_path / "moved")
    os.symlink(tmp_path / "moved", real)
    with open_host(HostOptions(root=root)) as host, pytest.raises(HostDataError, match="leads outside itself"):
        host.inventory()
    real.unlink()
    os.rename(tmp_path / "moved", real.with_name(real.name + "-kept"))
    os.symlink(real.name + "-kept", real)
    with open_host(HostOptions(root=root)) as host:
        after = host.inventory()
    assert after.devices == before.devices and after.groups == before.groups


def test_checks_read_no_file_through_a_planted_link_and_no_fifo(tmp_path: Path, sim_root: HostPaths) -> None:
    grub = sim_root.under("/etc/default/grub")
    grub.unlink()
    secret = tmp_path / "secret"
    secret.write_text('GRUB_CMDLINE_LINUX="from-outside-the-tree"\n')
    os.symlink(secret, grub)  # absolute: outside the tree
    fifo = sim_root.under("/etc/libvirt/qemu.conf")
    fifo.unlink()
    os.mkfifo(fifo)
    with open_host(HostOptions(root=sim_root.root)) as host:
        ctx = CheckContext(host)
        read = ctx.read("/etc/default/grub")
        assert read.text is None and "outside" in (read.error or "")
        blocked = ctx.read("/etc/libvirt/qemu.conf")  # returns at once instead of waiting for a writer
        assert blocked.text is None and "FIFO" in (blocked.error or "").upper()


def test_a_plan_reads_nothing_through_a_device_link_leading_out(sim_root: HostPaths,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A bind plan reads its group alone (core.sysfs_reader only_group_of): each function's link is vetted
    before its iommu_group, physfn or driver link is read through it, as the whole read does."""
    from vfio_tui.core.binding import plan_bind

    root = _plain_tree(sim_root)
    link = root / "sys/bus/pci/devices/0000:0b:00.0"
    link.unlink()
    os.symlink("/sys/devices/pci0000:00/0000:00:00.0", link)  # this machine's own device
    through: list[str] = []
    real_readlink = os.readlink

    def recording(path: Any, *args: Any, **kwargs: Any) -> Any:
        text = os.fspath(path)
        if isinstance(text, str) and text.startswith(str(link) + "/"):
            through.append(text)
        return real_readlink(path, *args, **kwargs)

    with open_host(HostOptions(root=root)) as host:
        monkeypatch.setattr(os, "readlink", recording)
        with pytest.raises(HostDataError, match="leads outside it"):
            plan_bind(host, "0b:00.0", assume_unused=True)
    assert through == []
