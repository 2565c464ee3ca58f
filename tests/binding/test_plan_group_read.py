"""A bind plan reads only its IOMMU group (and the PFs of the group's VFs); what it decides must be what
a whole-host read decides: for every device of every demo and recorded host, the same plan or the same
refusal, and the same facts about each function it read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixture_paths import RECORDED
from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import plan_bind
from vfio_tui.core.demos import DEMO_NAMES
from vfio_tui.core.errors import VfioError
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import open_host

VF_PF = "0000:07:00.1"  # host192's second 82599 port: VFs enabled below


def _outcome(host: Host, addr: PciAddress, whole: bool, forced: tuple[PciAddress, ...] = ()) -> object:
    inventory = host.inventory(names=False, focus=addr) if whole else None
    try:
        return plan_bind(host, addr, inventory=inventory, force_host_devices=forced).to_json()
    except VfioError as exc:
        return ("refused", type(exc).__name__, str(exc))


def _hosts(tmp_path: Path) -> Iterator[tuple[str, Host]]:
    for name in DEMO_NAMES:
        yield f"demo {name}", open_host(HostOptions(demo=True, demo_name=name))
    yield "demo host192 as a user", open_host(HostOptions(demo=True, unprivileged=True))
    with_vfs = open_host(HostOptions(demo=True))
    with_vfs.kernel.write(with_vfs.paths.pci_device(VF_PF) / "sriov_numvfs", "3")
    yield "demo host192 with 3 VFs", with_vfs
    for path in sorted(RECORDED.glob("*.json")):
        yield f"recording {path.name}", open_host(HostOptions(snapshot=path))


def test_every_plan_from_the_group_alone_is_the_whole_hosts_plan(tmp_path: Path) -> None:
    compared = 0
    with_vf = False
    for label, host in _hosts(tmp_path):
        with host:
            whole = host.inventory(names=False)
            everything = sorted(whole.devices)
            for addr in everything:
                scoped = _outcome(host, addr, whole=False)
                assert scoped == _outcome(host, addr, whole=True), f"{label}: {addr}"
                compared += 1
                # --force-host-device: a member, a device of another group, one that does not exist
                group = whole.group_of(addr)
                members = group.members if group is not None else ()
                other = next((a for a in everything if a not in members), None)
                for forced in [members[:1], (other,) if other else (), (PciAddress.parse("0000:fe:1f.7"),)]:
                    assert _outcome(host, addr, False, forced) == _outcome(host, addr, True, forced), \
                        f"{label}: {addr} --force-host-device {forced}"
                if whole.devices[addr].physfn is not None:
                    with_vf = True
    assert compared > 150 and with_vf


@pytest.mark.parametrize("focus", ["0000:07:00.1", "0000:02:00.0", "0000:00:1f.2", "0000:05:00.0"])
def test_the_group_read_holds_the_whole_reads_facts(focus: str) -> None:
    with open_host(HostOptions(demo=True)) as host:
        host.kernel.write(host.paths.pci_device(VF_PF) / "sriov_numvfs", "2")
        addr = PciAddress.parse(focus)
        whole = host.inventory(names=False, focus=addr)
        part = host.inventory(names=False, focus=addr, group_only=True)
        group = whole.group_of(addr)
        assert group is not None and part.partial_group == group.id and whole.partial_group is None
        assert part.groups == {group.id: group}
        assert part.verdicts[group.id] == whole.verdicts[group.id]
        for a, dev in part.devices.items():
            assert dev == whole.devices[a]
            assert part.uses_of(a) == whole.uses_of(a)
        assert set(group.members) <= set(part.devices)


def test_a_vf_plan_reads_its_pf_for_the_pfs_driver() -> None:
    with open_host(HostOptions(demo=True)) as host:
        host.kernel.write(host.paths.pci_device(VF_PF) / "sriov_numvfs", "1")
        vf = next(d for d in host.inventory(names=False) if d.physfn == PciAddress.parse(VF_PF))
        part = host.inventory(names=False, focus=vf.address, group_only=True)
        assert part.device(PciAddress.parse(VF_PF)) is not None  # its driver decides the VF-token warning
        assert vf.iommu_group is not None and set(part.groups) == {vf.iommu_group}


@pytest.mark.parametrize("focus", ["0000:00:00.7", "0000:7f:00.0"])
def test_an_unknown_address_reads_the_whole_host(focus: str) -> None:
    with open_host(HostOptions(demo=True)) as host:
        part = host.inventory(names=False, focus=PciAddress.parse(focus), group_only=True)
        assert part.partial_group is None and len(part.devices) == len(host.inventory(names=False).devices)
