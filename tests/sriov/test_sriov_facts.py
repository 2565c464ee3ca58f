"""SR-IOV facts: the inventory's PFs and VFs (JSON contract, tree, recorded replay), the VF NIC settings
parsed from `ip -j link show`, shared groups, and the VF token of a vfio-pci PF."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vfio_tui.core.host import Host
from vfio_tui.core.simulated.synthetic import HostBuilder
from vfio_tui.core.sriov import apply_sriov, plan_sriov
from vfio_tui.core.sriovinfo.netinfo import normalize_vf, parse_ip_link, recorded_sriov_nics

Run = Callable[..., subprocess.CompletedProcess[str]]

# iproute2 6.1 (Debian 12) `ip -j link show dev enp7s0f0` on an ixgbe PF with two VFs (print_vfinfo()).
IP_JSON = json.dumps([{
    "ifindex": 4, "ifname": "enp7s0f0", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"], "mtu": 1500,
    "qdisc": "mq", "operstate": "UP", "linkmode": "DEFAULT", "group": "default", "txqlen": 1000,
    "link_type": "ether", "address": "90:e2:ba:00:00:01", "broadcast": "ff:ff:ff:ff:ff:ff",
    "vfinfo_list": [
        {"vf": 0, "link_type": "ether", "address": "02:1b:21:7a:00:10", "broadcast": "ff:ff:ff:ff:ff:ff",
         "spoofchk": True, "link_state": "auto", "trust": False, "query_rss_en": False},
        {"vf": 1, "link_type": "ether", "address": "52:54:00:6d:90:02", "broadcast": "ff:ff:ff:ff:ff:ff",
         "vlan_list": [{"vlan": 42}], "rate": {"max_tx": 0, "min_tx": 0}, "spoofchk": True, "link_state": "auto",
         "trust": True, "query_rss_en": False},
    ]}])


def test_ip_link_json_of_iproute2() -> None:
    ifname, vfs = parse_ip_link(IP_JSON)
    assert ifname == "enp7s0f0"
    assert vfs == [
        {"vf": 0, "mac": "02:1b:21:7a:00:10", "vlan": 0, "qos": 0, "spoofchk": True, "trust": False, "link_state": "auto"},
        {"vf": 1, "mac": "52:54:00:6d:90:02", "vlan": 42, "qos": 0, "spoofchk": True, "trust": True, "link_state": "auto"},
    ]


def test_older_iproute2_said_mac_and_vlan() -> None:
    # before iproute2 5.x print_vfinfo() printed "mac" and a plain "vlan"/"qos"
    assert normalize_vf({"vf": 3, "mac": "52:54:00:00:00:03", "vlan": 7, "qos": 2}) == {
        "vf": 3, "mac": "52:54:00:00:00:03", "vlan": 7, "qos": 2, "spoofchk": None, "trust": None, "link_state": None}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=6),
                           max_leaves=30)


@given(st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_parse_ip_link_never_raises(text: str) -> None:
    ifname, vfs = parse_ip_link(text)
    assert ifname is None or isinstance(ifname, str)
    for v in vfs:
        assert isinstance(v["vf"], int) and v["vf"] >= 0
        assert set(v) == {"vf", "mac", "vlan", "qos", "spoofchk", "trust", "link_state"}


@given(st.dictionaries(st.text(max_size=12), json_values, max_size=4))
def test_recorded_nics_skip_what_is_not_theirs(raw: dict[str, Any]) -> None:
    out = recorded_sriov_nics({"sriov_nics": raw})
    assert set(out) <= set(raw)


def test_inventory_json_keeps_the_contract_and_adds_the_vfs(run_cli: Run) -> None:
    inv = json.loads(run_cli("inventory", "--demo", "--json").stdout)
    pf = next(d for g in inv["groups"] for d in g["devices"] if d["address"] == "0000:07:00.0")
    s = pf["sriov"]
    assert (s["total_vfs"], s["enabled_vfs"], s["drivers_autoprobe"]) == (63, 2, True)
    assert s["vfs"][1] == {"address": "0000:07:10.2", "index": 1, "iommu_group": 17, "driver": "vfio-pci",
                           "own_group": True, "mac": "52:54:00:6d:90:02", "vlan": 42, "qos": 0, "trust": False,
                           "spoofchk": True, "link_state": "auto", "held_by": ["router (running)"]}


def test_the_tree_lists_the_vfs_under_their_pf(run_cli: Run) -> None:
    out = run_cli("inventory", "--demo", "--group", "14").stdout.splitlines()
    i = next(n for n, line in enumerate(out) if "07:00.0 Ethernet controller" in line)
    assert out[i + 1].split() [:5] == ["VF", "0:", "07:10.0", "group", "16"]
    assert "held by VM router (running)" in out[i + 2]


def test_a_snapshot_replays_the_vfs_and_their_vms(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    assert run_cli("snapshot", str(out), "--demo").returncode == 0
    a = json.loads(run_cli("inventory", "--demo", "--json").stdout)
    b = json.loads(run_cli("inventory", "--host-snapshot", str(out), "--json").stdout)
    pfs = [[d["sriov"] for g in x["groups"] for d in g["devices"] if d["sriov"]] for x in (a, b)]
    assert pfs[0] == pfs[1]


def test_vfs_behind_a_port_without_acs_are_named_shared(make_host: Callable[..., Host]) -> None:
    b = HostBuilder(label="no ACS")
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0)
    b.add("0000:00:1c.0", 0x8086, 0x3A40, 0x060400, group=1, header_type=1, driver="pcieport",
          pcie="root_port", buses=(0, 1, 1))
    b.add("0000:01:00.0", 0x8086, 0x1521, 0x020000, group=1, parent="0000:00:1c.0", driver="igb",
          pcie="endpoint", flr=True, sriov=(7, 0), sriov_vf=(0x80, 4, 0x1520))
    host = make_host(b.snapshot({"schema": "vfio-tui/host-extras/1"}))
    result = apply_sriov(host, plan_sriov(host, "0000:01:00.0", 2))
    assert [v.own_group for v in result.vfs] == [False, False]
    assert any("shares IOMMU group 1 with 0000:00:1c.0, 0000:01:00.0" in w and "no ACS" in w for w in result.warnings)


def test_a_vf_of_a_vfio_pci_pf_is_refused_for_a_vm(run_cli: Run, tmp_path: Path, demo: Host) -> None:
    tree = demo.paths.root
    assert run_cli("bind", "07:00.1", "--root", str(tree), "--yes").returncode == 0
    (demo.paths.module("vfio_pci") / "parameters" / "enable_sriov").write_text("Y\n")
    s = run_cli("sriov", "07:00.1", "--vfs", "1", "--root", str(tree), "--yes")
    assert s.returncode == 0, s.stdout + s.stderr
    assert "captured by vfio-pci" in s.stdout and "(group 20, vfio-pci)" in s.stdout
    p = run_cli("pass", "07:10.1", "vfio_test", "--root", str(tree), "--yes")
    assert p.returncode == 3
    assert "VF token" in p.stdout and re.search(r"vfio-tui restore (--root \S+ )?0000:07:00\.1", p.stdout), p.stdout
    b = run_cli("bind", "07:10.1", "--root", str(tree), "--dry-run")
    assert b.returncode == 0 and "WARNING:" in b.stdout and "VF token" in b.stdout
