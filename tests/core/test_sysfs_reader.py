"""The sysfs reader on odd trees (config files of every length, PCIe without extended space) and
the cost it promises: the standard space and extended headers only, a fixed handful of file
operations per function, none per function for SR-IOV links."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import NEEDS_ROOT
from vfio_tui.core.pciids import PciIds
from vfio_tui.core.sysfs_reader import read_inventory

HBA = PciAddress.parse("0000:0b:00.0")  # the demo's QLogic HBA (the seed's group 19)
PF = PciAddress.parse("0000:07:00.0")


@pytest.mark.parametrize("length", [0, 15, 16, 17, 63, 64, 65, 100, 255, 256, 257, 263, 264, 300, 4095, 4097, 9000])
def test_config_of_any_length_is_read_or_named(sim_root: HostPaths, length: int) -> None:
    cfg = sim_root.pci_device(HBA) / "config"
    whole = cfg.read_bytes()
    cfg.write_bytes((whole * 3)[:length])
    try:
        inv = read_inventory(sim_root, pci_ids=PciIds(), unprivileged=False)
    except HostDataError as err:
        assert length < 16 and "config" in str(err)
        return
    dev = inv.devices[HBA]
    assert (dev.vendor_id, dev.device_id) == ("1077", "2432")
    # 64 bytes or fewer is what a non-root reader gets: what lies beyond is unknown, not absent
    assert dev.config_complete == (length > 64)
    assert (dev.flr == NEEDS_ROOT) == (length <= 64)


def test_pcie_function_without_extended_space_has_no_acs_rather_than_needs_root(sim_root: HostPaths) -> None:
    """A host without MMCONFIG gives PCIe functions a 256-byte config file: ACS is absent there
    for the kernel too, which is not the same as unreadable."""
    port = PciAddress.parse("0000:00:01.0")
    cfg = sim_root.pci_device(port) / "config"
    cfg.write_bytes(cfg.read_bytes()[:256])
    dev = read_inventory(sim_root, pci_ids=PciIds(), unprivileged=False).devices[port]
    assert dev.pcie_port_type == "root_port" and dev.acs is None and dev.config_complete


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Counts the reader's file operations (and the bytes it asks of config files)."""
    calls: Counter[str] = Counter()
    real_open, real_pread, real_readlink, real_listdir = os.open, os.pread, os.readlink, os.listdir

    def op(name: str, real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls[name] += 1
            if name == "pread":
                calls["config bytes"] += args[1]
            if name == "readlink" and str(args[0]).endswith("/physfn"):
                calls["physfn"] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(os, "open", op("open", real_open))
    monkeypatch.setattr(os, "pread", op("pread", real_pread))
    monkeypatch.setattr(os, "readlink", op("readlink", real_readlink))
    monkeypatch.setattr(os, "listdir", op("listdir", real_listdir))
    yield calls


def test_a_handful_of_file_operations_per_function(sim_root: HostPaths, traced: Counter[str]) -> None:
    inv = read_inventory(sim_root, pci_ids=PciIds(), unprivileged=False)
    n = len(inv.devices)
    ext_headers = sum(1 for d in inv if d.pcie_port_type not in (None, NEEDS_ROOT))
    # config + driver_override + reset_method (+ boot_vga/sriov for the few they concern)
    assert traced["open"] <= 3 * n + 10
    # the path and iommu_group links (+ a PF's virtfn links); drivers come from one listing per
    # driver, VFs from their PF: never a driver or physfn readlink per function
    assert traced["readlink"] <= 2 * n + 4 and traced["physfn"] == 0
    drivers = len(list(os.scandir(sim_root.pci_drivers)))  # (scandir: not counted)
    nics = sum(1 for d in inv if d.class_code.startswith("02") and d.driver)
    pfs = sum(1 for d in inv if d.sriov_total_vfs is not None)
    # devices/, each driver, net/ of a NIC with a driver, each PF; groups/ and class/iommu
    assert traced["listdir"] <= 1 + drivers + 1 + nics + pfs + 2
    # 264 bytes (standard space + first extended header), then 8 per further header
    assert traced["config bytes"] <= 264 * n + 8 * 8 * ext_headers
    assert inv.devices[PciAddress.parse("0000:07:10.2")].physfn == PF  # VFs still known
    assert inv.devices[HBA].driver == "qla2xxx"


def test_as_a_user_config_stops_at_64_bytes(sim_root: HostPaths, traced: Counter[str]) -> None:
    inv = read_inventory(sim_root, pci_ids=PciIds(), unprivileged=True)
    assert traced["config bytes"] == 64 * len(inv.devices)
    assert not inv.privileged


def test_names_come_from_the_file_given(sim_root: HostPaths, tmp_path: Path) -> None:
    ids = tmp_path / "pci.ids"
    ids.write_text("1077  QLogic Corp.\n\t2432  ISP2432-based HBA\n\t\t1077 0137  QLE2460\n"
                   "8086  Intel\nC 0c  Serial bus controller\n\t04  Fibre Channel\n")
    dev = read_inventory(sim_root, pci_ids=PciIds.load(ids)).devices[HBA]
    assert (dev.vendor_name, dev.device_name, dev.class_name) == ("QLogic Corp.", "ISP2432-based HBA", "Fibre Channel")


def test_large_groups_come_from_their_listings_with_every_function_in_its_group(
        tmp_path: Path, traced: Counter[str]) -> None:
    # ~4.5 functions per group: one listing per group is cheaper than a readlink per function.
    from vfio_tui.core.simulated.materialize import materialize
    from vfio_tui.core.simulated.synthetic import synthetic_snapshot

    paths = materialize(synthetic_snapshot(256), tmp_path / "host")
    truth = {name: int(os.path.basename(os.readlink(paths.pci_devices / name / "iommu_group")))
             for name in os.listdir(paths.pci_devices)}
    groups = len(os.listdir(paths.iommu_groups))
    assert 4 * groups < len(truth)
    traced.clear()
    inv = read_inventory(paths, pci_ids=PciIds(), unprivileged=False)
    assert {str(a): d.iommu_group for a, d in inv.devices.items()} == truth
    assert {g: set(map(str, group.members)) for g, group in inv.groups.items()} == \
        {g: {n for n, t in truth.items() if t == g} for g in set(truth.values())}
    assert traced["readlink"] <= len(truth) + 4  # the device links only, no iommu_group link each
