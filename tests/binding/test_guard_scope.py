"""The live guard asked about a few devices (a bind plan's group) gathers only the families of facts that
can concern them, and says about them exactly what a whole gathering says: a fake live host with every
kind of host use (root on LVM over NVMe, swap on SATA, a NIC with the default route, a USB NIC carrying
the SSH session, a USB keyboard, the console's framebuffer, 9p and virtiofs mounts) is asked about every
device alone, every pair and all of them."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tests.binding.test_virtio_mounts import _fake_guest
from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.usage import UsageMap, uses_from_extras
from vfio_tui.core.usage_live import gather_live_extras

SATA, NVME, NIC, NIC2, USB, VGA, IDLE, NIC3 = ("0000:00:01.0", "0000:00:02.0", "0000:00:03.0", "0000:00:04.0",
                                               "0000:00:05.0", "0000:00:06.0", "0000:00:07.0", "0000:00:08.0")
VIRTIO = ("0000:00:10.0", "0000:00:11.0", "0000:00:12.0", "0000:00:13.0", "0000:00:14.0")
DEVICES = (SATA, NVME, NIC, NIC2, USB, VGA, IDLE, NIC3, *VIRTIO)


class CountingFacts:
    """The psutil facts of this fake host, counting what the guard asks."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def mounts(self) -> list[dict[str, str]]:
        self.asked.append("mounts")
        return [{"source": "/dev/mapper/vg-root", "target": "/", "fstype": "ext4"},
                {"source": "/dev/sda2", "target": "/srv", "fstype": "xfs"}]

    def addresses(self) -> dict[str, list[str]]:
        self.asked.append("addresses")
        return {"lo": ["127.0.0.1"], "eth0": ["10.0.0.2", "fe80::1"], "usb0": ["192.168.1.5"], "br0": ["10.1.0.5"]}

    def up(self) -> set[str]:
        self.asked.append("up")
        return {"lo", "eth0", "usb0", "br0"}

    def process_names(self) -> frozenset[str]:
        self.asked.append("processes")
        return frozenset()


def _dev(root: Path, rel: str) -> Path:
    path = root / "sys" / "devices" / rel
    path.mkdir(parents=True, exist_ok=True)
    return path


def _class_link(root: Path, cls: str, name: str, rel: str) -> None:
    link = root / "sys" / "class" / cls / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(f"../../devices/{rel}", link)


def _stack(root: Path, upper: str, upper_rel: str, lower: str, lower_rel: str) -> None:
    """`upper` stacked on `lower`: the two links netdev_adjacent_sysfs_add() makes, one in each directory."""
    os.symlink(f"../../{os.path.relpath(lower_rel, os.path.dirname(os.path.dirname(upper_rel)))}",
               root / "sys" / "devices" / upper_rel / f"lower_{lower}")
    os.symlink(f"../../{os.path.relpath(upper_rel, os.path.dirname(os.path.dirname(lower_rel)))}",
               root / "sys" / "devices" / lower_rel / f"upper_{upper}")


def _host(root: Path) -> HostPaths:
    paths = _fake_guest(root)  # the virtio devices and their 9p/virtiofs mounts
    for pci in DEVICES:
        _dev(root, f"pci0000:00/{pci}")
        link = paths.pci_devices / pci
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(f"../../../devices/pci0000:00/{pci}", link)
    for name, rel in [("sda", f"pci0000:00/{SATA}/ata1/host0/target0:0:0/0:0:0:0/block/sda"),
                      ("nvme0n1", f"pci0000:00/{NVME}/nvme/nvme0/nvme0n1"),
                      ("dm-0", "virtual/block/dm-0")]:
        _dev(root, rel)
        _class_link(root, "block", name, rel)
    for part, disk in [("sda1", f"pci0000:00/{SATA}/ata1/host0/target0:0:0/0:0:0:0/block/sda"),
                       ("sda2", f"pci0000:00/{SATA}/ata1/host0/target0:0:0/0:0:0:0/block/sda"),
                       ("nvme0n1p1", f"pci0000:00/{NVME}/nvme/nvme0/nvme0n1")]:
        (_dev(root, f"{disk}/{part}") / "partition").write_text("1\n")
        _class_link(root, "block", part, f"{disk}/{part}")
    dm = _dev(root, "virtual/block/dm-0")
    (dm / "slaves").mkdir()
    (dm / "slaves" / "nvme0n1p1").write_text("")
    (dm / "dm").mkdir()
    (dm / "dm" / "name").write_text("vg-root\n")
    for ifname, rel in [("eth0", f"pci0000:00/{NIC}/net/eth0"), ("eth1", f"pci0000:00/{NIC2}/net/eth1"),
                        ("usb0", f"pci0000:00/{USB}/usb1/1-1/1-1:1.0/net/usb0"), ("lo", "virtual/net/lo"),
                        ("eth2", f"pci0000:00/{NIC3}/net/eth2")]:
        # IFF_UP is bit 0 of flags: eth1 and eth2 are down, as CountingFacts.up() says
        (_dev(root, rel) / "flags").write_text("0x1002\n" if ifname in ("eth1", "eth2") else "0x1003\n")
        _class_link(root, "net", ifname, rel)
    # br0, a bridge whose only port is eth1: its address lives on eth1's NIC (the kernel's lower_eth1 link)
    bridge = _dev(root, "virtual/net/br0")
    (bridge / "flags").write_text("0x1003\n")
    _stack(root, "br0", "virtual/net/br0", "eth1", f"pci0000:00/{NIC2}/net/eth1")
    _class_link(root, "net", "br0", "virtual/net/br0")
    kbd = f"pci0000:00/{USB}/usb1/1-2/1-2:1.0/0003:046D:C31C.0001/input/input3"
    mouse = f"pci0000:00/{USB}/usb1/1-3/1-3:1.0/0003:046D:C077.0002/input/input4"
    for rel, ev, name in [(kbd, "120013", "Logitech USB Keyboard"), (mouse, "17", "Logitech USB Mouse")]:
        (_dev(root, rel) / "capabilities").mkdir()
        (_dev(root, rel) / "capabilities" / "ev").write_text(ev + "\n")
        (_dev(root, rel) / "name").write_text(name + "\n")
        _class_link(root, "input", rel.rsplit("/", 1)[1], rel)
    fb = _dev(root, f"pci0000:00/{VGA}/graphics/fb0")
    (fb / "name").write_text("EFI VGA\n")
    os.symlink("../../../" + VGA, fb / "device")
    _class_link(root, "graphics", "fb0", f"pci0000:00/{VGA}/graphics/fb0")
    con = _dev(root, "virtual/vtconsole/vtcon1")
    (con / "name").write_text("(M) frame buffer device\n")
    (con / "bind").write_text("1\n")
    _class_link(root, "vtconsole", "vtcon1", "virtual/vtconsole/vtcon1")
    net = root / "proc" / "net"
    net.mkdir(parents=True)
    (net / "route").write_text("Iface\tDestination\tGateway\tFlags\nlo\t0000007F\t00000000\t0001\n"
                               "eth0\t00000000\t0100000A\t0003\n")
    (net / "ipv6_route").write_text("")
    (net / "tcp").write_text("  sl  local_address rem_address   st\n"
                             "   0: 0501A8C0:0016 0A01A8C0:D431 01 00000000:00000000\n")
    (net / "tcp6").write_text("")
    (root / "proc" / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n/dev/sda1\tpartition\t1\t0\t-2\n")
    return paths


def _within(uses: UsageMap, scope: tuple[str, ...]) -> dict[str, list[str]]:
    return {str(a): sorted(f"{u.kind}: {u.detail}" for u in us) for a, us in uses.items() if str(a) in scope}


@pytest.fixture(scope="module")
def fake_host(tmp_path_factory: pytest.TempPathFactory) -> HostPaths:
    return _host(tmp_path_factory.mktemp("live"))


def test_the_fake_host_has_every_kind_of_host_use(fake_host: HostPaths) -> None:
    uses = _within(uses_from_extras(gather_live_extras(fake_host, processes=False, sriov_nics=False,
                                                       facts=CountingFacts())), DEVICES)
    kinds = {a: {u.split(":")[0] for u in us} for a, us in uses.items()}
    assert kinds[NVME] == {"mount"} and kinds[SATA] == {"mount", "swap"}
    assert kinds[NIC] == {"netdev-address", "default-route"}
    assert kinds[USB] == {"netdev-address", "ssh-session", "keyboard"}
    assert kinds[VGA] == {"console"} and kinds[VIRTIO[1]] == {"mount"}
    assert kinds[NIC2] == {"netdev-address"} and "br0 has 10.1.0.5 (through eth1" in uses[NIC2][0]
    assert IDLE not in kinds and NIC3 not in kinds and VIRTIO[3] not in kinds


@pytest.mark.parametrize("scope", [(d,) for d in DEVICES] + list(itertools.combinations(DEVICES[:8], 2)) + [DEVICES])
def test_a_scoped_guard_says_what_the_whole_guard_says_about_its_devices(
        fake_host: HostPaths, scope: tuple[str, ...]) -> None:
    whole = uses_from_extras(gather_live_extras(fake_host, processes=False, sriov_nics=False, facts=CountingFacts()))
    scoped = gather_live_extras(fake_host, processes=False, sriov_nics=False, facts=CountingFacts(),
                                scope=[PciAddress.parse(a) for a in scope])
    assert _within(uses_from_extras(scoped), scope) == _within(whole, scope)
    whole_net = gather_live_extras(fake_host, processes=False, sriov_nics=False, facts=CountingFacts())["net_interfaces"]
    for ifname, info in scoped["net_interfaces"].items():
        assert info == whole_net[ifname]


@pytest.mark.parametrize(("scope", "asked"), [
    ((IDLE,), []), ((NIC2,), ["addresses"]), ((NIC3,), ["addresses"]), ((VGA,), []), ((SATA,), ["mounts"]),
    ((VIRTIO[0],), []), ((USB, SATA), ["mounts", "addresses"]),
])
def test_a_scoped_guard_asks_only_for_the_facts_that_can_concern_it(
        fake_host: HostPaths, scope: tuple[str, ...], asked: list[str]) -> None:
    facts = CountingFacts()
    extras = gather_live_extras(fake_host, processes=False, sriov_nics=False, facts=facts,
                                scope=[PciAddress.parse(a) for a in scope])
    assert facts.asked == asked
    assert bool(extras["virtio_tags"]) == (scope == (VIRTIO[0],))


@pytest.mark.parametrize(("scope", "reads_tcp"), [((NIC3,), False), ((NIC2,), True), ((NIC,), True), ((USB,), True),
                                                  (None, True)])
def test_tcp_sessions_are_read_only_when_an_interface_asked_about_has_an_address(
        fake_host: HostPaths, monkeypatch: pytest.MonkeyPatch, scope: tuple[str, ...] | None, reads_tcp: bool) -> None:
    import vfio_tui.core.usage_live as usage
    from vfio_tui.core.usage_net import established_tcp as real

    calls: list[int | None] = []

    def counting(paths: HostPaths, local_port: int | None = None) -> list[tuple[str, int, str, int]]:
        calls.append(local_port)
        return real(paths, local_port)

    monkeypatch.setattr(usage, "established_tcp", counting)
    gather_live_extras(fake_host, processes=False, sriov_nics=False, facts=CountingFacts(),
                       scope=None if scope is None else [PciAddress.parse(a) for a in scope])
    assert calls == ([22] if reads_tcp else [])


def test_an_address_on_a_bridge_over_a_bond_is_host_use_of_every_nic_under_it() -> None:
    nics = {
        "br0": {"pci": None, "addresses": ["192.0.2.10/24"], "lower": ["bond0"]},
        "bond0": {"pci": None, "addresses": [], "lower": ["eno1", "eno2"]},
        "eno1": {"pci": "0000:03:00.0", "addresses": []},
        "eno2": {"pci": "0000:03:00.1", "addresses": []},
        "eno3": {"pci": "0000:04:00.0", "addresses": []},
        "loop-a": {"pci": None, "addresses": ["198.51.100.1/24"], "lower": ["loop-b"]},  # a cycle: still ends
        "loop-b": {"pci": None, "addresses": [], "lower": ["loop-a"]},
    }
    uses = uses_from_extras({
        "net_interfaces": nics, "routes": [{"destination": "default", "gateway": "192.0.2.1", "dev": "br0"}],
        "sessions": [{"kind": "ssh", "remote": "198.51.100.7:50000", "dev": "br0", "user": None}],
    })
    for nic, port in [("0000:03:00.0", "eno1"), ("0000:03:00.1", "eno2")]:
        got = {u.kind: u for u in uses[PciAddress.parse(nic)]}
        assert set(got) == {"netdev-address", "default-route", "ssh-session"}
        assert got["netdev-address"].detail == f"br0 has 192.0.2.10/24 (through {port}, which it is stacked on)"
        assert f"take {port} out from under it" in got["netdev-address"].fix
    assert PciAddress.parse("0000:04:00.0") not in uses


STACK_NICS = ("0000:00:03.0", "0000:00:04.0", "0000:00:05.0", "0000:00:06.0", "0000:00:07.0")


@pytest.fixture(scope="module")
def stacked_host(tmp_path_factory: pytest.TempPathFactory) -> HostPaths:
    """vlan10 (with the address and the default route) on br0, a bridge whose ports are bond0 (over eno1 and
    eno2) and eno3; macvlan0 on eno4 (an address of its own); eno5 alone and idle; a cycle of two
    virtual interfaces, one with an address, whose listing must still end."""
    root = tmp_path_factory.mktemp("stacked")
    paths = HostPaths(root)
    rels: dict[str, str] = {}
    for n, pci in enumerate(STACK_NICS, 1):
        rels[f"eno{n}"] = f"pci0000:00/{pci}/net/eno{n}"
    for name in ("bond0", "br0", "vlan10", "macvlan0", "loop-a", "loop-b", "lo"):
        rels[name] = f"virtual/net/{name}"
    for name, rel in rels.items():
        (_dev(root, rel) / "flags").write_text("0x1003\n")
        _class_link(root, "net", name, rel)
    for upper, lower in [("bond0", "eno1"), ("bond0", "eno2"), ("br0", "bond0"), ("br0", "eno3"),
                         ("vlan10", "br0"), ("macvlan0", "eno4"), ("loop-a", "loop-b"), ("loop-b", "loop-a")]:
        _stack(root, upper, rels[upper], lower, rels[lower])
    (root / "proc" / "net").mkdir(parents=True)
    (root / "proc" / "net" / "route").write_text("Iface\tDestination\tGateway\nvlan10\t00000000\t0100000A\n")
    (root / "proc" / "net" / "ipv6_route").write_text("")
    (root / "proc" / "net" / "tcp").write_text("")
    (root / "proc" / "net" / "tcp6").write_text("")
    (root / "proc" / "swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")
    return paths


class StackFacts(CountingFacts):
    def addresses(self) -> dict[str, list[str]]:
        self.asked.append("addresses")
        return {"lo": ["127.0.0.1"], "vlan10": ["10.0.0.2"], "macvlan0": ["10.9.0.2"], "loop-a": ["10.7.0.1"]}

    def up(self) -> set[str]:
        self.asked.append("up")
        return {"lo", "vlan10", "br0", "bond0", "macvlan0", "loop-a", "loop-b", "eno1", "eno2", "eno3", "eno4",
                "eno5"}


@pytest.mark.parametrize("scope", [(d,) for d in STACK_NICS] + list(itertools.combinations(STACK_NICS, 2))
                         + [STACK_NICS])
def test_stacked_interfaces_are_found_up_from_the_nics_asked_about(
        stacked_host: HostPaths, scope: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    import vfio_tui.core.usage_net as usage_net
    from vfio_tui.core.sysfs_function import list_dir as real

    whole = gather_live_extras(stacked_host, processes=False, sriov_nics=False, facts=StackFacts())
    listed: list[str] = []

    def counting(path: str) -> list[str]:
        listed.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(usage_net, "list_dir", counting)
    scoped = gather_live_extras(stacked_host, processes=False, sriov_nics=False, facts=StackFacts(),
                                scope=[PciAddress.parse(a) for a in scope])
    assert _within(uses_from_extras(scoped), scope) == _within(uses_from_extras(whole), scope)
    for ifname, info in scoped["net_interfaces"].items():
        assert info == whole["net_interfaces"][ifname]
    # Only the interfaces concerned are listed: eno5 (alone) never lists anyone else's directory.
    if scope == (STACK_NICS[4],):
        assert sorted(listed) == ["eno5"]


def test_an_address_two_stacks_up_is_host_use_of_every_nic_under_it(stacked_host: HostPaths) -> None:
    for pci, port in [(STACK_NICS[0], "eno1"), (STACK_NICS[1], "eno2"), (STACK_NICS[2], "eno3")]:
        scoped = gather_live_extras(stacked_host, processes=False, sriov_nics=False, facts=StackFacts(),
                                    scope=[PciAddress.parse(pci)])
        kinds = {u.kind: u.detail for u in uses_from_extras(scoped)[PciAddress.parse(pci)]}
        assert set(kinds) == {"netdev-address", "default-route"}
        assert kinds["netdev-address"].startswith("vlan10 has 10.0.0.2") and port in kinds["netdev-address"]
    macvlan = uses_from_extras(gather_live_extras(stacked_host, processes=False, sriov_nics=False,
                                                  facts=StackFacts(), scope=[PciAddress.parse(STACK_NICS[3])]))
    assert [u.detail.split(" (")[0] for u in macvlan[PciAddress.parse(STACK_NICS[3])]] == ["macvlan0 has 10.9.0.2"]
    alone = gather_live_extras(stacked_host, processes=False, sriov_nics=False, facts=StackFacts(),
                               scope=[PciAddress.parse(STACK_NICS[4])])
    assert PciAddress.parse(STACK_NICS[4]) not in uses_from_extras(alone)
    assert set(alone["net_interfaces"]) == {"eno5"}
