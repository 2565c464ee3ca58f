"""Benchmark (not a test): the ideas of issue 15 for the inventory read, each measured as a
Python loop against what the reader does today, on the same 4,096-function tree, in alternating
rounds. Prints medians in ms for the whole tree; core/sysfs_reader.py says why each was taken
or not.

    python bench/inventory_ideas.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROUNDS, alternate, synthetic_tree, timed  # noqa: E402

#: (idea, what the reader does today, the alternative measured against it)
IDEAS: list[tuple[str, str, str]] = [
    ("driver", "one listing per /sys/bus/pci/drivers/* (links by address)", "readlink DEV/driver per function"),
    ("driver, uevent", "one listing per /sys/bus/pci/drivers/*", "read DEV/uevent per function (DRIVER=)"),
    # The reader takes the listing when there are more than 4 functions per group (this tree has ~4.5).
    ("group", "readlink DEV/iommu_group per function", "one listing per /sys/kernel/iommu_groups/*/devices"),
    ("VF -> PF", "a listing of each PF and its virtfnN links (the reader knows PFs)",
     "readlink DEV/physfn per function (fails on all but VFs)"),
    ("names", "names of every function (pci.ids read, lookups per id)", "no names (skip them when not printed)"),
    ("config", "pread 264 bytes + 8 per extended header", "read the whole config file (4 KiB)"),
]


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _read(path: str, size: int = 4096) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def loops(tree: Path) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    from vfio_tui.core.configspace import parse_config
    from vfio_tui.core.hostpaths import HostPaths
    from vfio_tui.core.pciids import PciIds

    paths = HostPaths(tree)
    devdir = str(paths.pci_devices)
    names = sorted(os.listdir(devdir))
    groups, drivers = str(paths.iommu_groups), str(paths.pci_drivers)

    def per_function(leaf: str, fn: Callable[[str], object]) -> Callable[[], object]:
        return lambda: [fn(f"{devdir}/{n}/{leaf}") for n in names]

    def scan(top: str, sub: str) -> Callable[[], object]:
        return lambda: {m: d for d in _listdir(top) for m in _listdir(f"{top}/{d}{sub}")}

    pfs = [n for n in names if os.path.exists(f"{devdir}/{n}/sriov_totalvfs")]  # from the SR-IOV cap

    def virtfns() -> object:
        return {_readlink(f"{devdir}/{n}/{e}"): n for n in pfs for e in _listdir(f"{devdir}/{n}")
                if e.startswith("virtfn")}

    ids = [(f"{(c := _read(f'{devdir}/{n}/config', 12) or bytes(12))[1]:02x}{c[0]:02x}",
            f"{c[3]:02x}{c[2]:02x}", f"{c[11]:02x}{c[10]:02x}{c[9]:02x}") for n in names]

    def lookups(database: Callable[[], PciIds]) -> Callable[[], object]:
        def run() -> object:
            db, seen = database(), {}
            for vid, did, cls in ids:  # as the reader: once per distinct id
                if (vid, did) not in seen:
                    seen[vid, did] = (db.vendor(vid), db.device(vid, did), db.class_name(cls))
            return seen
        return run

    def headers() -> object:
        for n in names:
            fd = os.open(f"{devdir}/{n}/config", os.O_RDONLY)
            try:
                data = os.pread(fd, 0x108, 0)
                parse_config(data, read_ext=lambda off, fd=fd: os.pread(fd, 8, off))  # type: ignore[misc]
            finally:
                os.close(fd)
        return None

    def whole() -> object:
        return [parse_config(_read(f"{devdir}/{n}/config") or b"") for n in names]

    for n in names:  # a materialized tree has no uevent; write what the kernel's would say
        drv = _readlink(f"{devdir}/{n}/driver")
        cfg = _read(f"{devdir}/{n}/config", 16) or bytes(16)
        Path(f"{devdir}/{n}/uevent").write_text(
            (f"DRIVER={os.path.basename(drv)}\n" if drv else "")
            + f"PCI_CLASS={int.from_bytes(cfg[9:12], 'little'):X}\n"
            f"PCI_ID={cfg[1]:02X}{cfg[0]:02X}:{cfg[3]:02X}{cfg[2]:02X}\nPCI_SLOT_NAME={n}\n")
    return {
        "driver": (scan(drivers, ""), per_function("driver", _readlink)),
        "driver, uevent": (scan(drivers, ""), per_function("uevent", _read)),
        "group": (per_function("iommu_group", _readlink), scan(groups, "/devices")),
        "VF -> PF": (virtfns, per_function("physfn", _readlink)),
        "names": (lookups(lambda: PciIds.find(paths)), lookups(PciIds)),
        "config": (headers, whole),
    }


def main() -> int:
    with synthetic_tree(4096) as (tree, n):
        results = {}
        for name, (today, other) in loops(tree).items():
            s = alternate({"today": timed(today), "other": timed(other)})
            results[name] = (s["today"].median, s["other"].median)
    print(f"{n} functions, medians of {ROUNDS} alternating rounds, whole tree (today, then the other way):")
    for name, first, second in IDEAS:
        a, b = results[name]
        print(f"  {name:16s} {first:66s} {a * 1000:7.1f} ms")
        print(f"  {'':16s} {second:66s} {b * 1000:7.1f} ms  ({b / a:.2f}x today's)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
