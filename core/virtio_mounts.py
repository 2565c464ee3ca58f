"""Provides the tracing of virtio-9p and virtiofs mounts to the PCI device that carries them.

A 9p (trans=virtio) or virtiofs mount has no block device: its mount source is a virtio mount
tag, which belongs to one virtio-pci device. The guard needs that device, or it would let the
user unbind the device a guest's root filesystem lives on (lab finding: / , /lab and /out of the
lab guest are 9p mounts). How the kernel exposes the tag:

- 9p: every virtio-9p device gets a `mount_tag` attribute, /sys/bus/virtio/devices/virtioN/mount_tag,
  whose value ends in a NUL byte (net/9p/trans_virtio.c, p9_mount_tag_show copies the tag with
  its terminating NUL). virtioN sits under its PCI device:
  /sys/bus/virtio/devices/virtioN -> ../../../devices/pci0000:00/0000:00:11.0/virtioN.
- virtiofs (Linux >= 6.9, fs/fuse/virtio_fs.c): /sys/fs/virtiofs/<id>/tag and a `device` link to
  the virtio device.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths

VIRTIO_FSTYPES = frozenset({"9p", "virtiofs"})
_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    r"""/proc/mounts escapes space, tab, newline and backslash as \040 \011 \012 \134."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mounts(text: str) -> list[dict[str, str]]:
    """/proc/mounts text -> [{"source", "target", "fstype"}] (malformed lines are skipped)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            out.append({"source": _unescape(fields[0]), "target": _unescape(fields[1]), "fstype": fields[2]})
    return out


def read_mounts(paths: HostPaths) -> list[dict[str, str]]:
    """The host's mount table (its /proc/mounts); [] when unreadable."""
    try:
        text = (paths.proc / "mounts").read_text(errors="replace")
    except OSError:
        return []
    return parse_mounts(text)


def virtio_fs_mounts(mounts: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """The 9p and virtiofs mounts of a mount list (their source is a virtio mount tag)."""
    return [{"source": m["source"], "target": m["target"], "fstype": m["fstype"]}
            for m in mounts if m.get("fstype") in VIRTIO_FSTYPES]


def _pci_of(link: Path) -> str | None:
    """The last PCI address in the resolved path of a sysfs device link (the virtio-pci device)."""
    found = None
    for part in os.path.realpath(link).split("/"):
        if part.count(":") == 2 and PciAddress.try_parse(part) is not None:
            found = part
    return found


def _tag(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError:
        return ""
    return raw.decode(errors="replace").strip().rstrip("\0").strip()


def virtio_mount_tags(paths: HostPaths, mounts: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """{mount tag: PCI address} for the virtio devices behind the 9p/virtiofs mounts in `mounts`.

    Only tags that some mount uses are returned (an idle share is not host usage).
    """
    wanted = {m["source"] for m in virtio_fs_mounts(mounts)}
    if not wanted:
        return {}
    out: dict[str, str] = {}
    vdir = paths.sys / "bus" / "virtio" / "devices"
    for dev in sorted(vdir.glob("virtio*")):
        tag = _tag(dev / "mount_tag")
        pci = _pci_of(dev) if tag in wanted else None
        if pci is not None:
            out[tag] = pci
    for fs in sorted((paths.sys / "fs" / "virtiofs").glob("*")):
        tag = _tag(fs / "tag")
        pci = _pci_of(fs / "device") if tag in wanted and (fs / "device").exists() else None
        if pci is not None:
            out.setdefault(tag, pci)
    return out
