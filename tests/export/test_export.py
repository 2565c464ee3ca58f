"""`vfio-tui export`: the snippets parse with each engine's own rules (tests/export/engine_schemas.py),
and a device in a shared IOMMU group is never exported alone — on the demo server, a synthetic GPU
farm that has every awkward case (two identical GPU cards, a group spanning two slots, a slot whose
functions are in different groups, an NVMe alone) and the lab's real-kernel recordings."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.export.engine_schemas import (
    KUBEVIRT_PCI_HOST_DEVICE_SCHEMA,
    NOVA_ALIAS_SCHEMA,
    check_nova_device_spec,
    check_pve_map,
    check_resource_name,
    parse_oslo_multistr,
    parse_pve_section_config,
    validate,
)
from tests.fixture_paths import RECORDED
from vfio_tui.core.export import GroupCandidate, host_candidates, local_node, render
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import materialized_host, open_host
from vfio_tui.core.simulated.synthetic import HostBuilder
from vfio_tui.core.usage import EXTRAS_SCHEMA
from vfio_tui.core.vmholds import VM_DEVICES_KEY


def farm_snapshot() -> dict[str, Any]:
    b = HostBuilder(label="farm1 (synthetic GPU farm)")
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0)
    for port, bus, gid in (("0000:00:01.0", 1, 1), ("0000:00:02.0", 2, 3), ("0000:00:03.0", 3, 5),
                           ("0000:00:04.0", 5, 8)):
        b.add(port, 0x8086, 0x3408, 0x060400, header_type=1, pcie="root_port", group=gid, acs=(0x5F, 0x1D),
              buses=(0, bus, bus), driver="pcieport")
    for bus, gid in ((1, 2), (2, 4)):  # two identical cards, each GPU + HDMI audio in its own group
        b.add(f"0000:0{bus}:00.0", 0x10DE, 0x1B80, 0x030000, group=gid, parent=f"0000:00:0{bus}.0",
              multifunction=True, driver="nouveau", pcie="endpoint")
        b.add(f"0000:0{bus}:00.1", 0x10DE, 0x10F0, 0x040300, group=gid, parent=f"0000:00:0{bus}.0",
              multifunction=True, driver="snd_hda_intel", pcie="endpoint")
    b.add("0000:03:00.0", 0x144D, 0xA808, 0x010802, group=6, parent="0000:00:03.0", driver="nvme", pcie="endpoint")
    # A conventional bridge: its two NICs (different slots) share one group with it.
    b.add("0000:00:1e.0", 0x8086, 0x244E, 0x060401, header_type=1, group=7, buses=(0, 4, 4))
    b.add("0000:04:01.0", 0x8086, 0x1076, 0x020000, group=7, parent="0000:00:1e.0", driver="e1000")
    b.add("0000:04:02.0", 0x8086, 0x1076, 0x020000, group=7, parent="0000:00:1e.0", driver="e1000")
    # A dual-port NIC whose functions the IOMMU isolates: one slot, two groups.
    b.add("0000:05:00.0", 0x8086, 0x1521, 0x020000, group=9, parent="0000:00:04.0", multifunction=True,
          driver="igb", pcie="endpoint", acs=(0x5F, 0x1D))
    b.add("0000:05:00.1", 0x8086, 0x1521, 0x020000, group=10, parent="0000:00:04.0", multifunction=True,
          driver="igb", pcie="endpoint", acs=(0x5F, 0x1D))
    # Host-use facts recorded (nothing used) and no VM holds anything.
    return b.snapshot(extras={"schema": EXTRAS_SCHEMA, "mounts": [], "net_interfaces": {}, VM_DEVICES_KEY: []})


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, Host]]:
    opened = {"host192": open_host(HostOptions(demo=True)),
              "farm1": materialized_host(farm_snapshot(), "snapshot", "recorded: farm1 (synthetic GPU farm)")}
    for path in sorted(RECORDED.glob("*.json")):
        from vfio_tui.core.snapshot import load_snapshot

        opened[path.stem] = materialized_host(load_snapshot(path), "snapshot", f"recorded: {path.stem}")
    yield opened
    for host in opened.values():
        host.close()


@pytest.fixture(scope="module")
def candidates(hosts: dict[str, Host]) -> dict[str, list[GroupCandidate]]:
    return {name: host_candidates(host, name, name.replace("_", "-")) for name, host in hosts.items()}


def _endpoint_groups(cands: list[GroupCandidate]) -> dict[str, tuple[str, ...]]:
    """{address: every endpoint of its group} on one host."""
    return {d.address: tuple(sorted(e.address for e in c.endpoints)) for c in cands for d in c.endpoints}


def _free(cands: list[GroupCandidate]) -> set[str]:
    return {d.address for c in cands if c.safe for d in c.endpoints}


# -- Nova -------------------------------------------------------------------------------------------

def _nova_blocks(text: str) -> dict[str, str]:
    """{node: its [pci] block}, and "aliases": the shared block."""
    out: dict[str, str] = {}
    name = None
    for line in text.splitlines(keepends=True):
        if line.startswith("# === compute node "):
            name = line.split()[4]
            out[name] = ""
        elif line.startswith("# === every node"):
            name = "aliases"
            out[name] = ""
        elif name is not None:
            out[name] += line
    return out


def test_nova_parses_with_novas_rules_and_keeps_groups_whole(candidates: dict[str, list[GroupCandidate]]) -> None:
    text = render("nova", candidates)
    blocks = _nova_blocks(text)
    aliases = parse_oslo_multistr(blocks.pop("aliases"), "pci")
    names = set()
    for raw in aliases["alias"]:
        alias = json.loads(raw)
        validate(alias, NOVA_ALIAS_SCHEMA)
        names.add(alias["name"])
    for host, cands in candidates.items():
        node = host.replace("_", "-")
        specs = [json.loads(v) for v in parse_oslo_multistr(blocks[node], "pci").get("device_spec", [])]
        for spec in specs:
            check_nova_device_spec(spec)
        exported = {s["address"] for s in specs}
        groups = _endpoint_groups(cands)
        for addr in exported:
            assert set(groups[addr]) <= exported, f"{host}: {addr} exported without its group-mates"
        assert exported <= _free(cands), f"{host}: a device that is not free was exported"
        for line in blocks[node].splitlines():
            if "pci_passthrough:alias=" in line:
                for ask in line.rpartition("pci_passthrough:alias=")[2].split(","):
                    assert ask.rpartition(":")[0] in names  # every alias a flavor is told to ask for exists


def test_nova_leaves_out_a_second_identical_card_and_says_why(candidates: dict[str, list[GroupCandidate]]) -> None:
    block = _nova_blocks(render("nova", {"farm1": candidates["farm1"]}))["farm1"]
    specs = {json.loads(v)["address"] for v in parse_oslo_multistr(block, "pci")["device_spec"]}
    assert {"0000:01:00.0", "0000:01:00.1"} <= specs and not specs & {"0000:02:00.0", "0000:02:00.1"}
    assert "# OUT 0000:02:00.0 " in block and "group 2 has the same ids: Nova could split the groups" in block
    assert "pci_passthrough:alias=vfio-gpu-10de-1b80:1,vfio-audio-10de-10f0:1" in block
    assert "0000:04:01.0" not in specs  # two identical NICs in one group: left out
    assert {"0000:05:00.0", "0000:05:00.1", "0000:03:00.0"} <= specs  # alone in their groups


# -- KubeVirt ---------------------------------------------------------------------------------------

def _yaml(text: str) -> Any:
    """Parsed by PyYAML (Debian's python3-yaml: the venv has none)."""
    py = shutil.which("python3", path="/usr/bin")
    probe = subprocess.run([py or "python3", "-c", "import yaml"], capture_output=True, check=False)
    if py is None or probe.returncode != 0:
        pytest.skip("needs python3-yaml (dev.sh TEST_PACKAGES)")
    res = subprocess.run([py, "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
                         input=text, capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def test_kubevirt_is_a_kubevirt_cr_and_exports_only_devices_alone_in_their_group(
        hosts: dict[str, Host], candidates: dict[str, list[GroupCandidate]]) -> None:
    text = render("kubevirt", candidates)
    doc = _yaml(text)
    assert doc["apiVersion"] == "kubevirt.io/v1" and doc["kind"] == "KubeVirt"
    items = doc["spec"]["configuration"]["permittedHostDevices"]["pciHostDevices"]
    assert items, "the demo and the farm have devices alone in a free group"
    selectors = set()
    for item in items:
        validate(item, KUBEVIRT_PCI_HOST_DEVICE_SCHEMA)
        check_resource_name(item["resourceName"])
        assert item["pciVendorSelector"] not in selectors
        selectors.add(item["pciVendorSelector"].lower())
    # Cluster-wide by id: every device any selector matches, on any host, is alone in its group,
    # and none that is not free sits on vfio-pci (KubeVirt would offer it).
    for host, cands in candidates.items():
        for c in cands:
            for d in c.endpoints:
                if d.ids in selectors:
                    assert not c.shared, f"{host} {d.address} matches {d.ids} but shares {c.describe()}"
                    assert c.safe or not d.on_vfio, f"{host} {d.address} is on vfio-pci and not free"
    assert "144d:a808" in selectors and "8086:1521" in selectors and "1077:2432" in selectors
    assert "10de:1b80" not in selectors and "8086:1076" not in selectors
    assert "8086:10ed" not in selectors  # the demo router's VF is on vfio-pci: it would be offered
    assert "# OUT 10de:1b80 farm1 0000:01:00.0" in text


# -- Proxmox ----------------------------------------------------------------------------------------

def test_proxmox_parses_as_pve_mappings_and_paths_cover_whole_groups(
        candidates: dict[str, list[GroupCandidate]]) -> None:
    text = render("proxmox", candidates)
    sections = parse_pve_section_config(text)
    assert sections
    by_node = {host.replace("_", "-"): cands for host, cands in candidates.items()}
    for name, props in sections.items():
        assert set(props) <= {"description", "map", "mdev"}
        for raw in props["map"]:
            m = check_pve_map(raw)
            cands = by_node[m["node"]]
            groups = _endpoint_groups(cands)
            slots = next(iter(cands)).slot_functions
            for path in m["path"].split(";"):
                covered = set(slots[path]) if path.count(".") == 0 else {path}
                group = set(groups[next(iter(covered))])
                assert covered == group, f"{name}: {path} is not exactly its IOMMU group {sorted(group)}"
                assert covered <= _free(cands)
            first = m["path"].split(";")[0]
            first_fn = first if "." in first else f"{first}.0"
            dev = next(d for c in cands for d in c.endpoints if d.address == first_fn)
            assert m["id"] == dev.ids and int(m["iommugroup"]) == dev.group
    farm = [check_pve_map(v) for p in sections.values() for v in p["map"] if "node=farm1" in v]
    paths = {m["path"] for m in farm}
    assert "0000:01:00;0000:02:00" in paths  # both cards, each as a whole slot, alternatives
    assert "0000:05:00.0;0000:05:00.1" in paths  # one slot, two groups: by function
    assert "0000:03:00.0" in paths
    assert "spans slots 0000:04:01, 0000:04:02" in text


def test_every_format_runs_from_the_cli_on_the_demo(run_cli: Any) -> None:
    for fmt in ("nova", "kubevirt", "proxmox"):
        res = run_cli("export", "--format", fmt, "--demo")
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith(f"# vfio-tui export --demo --format {fmt} (host192)")  # the host options repeated
    bad = run_cli("export", "--format", "nova", "--demo", "--node", "a b")
    assert bad.returncode == 2 and "--node" in bad.stderr
    both = run_cli("export", "--format", "nova", "--demo", "--fleet")
    assert both.returncode == 2 and "--fleet" in both.stderr


def test_a_recording_without_host_use_facts_exports_nothing(candidates: dict[str, list[GroupCandidate]]) -> None:
    for name in ("q35-viommu", "q35-viommu-bound"):
        cands = candidates[name]
        assert cands and not any(c.safe for c in cands)
        assert all("not recorded" in c.reason for c in cands if not c.reason.startswith(("0000", "only")))


def test_the_demo_node_is_its_recorded_name(hosts: dict[str, Host]) -> None:
    assert local_node(hosts["host192"]) == "host192"


def test_recorded_extras_path(tmp_path: Path) -> None:
    # The farm's recording replays through a file like any --host-snapshot.
    path = tmp_path / "farm.json"
    path.write_text(json.dumps(farm_snapshot()))
    with open_host(HostOptions(snapshot=path)) as host:
        cands = host_candidates(host, "farm1", "farm1")
    assert {c.group for c in cands if c.safe} == {2, 4, 6, 7, 9, 10}


def test_host_text_cannot_add_config_lines() -> None:
    """A hostile recording's VM name or device use (a newline, an escape) stays inside its comment."""
    snap = farm_snapshot()
    snap["vfio_tui"][VM_DEVICES_KEY] = [{"pci": "0000:03:00.0", "vm": "x\ndevice_spec = {\"address\": \"*\"}\x1b]0;t\x07",
                                         "state": "shut off", "active": False, "live": False}]
    with materialized_host(snap, "snapshot", "recorded: farm1") as host:
        cands = host_candidates(host, "farm1", "farm1")
    for fmt in ("nova", "kubevirt", "proxmox"):
        text = render(fmt, {"farm1": cands})
        assert "\x1b" not in text and '\ndevice_spec = {"address": "*"}' not in text
        assert all(line.lstrip().startswith(("#", "[", "device_spec = {\"vendor_id\"", "alias = {", "apiVersion",
                                             "kind", "metadata", "name:", "namespace", "spec", "configuration",
                                             "permittedHostDevices", "pciHostDevices", "- pciVendorSelector",
                                             "resourceName", "externalResourceProvider", "vfio-", "description",
                                             "map ")) or not line.strip() for line in text.splitlines()), fmt
