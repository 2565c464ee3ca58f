"""Remote hosts through a real OpenSSH server (Debian's sshd on a private port, temp keys and config):
a sim-host tree with vfio-tui installed, the demo, a host without vfio-tui (the collector), a host
that is down and one whose key is unknown. What a user notices: `hosts add` says what works there,
`fleet --json` lists every host (the down one with its reason), `--on NAME` reads are the local
command on the same tree, `pass` runs on the host (dry run, and a real run streamed as JSON events,
then undone), and changes on a host without vfio-tui are refused with how to fix it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT
from tests.remote.sshd import TestSshd, sshd_missing

pytestmark = pytest.mark.skipif(sshd_missing() is not None, reason=sshd_missing() or "")

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def sshd() -> Iterator[TestSshd]:
    with TestSshd() as server:
        yield server


@pytest.fixture(scope="module")
def cli(sshd: TestSshd) -> Cli:
    def run(*args: str, timeout: float = 180, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "vfio_tui", *args], capture_output=True, text=True, input=stdin,
                              cwd=REPO_ROOT, env={**cli_env(), **sshd.env}, timeout=timeout, check=False)

    return run


@pytest.fixture(scope="module")
def trees(sshd: TestSshd, cli: Cli) -> dict[str, Path]:
    """Two sim-host trees "on the remote machine", and the hosts added for them."""
    out = {}
    for name in ("tree", "bare"):
        path = sshd.dir / f"host-{name}"
        assert cli("sim-host", str(path)).returncode == 0
        out[name] = path
    added = cli("hosts", "add", "tree", "vt-installed", "--remote-root", str(out["tree"]))
    assert added.returncode == 0, added.stderr
    assert "vfio-tui 0.1.0 at" in added.stdout and "reads and changes" in added.stdout
    added = cli("hosts", "add", "demo", "vt-installed", "--remote-demo")
    assert added.returncode == 0, added.stderr
    added = cli("hosts", "add", "bare", "vt-bare", "--remote-root", str(out["bare"]))
    assert added.returncode == 0, added.stderr
    assert "not installed: reads with the collector" in added.stdout
    assert "changes need vfio-tui there" in added.stdout
    # Nothing listens on the port after sshd's: a host that is down. Added without a check.
    assert cli("hosts", "add", "down", f"root@127.0.0.1:{sshd.port + 1}", "--no-check",
               "--remote-root", str(out["tree"])).returncode == 0
    return out


def _inventory_without_label(text: str) -> dict[str, object]:
    data = json.loads(text)
    assert isinstance(data, dict)
    data.pop("host")
    return data


def _without_vf_holders(data: dict[str, object]) -> dict[str, object]:
    text = json.dumps(data)
    out = json.loads(text)
    for group in out["groups"]:
        for dev in group["devices"]:
            for vf in (dev.get("sriov") or {}).get("vfs") or []:
                vf.pop("held_by", None)
    assert isinstance(out, dict)
    return out


def test_hosts_are_listed_and_stored_privately(sshd: TestSshd, cli: Cli, trees: dict[str, Path]) -> None:
    listed = cli("hosts", "list", "--json")
    assert listed.returncode == 0
    names = [h["name"] for h in json.loads(listed.stdout)["hosts"]]
    assert names == ["tree", "demo", "bare", "down"]
    stored = sshd.dir / "config" / "vfio-tui" / "hosts.toml"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert 'destination = "vt-installed"' in stored.read_text()


def test_remote_inventory_is_the_local_one(cli: Cli, trees: dict[str, Path]) -> None:
    local = cli("inventory", "--root", str(trees["tree"]), "--json")
    remote = cli("inventory", "--on", "tree", "--json")
    assert remote.returncode == 0, remote.stderr
    assert _inventory_without_label(remote.stdout) == _inventory_without_label(local.stdout)
    assert json.loads(remote.stdout)["host"].startswith("tree: ")
    # Without vfio-tui on the host: the collector's recording gives the same inventory.
    collected = cli("inventory", "--on", "bare", "--json")
    assert collected.returncode == 0, collected.stderr
    # The collector reads files only and never asks libvirt, so which VM holds a VF is unknown there
    # (no `held_by`, not an empty one); everything else is the same.
    assert _inventory_without_label(collected.stdout) == _without_vf_holders(_inventory_without_label(local.stdout))


def test_fleet_json_lists_every_host_and_the_down_one_with_its_reason(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("fleet", "--json")
    assert res.returncode == 1  # one host did not answer; the others are complete
    data = json.loads(res.stdout)
    assert data["schema"] == "vfio-tui/fleet/1"
    hosts = {h["name"]: h for h in data["hosts"]}
    assert list(hosts) == ["tree", "demo", "bare", "down"]
    assert data["down"] == ["down"]
    assert hosts["down"]["ok"] is False and hosts["down"]["error_kind"] == "unreachable"
    assert "connection refused" in hosts["down"]["error"]
    for name in ("tree", "demo", "bare"):
        h = hosts[name]
        assert h["ok"] is True and h["kernel"] == "6.1.0-28-amd64"
        assert h["iommu"]["enabled"] is True and h["iommu"]["units"] == ["dmar0"]
        assert h["groups"] == 20
    assert hosts["tree"]["reader"] == "vfio-tui" and hosts["bare"]["reader"] == "collector"
    tree = hosts["tree"]
    # The demo server: the GTX 1080 goes with its HDMI audio; the NIC pair in nic_test's definition
    # and the VF the running router holds are not free.
    gpus = [d for d in tree["free"]["devices"] if d["class"] == "gpu"]
    assert [(g["address"], g["group_mates"]) for g in gpus] == [("0000:0a:00.0", ["0000:0a:00.1"])]
    free = {d["address"] for d in tree["free"]["devices"]}
    assert "0000:0b:00.0" in free and "0000:02:00.0" not in free and "0000:07:10.2" not in free
    assert {"address": "0000:07:10.2", "vm": "router", "state": "running"} in tree["held_by_vms"]
    assert {"address": "0000:02:00.0", "vm": "nic_test", "state": "shut off"} in tree["assigned_to_vms"]
    # The collector records no VM holds on a sim-host tree (no libvirt there): it says so, it does
    # not claim devices are free.
    assert hosts["bare"]["vms_recorded"] is False and hosts["bare"]["free"]["devices"] == []


def test_fleet_class_filter_answers_which_host_has_a_free_gpu(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("fleet", "--class", "gpu")
    assert res.returncode == 1
    assert "free gpu devices:" in res.stdout
    assert "tree  0000:0a:00.0  group 18  NVIDIA Corporation GP104 [GeForce GTX 1080]" in res.stdout
    assert "(with 0000:0a:00.1)" in res.stdout
    assert "down  DOWN: down (root@127.0.0.1:" in res.stdout


def test_remote_pass_dry_run_is_planned_on_the_host(cli: Cli, trees: dict[str, Path]) -> None:
    before = (trees["tree"] / "sys/bus/pci/devices/0000:0b:00.0/driver_override").read_text()
    res = cli("pass", "0b:00.0", "vfio_test", "--on", "tree", "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "Plan: pass 0000:0b:00.0 (IOMMU group 19) to vfio_test" in res.stdout
    assert "dry run: nothing was changed" in res.stdout
    assert "on tree (vt-installed): vfio-tui pass 0b:00.0 vfio_test --dry-run" in res.stderr
    assert (trees["tree"] / "sys/bus/pci/devices/0000:0b:00.0/driver_override").read_text() == before
    # A refused plan is the host's refusal, with its exit status.
    refused = cli("pass", "03:00.0", "vfio_test", "--on", "tree", "--dry-run")
    assert refused.returncode == 3
    assert "REFUSED" in refused.stdout


def test_remote_pass_streams_json_events_and_undo_takes_it_back(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("pass", "0b:00.0", "vfio_test", "--on", "tree", "--yes", "--json")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert events[0]["event"] == "plan" and events[-1]["event"] == "result"
    assert {"bind", "verify", "attach"} <= {e.get("phase") for e in events if e["event"] == "step"}
    assert events[-1]["ok"] is True
    run_id = events[-1]["run_id"]
    # The journal lives on the host: its own tree has the run record and the device on vfio-pci.
    assert (trees["tree"] / "sys/bus/pci/devices/0000:0b:00.0/driver").resolve().name == "vfio-pci"
    assert (trees["tree"] / "var/lib/vfio-tui/runs" / f"{run_id}.json").exists()
    listed = cli("undo", "--list", "--on", "tree")
    assert run_id in listed.stdout
    undone = cli("undo", run_id, "--on", "tree", "--yes")
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert f"Undone ({run_id})" in undone.stdout
    assert (trees["tree"] / "sys/bus/pci/devices/0000:0b:00.0/driver").resolve().name == "qla2xxx"


def test_changes_need_vfio_tui_on_the_host(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("pass", "0b:00.0", "vfio_test", "--on", "bare", "--dry-run")
    assert res.returncode == 2
    assert "vfio-tui is not installed on bare (vt-bare)" in res.stderr
    assert "install it there" in res.stderr
    assert "Traceback" not in res.stderr


def test_without_yes_and_no_terminal_a_remote_change_is_refused(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("bind", "0b:00.0", "--on", "tree")
    assert res.returncode == 2
    assert "refusing to change the host without --yes" in res.stderr
    assert "--dry-run --on tree" in res.stderr


def test_down_and_unknown_key_are_one_line_errors(cli: Cli, trees: dict[str, Path]) -> None:
    down = cli("inventory", "--on", "down")
    assert down.returncode == 2
    assert down.stderr.count("\n") == 1 and "is unreachable: connection refused" in down.stderr
    unknown = cli("hosts", "add", "unk", "vt-unknown-key", "--remote-demo")
    assert unknown.returncode == 2
    assert "its host key is not known (vfio-tui never accepts host keys itself)" in unknown.stderr
    assert "unk" not in cli("hosts", "list").stdout  # not added
    missing = cli("inventory", "--on", "nosuch")
    assert missing.returncode == 2 and "no host named 'nosuch'" in missing.stderr


def test_remote_snapshot_is_saved_here_and_replays(sshd: TestSshd, cli: Cli, trees: dict[str, Path]) -> None:
    out = sshd.dir / "saved.json"
    res = cli("snapshot", "--on", "demo", str(out))
    assert res.returncode == 0, res.stderr
    replay = cli("inventory", "--host-snapshot", str(out), "--json")
    assert replay.returncode == 0
    assert len(json.loads(replay.stdout)["groups"]) == 20


def test_export_fleet_leaves_the_down_host_out_and_says_so(cli: Cli, trees: dict[str, Path]) -> None:
    res = cli("export", "--format", "proxmox", "--fleet")
    assert res.returncode == 1
    assert "# DOWN down: down (root@127.0.0.1:" in res.stdout
    assert "map id=10de:1b80,iommugroup=18,node=" in res.stdout
