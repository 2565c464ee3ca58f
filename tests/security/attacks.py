"""Hostile recorded hosts: each one a snapshot someone could attach to a bug report, aimed at the
machine of whoever replays it. Every entry names the boundary it tries to cross; `VICTIM` in a
value is replaced by the absolute path of the test's victim directory (outside every temp tree).

They start from a small valid recording (two endpoints under one root port) so that the one thing
wrong with each is its attack.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vfio_tui.core.simulated.synthetic import HostBuilder

Snapshot = dict[str, Any]


def base() -> Snapshot:
    """A small, valid recording: a root port and a two-function endpoint behind it."""
    b = HostBuilder(label="attack base")
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0)
    b.add("0000:00:01.0", 0x8086, 0x3420, 0x060400, group=1, header_type=1, pcie="root_port", buses=(0, 1, 1))
    b.add("0000:01:00.0", 0x8086, 0x10C9, 0x020000, group=2, driver="igb", parent="0000:00:01.0",
          multifunction=True)
    b.add("0000:01:00.1", 0x8086, 0x10C9, 0x020000, group=2, driver="igb", parent="0000:00:01.0")
    snap: Snapshot = b.snapshot()
    return snap


def _dev(snap: Snapshot, addr: str = "0000:01:00.0") -> dict[str, Any]:
    return next(d for d in snap["pci_devices"] if d["address"] == addr)


def _listing_link(entry: str, target: str) -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        _dev(snap).setdefault("sysfs_listing", {})[entry] = {"link": target}
    return go


def _through_link(snap: Snapshot) -> None:
    """The old materialize() attack: a link to the victim, then a second device whose directory is
    under that link, so its attributes (config, vendor...) are written into the victim dir."""
    first = _dev(snap)
    first.setdefault("sysfs_listing", {})["virtfn0"] = {"link": "VICTIM"}
    second = _dev(snap, "0000:01:00.1")
    second["sysfs_path"] = first["sysfs_path"] + "/virtfn0/0000:01:00.1"


def _through_relative_link(snap: Snapshot) -> None:
    first = _dev(snap)
    first.setdefault("sysfs_listing", {})["physfn"] = {"link": "../" * 12 + "VICTIM_REL"}
    second = _dev(snap, "0000:01:00.1")
    second["sysfs_path"] = first["sysfs_path"] + "/physfn/0000:01:00.1"


def _file(path: str, content: str = "pwned\n") -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        snap.setdefault("vfio_tui", {}).setdefault("files", {})[path] = content
    return go


def _set(key: str, value: Any) -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        snap[key] = value
    return go


def _dev_set(key: str, value: Any) -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        _dev(snap)[key] = value
    return go


def _deep(snap: Snapshot) -> None:
    value: Any = "bottom"
    for _ in range(40):
        value = {"x": value}
    snap["vfio_tui"] = {"mounts": [], "nested": value}


def _module(name: str, param: str = "p") -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        snap.setdefault("modules", {})[name] = {param: "1"}
    return go


def _driver(name: str) -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        snap.setdefault("pci_drivers", {})[name] = {"bound": [], "files": ["bind"]}
    return go


def _dev_vfio(name: str) -> Callable[[Snapshot], None]:
    def go(snap: Snapshot) -> None:
        snap["dev_vfio"] = {name: {"major": 246, "minor": 0, "mode": "0o600", "uid": 0, "gid": 0}}
    return go


def _group_type(snap: Snapshot) -> None:
    snap["iommu_groups"]["2"]["type"] = "x" * 100_000


def _duplicate_path(snap: Snapshot) -> None:
    _dev(snap, "0000:01:00.1")["sysfs_path"] = _dev(snap)["sysfs_path"]


ATTACKS: dict[str, Callable[[Snapshot], None]] = {
    # links the tree would hold, then write through
    "iommu-link-absolute": _listing_link("iommu", "VICTIM"),
    "iommu-link-climbs-out": _listing_link("iommu", "../" * 12 + "VICTIM_REL"),
    "virtfn-link-absolute": _listing_link("virtfn0", "VICTIM"),
    "physfn-link-to-etc": _listing_link("physfn", "/etc"),
    "write-through-absolute-link": _through_link,
    "write-through-relative-link": _through_relative_link,
    # paths given by the recording
    "sysfs-path-dotdot": _dev_set("sysfs_path", "/devices/pci0000:00/../../../../VICTIM_REL/0000:01:00.0"),
    "sysfs-path-not-under-devices": _dev_set("sysfs_path", "/bus/pci/drivers/igb/0000:01:00.0"),
    "sysfs-path-of-another-device": _duplicate_path,
    "files-dotdot": _file("/etc/../../../../VICTIM_REL/pwned"),
    "files-relative": _file("etc/../../VICTIM_REL/pwned"),
    "files-outside-host-dirs": _file("/root/.ssh/authorized_keys"),
    "files-into-sim-state": _file("/.vfio-tui-sim-state.json", '{"faults":[{"kill":"before"}]}'),
    "files-through-device-link": _file("/sys/bus/pci/devices/0000:01:00.0/pwned"),
    "files-control-chars": _file("/etc/\x1b]0;x\x07"),
    # names that become path components
    "driver-name-dotdot": _dev_set("driver", ".."),
    "driver-table-slash": _driver("../../VICTIM_REL"),
    "module-name-slash": _module("../../../VICTIM_REL"),
    "module-param-dotdot": _module("vfio", ".."),
    "dev-vfio-node-slash": _dev_vfio("../../VICTIM_REL/pwned"),
    "net-interface-dotdot": _dev_set("net_interfaces", [".."]),
    "listing-entry-slash": _listing_link("a/../../x", "VICTIM"),
    # sizes and numbers
    "deep-nesting": _deep,
    "huge-group-number": _dev_set("iommu_group", 10**30),
    "negative-group": _dev_set("iommu_group", -1),
    "float-group": _dev_set("iommu_group", 1e308),
    "huge-config-space": _dev_set("config_hex", "00" * 100_000),
    "huge-attribute": _group_type,
    "label-not-text": _set("label", value={"a": [1, 2, 3]}),
}
"""name → what it does to the base recording."""

RAW_ATTACKS: dict[str, str] = {
    "nesting-beyond-the-parser": "[" * 200_000 + "]" * 200_000,
    "number-with-5000-digits": '{"schema": "vfio-lab-sysfs-snapshot/1", "pci_devices": [], "n": ' + "9" * 5000 + "}",
    "infinity-literal": '{"schema": "vfio-lab-sysfs-snapshot/1", "pci_devices": [], "n": Infinity}',
    "nan-literal": '{"schema": "vfio-lab-sysfs-snapshot/1", "pci_devices": [], "n": NaN}',
    "exponent-overflow": '{"schema": "vfio-lab-sysfs-snapshot/1", "pci_devices": [], "n": 1e999}',
    "not-utf8": '{"label": "\xff"}',
}
"""Attacks that are not valid recordings as JSON at all (written as they are)."""


def write_attacks(directory: Path, victim: Path) -> dict[str, Path]:
    """Every attack as a file in `directory`, aimed at `victim`; name → file."""
    directory.mkdir(parents=True, exist_ok=True)
    climb = "../" * 30 + str(victim).lstrip("/")  # from any directory of a tree, up to / and down to the victim
    out: dict[str, Path] = {}
    template = base()
    for name, attack in ATTACKS.items():
        snap = copy.deepcopy(template)
        attack(snap)
        text = json.dumps(snap).replace("VICTIM_REL", climb).replace("VICTIM", str(victim))
        out[name] = directory / f"{name}.json"
        out[name].write_text(text)
    for name, text in RAW_ATTACKS.items():
        out[name] = directory / f"{name}.json"
        out[name].write_bytes(text.encode("latin-1"))
    return out
