"""The guard traces 9p/virtiofs mounts to their virtio-pci device (lab finding: the guest's /, /lab
and /out are 9p mounts on virtio devices, and the guard let them be bound)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import plan_bind
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.core.usage import uses_from_extras
from vfio_tui.core.usage_live import gather_live_extras
from vfio_tui.core.virtio_mounts import parse_mounts, read_mounts, virtio_fs_mounts, virtio_mount_tags

PROC_MOUNTS = """\
lab_root / 9p rw,relatime,cache=loose,access=client,trans=virtio 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
lab /lab 9p ro,relatime,access=client,trans=virtio 0 0
out /out 9p rw,relatime,access=client,trans=virtio 0 0
myfs /mnt/with\\040space virtiofs rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
"""


def _virtio_9p(root: Path, pci: str, n: int, tag: str) -> None:
    """The kernel's layout: /sys/bus/virtio/devices/virtioN -> ../../../devices/pci0000:00/PCI/virtioN."""
    dev = root / "sys" / "devices" / "pci0000:00" / pci / f"virtio{n}"
    dev.mkdir(parents=True)
    (dev / "mount_tag").write_bytes(tag.encode() + b"\0")  # p9_mount_tag_show keeps the NUL
    link = root / "sys" / "bus" / "virtio" / "devices" / f"virtio{n}"
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(f"../../../devices/pci0000:00/{pci}/virtio{n}", link)


def _fake_guest(root: Path) -> HostPaths:
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "mounts").write_text(PROC_MOUNTS)
    _virtio_9p(root, "0000:00:10.0", 0, "lab_root")
    _virtio_9p(root, "0000:00:11.0", 1, "lab")
    _virtio_9p(root, "0000:00:12.0", 2, "out")
    _virtio_9p(root, "0000:00:13.0", 3, "idle")  # a share nobody mounted
    fsdev = root / "sys" / "devices" / "pci0000:00" / "0000:00:14.0" / "virtio4"
    fsdev.mkdir(parents=True)
    (fsdev / "mount_tag").write_text("")  # not a 9p device
    tagdir = root / "sys" / "fs" / "virtiofs" / "0"
    tagdir.mkdir(parents=True)
    (tagdir / "tag").write_text("myfs\n")
    os.symlink("../../../devices/pci0000:00/0000:00:14.0/virtio4", tagdir / "device")
    return HostPaths(root)


def test_mount_tags_map_to_the_virtio_pci_device(tmp_path: Path) -> None:
    paths = _fake_guest(tmp_path)
    mounts = read_mounts(paths)
    assert {"source": "myfs", "target": "/mnt/with space", "fstype": "virtiofs"} in mounts
    assert virtio_mount_tags(paths, mounts) == {
        "lab_root": "0000:00:10.0", "lab": "0000:00:11.0", "out": "0000:00:12.0", "myfs": "0000:00:14.0"}


def test_9p_and_virtiofs_mounts_are_host_usage(tmp_path: Path) -> None:
    paths = _fake_guest(tmp_path)
    mounts = virtio_fs_mounts(read_mounts(paths))
    uses = uses_from_extras({"mounts": mounts, "virtio_tags": virtio_mount_tags(paths, mounts)})
    lab = uses[PciAddress.parse("0000:00:11.0")]
    assert [u.kind for u in lab] == ["mount"] and "/lab (9p) on lab" in lab[0].detail
    assert "unmount /lab" in lab[0].fix
    assert "the host runs from it" in uses[PciAddress.parse("0000:00:10.0")][0].fix
    assert "/mnt/with space" in uses[PciAddress.parse("0000:00:14.0")][0].detail
    assert PciAddress.parse("0000:00:13.0") not in uses


def test_live_gathering_records_the_virtio_mounts(tmp_path: Path) -> None:
    extras = gather_live_extras(_fake_guest(tmp_path))
    assert extras["virtio_tags"]["out"] == "0000:00:12.0"
    assert {"source": "out", "target": "/out", "fstype": "9p"} in extras["mounts"]


def test_parse_mounts_skips_garbage() -> None:
    assert parse_mounts("garbage\n\nx /y 9p\n") == [{"source": "x", "target": "/y", "fstype": "9p"}]


def test_bind_refuses_a_device_behind_a_recorded_9p_mount(make_host: Callable[..., Host]) -> None:
    snap = demo_snapshot()
    extras = snap["vfio_tui"]
    extras["mounts"].append({"source": "share", "target": "/srv/share", "fstype": "9p"})
    extras["virtio_tags"] = {"share": "0000:0b:00.0"}
    plan = plan_bind(make_host(snap), "0b:00.0")
    assert [r.address for r in plan.refused] == ["0000:0b:00.0"]
    assert "/srv/share (9p) on share" in plan.refused[0].reason
