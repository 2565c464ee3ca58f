"""The libvirt hook kit (`vfio-tui hooks install|remove|status|run`, core/hooks) on the single-GPU demo host:
the plan first, the files written (script 0755, private plan), journal and undo/remove putting the tree back
byte for byte, coexistence with a community dispatcher, the hook run binding and giving back the GPU's
group (never opening libvirt), the host-changed refusal, the failure path and the watchdog."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT
from vfio_tui.core.gpu.hookplan import HOOK_SCRIPT
from vfio_tui.core.hooks.layout import MARKER, plan_path
from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli import main

GPU = "0000:0a:00.0"
AUDIO = "0000:0a:00.1"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def files_of(root: Path, top: str = "etc") -> dict[str, tuple[bytes, int]]:
    """Every regular file under root/top: its bytes and mode."""
    out: dict[str, tuple[bytes, int]] = {}
    for dirpath, _dirs, names in os.walk(root / top):
        for n in names:
            p = Path(dirpath) / n
            st = p.lstat()
            if stat.S_ISREG(st.st_mode):
                out[str(p.relative_to(root))] = (p.read_bytes(), stat.S_IMODE(st.st_mode))
    return out


def vm_xml(root: Path) -> str:
    from vfio_tui.core.libvirt.for_host import hypervisor_for

    with open_host(HostOptions(root=root)) as host, hypervisor_for(host) as hv:
        return hv.xml("win11", inactive=True)


def driver(root: Path, address: str) -> str | None:
    link = root / "sys/bus/pci/devices" / address / "driver"
    return os.path.basename(os.readlink(link)) if os.path.islink(link) else None


@pytest.fixture
def no_libvirt(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open libvirt fails loudly (the CLI turns it into exit 70)."""
    import vfio_tui.core.libvirt.connection as connection
    import vfio_tui.core.libvirt.for_host as for_host

    def refuse(*_a: object, **_k: object) -> Any:
        raise AssertionError("the hook opened libvirt")

    monkeypatch.setattr(connection, "open_hypervisor", refuse)
    monkeypatch.setattr(connection, "import_libvirt", refuse)
    monkeypatch.setattr(for_host, "hypervisor_for", refuse)
    monkeypatch.setattr(for_host, "open_hypervisor", refuse)
    yield


def install(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "hooks", "install", "win11", "--root", str(root), "--watchdog", "0", "--yes", *extra)


def test_install_without_yes_shows_the_plan_and_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                                sg_tree: Path) -> None:
    code, out, _ = cli(capsys, "hooks", "install", "win11", "--demo", "single-gpu")
    assert code == 0
    assert f"+++ b{HOOK_SCRIPT}" in out and "+++ b/var/lib/vfio-tui/hooks/win11.json" in out
    assert "managed='no'" in out and "1. systemctl stop gdm.service" in out
    assert "bind group 11 to vfio-pci: 0000:0a:00.0, 0000:0a:00.1" in out
    assert "8. systemctl start gdm.service" in out and "nothing was changed; add --yes" in out
    before = files_of(sg_tree, "etc") | files_of(sg_tree, "var")
    xml = vm_xml(sg_tree)
    for argv in (("--dry-run",), ("--dry-run", "--yes"), ()):
        code, out, _ = cli(capsys, "hooks", "install", "win11", "--root", str(sg_tree), *argv)
        assert code == 0 and "nothing was changed" in out
    assert files_of(sg_tree, "etc") | files_of(sg_tree, "var") == before
    assert vm_xml(sg_tree) == xml


def test_install_writes_the_script_and_the_private_plan(capsys: pytest.CaptureFixture[str], sg_tree: Path) -> None:
    code, out, err = install(capsys, sg_tree)
    assert code == 0, err
    assert "Installed the hook of win11 (journal cfg-1)" in out
    assert "restart it so it sees the new script" in out and "does not restart it for you" in out
    script = sg_tree / HOOK_SCRIPT.lstrip("/")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n") and MARKER in text
    assert f"--root {sg_tree}" in text and "hooks run \"$1\" \"$2\" \"$3\"" in text
    assert "virsh" not in text and "libvirt" not in text.split("case")[1]  # the script calls no libvirt
    assert f"exec {os.path.abspath(__import__('sys').executable)} -P -m vfio_tui" in text
    plan = sg_tree / plan_path("win11").lstrip("/")
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600
    assert stat.S_IMODE(plan.parent.stat().st_mode) == 0o700
    data = json.loads(plan.read_text())
    assert data["schema"] == "vfio-tui/hook-plan/1" and data["members"] == [GPU, AUDIO]
    assert [s["kind"] for s in data["release"]][:3] == ["stop-service", "unbind-vtconsole", "unbind-framebuffer"]
    assert data["hostdevs_added"] == [GPU, AUDIO]
    xml = vm_xml(sg_tree)
    assert xml.count("<hostdev mode='subsystem' type='pci' managed='no'>") == 2
    journal = json.loads((sg_tree / "var/lib/vfio-tui/config/journal.json").read_text())
    assert [f["path"] for f in journal["entries"][0]["files"]] == [HOOK_SCRIPT, plan_path("win11")]
    # The devices are untouched until libvirt starts the VM.
    assert driver(sg_tree, GPU) == "nvidia"
    code, out, _ = cli(capsys, "hooks", "status", "--root", str(sg_tree))
    assert code == 0 and "installed, mode 0755" in out and "win11: GPU 0000:0a:00.0" in out
    assert "the GPU is with the host" in out
    code, out, _ = cli(capsys, "hooks", "status", "--root", str(sg_tree), "--json")
    status = json.loads(out)
    assert status["script"]["ours"] and status["plans"][0]["vm"] == "win11"
    code, out, _ = install(capsys, sg_tree)
    assert code == 0 and "installed already" in out


def test_remove_and_check_undo_put_the_tree_back_byte_for_byte(capsys: pytest.CaptureFixture[str],
                                                               sg_tree: Path) -> None:
    before = files_of(sg_tree, "etc")
    xml = vm_xml(sg_tree)
    assert install(capsys, sg_tree)[0] == 0
    assert files_of(sg_tree, "etc") != before
    code, out, _ = cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree))
    assert code == 0 and "nothing was changed" in out and (sg_tree / HOOK_SCRIPT.lstrip("/")).exists()
    code, out, err = cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")
    assert code == 0, err
    assert files_of(sg_tree, "etc") == before
    assert not (sg_tree / plan_path("win11").lstrip("/")).exists()
    assert vm_xml(sg_tree) == xml
    # The journaled way too: check --undo of the install entry.
    assert install(capsys, sg_tree)[0] == 0
    code, out, err = cli(capsys, "check", "--undo", "hooks-win11", "--root", str(sg_tree), "--yes")
    assert code == 0, err
    assert files_of(sg_tree, "etc") == before
    code, _, err = cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")
    assert code == 2 and "win11 has no vfio-tui hook" in err


def dirs_of(root: Path, top: str = "etc/libvirt") -> list[str]:
    return sorted(str(Path(d).relative_to(root)) for d, _dirs, _names in os.walk(root / top))


def test_remove_takes_out_the_hook_dirs_install_created_and_only_those(capsys: pytest.CaptureFixture[str],
                                                                       sg_tree: Path) -> None:
    # The lab's libvirtd showed it: an empty qemu.d was left behind. Same tree, directories included.
    qemu_d = sg_tree / "etc/libvirt/hooks/qemu.d"
    before = dirs_of(sg_tree)
    assert not qemu_d.exists()
    assert install(capsys, sg_tree)[0] == 0
    assert qemu_d.is_dir()
    data = json.loads((sg_tree / plan_path("win11").lstrip("/")).read_text())
    assert "/etc/libvirt/hooks/qemu.d" in data["dirs_created"]
    assert install(capsys, sg_tree)[0] == 0  # installed again: still recorded as created by install
    code, out, _ = cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree))
    assert code == 0 and "/etc/libvirt/hooks/qemu.d/: removed when empty" in out
    assert cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")[0] == 0
    assert dirs_of(sg_tree) == before
    # One holding someone else's file by then stays, and so does an empty qemu.d that was there before.
    assert install(capsys, sg_tree)[0] == 0
    (qemu_d / "other").write_text("#!/bin/sh\nexit 0\n")
    assert cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")[0] == 0
    assert (qemu_d / "other").exists()
    (qemu_d / "other").unlink()
    assert install(capsys, sg_tree)[0] == 0
    assert cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")[0] == 0
    assert qemu_d.is_dir()


DISPATCHER = """#!/usr/bin/env bash
# PassthroughPOST VFIO-Tools hook helper
GUEST_NAME="$1"; HOOK_NAME="$2"; STATE_NAME="$3"
BASEDIR="$(dirname $0)"
HOOKPATH="$BASEDIR/qemu.d/$GUEST_NAME/$HOOK_NAME/$STATE_NAME"
set -e
if [ -f "$HOOKPATH" ]; then eval \\""$HOOKPATH"\\" "$@"
elif [ -d "$HOOKPATH" ]; then
  while read file; do eval \\""$file"\\" "$@"; done <<< "$(find -L "$HOOKPATH" -maxdepth 1 -type f -executable)"
fi
"""


def _put(root: Path, path: str, text: str, mode: int = 0o755) -> Path:
    p = root / path.lstrip("/")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    p.chmod(mode)
    return p


def test_coexists_with_the_community_dispatcher(capsys: pytest.CaptureFixture[str], sg_tree: Path) -> None:
    _put(sg_tree, "/etc/libvirt/hooks/qemu", DISPATCHER)
    _put(sg_tree, "/etc/libvirt/hooks/qemu.d/other/prepare/begin/start.sh", "#!/bin/sh\n")
    _put(sg_tree, "/etc/libvirt/hooks/qemu.d/10-log", "#!/bin/sh\nlogger \"$@\"\n")
    before = files_of(sg_tree, "etc")
    code, out, err = install(capsys, sg_tree)
    assert code == 0, err
    assert "already there: /etc/libvirt/hooks/qemu: the community's per-VM dispatcher" in out
    assert "already there: /etc/libvirt/hooks/qemu.d/10-log: another hook script" in out
    assert "qemu.d/other" not in out  # another VM's scripts: not win11's business
    after = files_of(sg_tree, "etc")
    assert {k: v for k, v in after.items() if k in before} == before  # nothing of theirs changed
    code, out, _ = cli(capsys, "hooks", "status", "--root", str(sg_tree))
    assert "community's per-VM dispatcher" in out and "qemu.d/other/: per-VM hook scripts of other" in out
    assert cli(capsys, "hooks", "remove", "win11", "--root", str(sg_tree), "--yes")[0] == 0
    assert files_of(sg_tree, "etc") == before


def test_per_vm_scripts_of_the_same_vm_are_a_conflict(capsys: pytest.CaptureFixture[str], sg_tree: Path) -> None:
    _put(sg_tree, "/etc/libvirt/hooks/qemu", DISPATCHER)
    _put(sg_tree, "/etc/libvirt/hooks/qemu.d/win11/prepare/begin/start.sh", "#!/bin/sh\nsystemctl stop gdm\n")
    before = files_of(sg_tree, "etc")
    code, out, err = install(capsys, sg_tree)
    assert code == 3 and "REFUSED" in out and "--allow-other-hooks" in out
    assert "per-VM hook scripts of win11 (prepare/begin/start.sh)" in err
    assert files_of(sg_tree, "etc") == before
    code, out, err = install(capsys, sg_tree, "--allow-other-hooks")
    assert code == 0, err
    assert "qemu.d/win11/: per-VM hook scripts of win11" in out


def test_a_foreign_file_of_the_same_name_is_never_overwritten(capsys: pytest.CaptureFixture[str],
                                                               sg_tree: Path) -> None:
    theirs = _put(sg_tree, HOOK_SCRIPT, "#!/bin/sh\necho mine\n")
    code, _, err = install(capsys, sg_tree)
    assert code == 3 and "not vfio-tui's script" in err
    assert theirs.read_text() == "#!/bin/sh\necho mine\n"


def _gdm_running(root: Path) -> bool:
    return (root / "proc/1210/comm").exists()


def test_a_vm_without_a_plan_is_a_silent_no_op(capsys: pytest.CaptureFixture[str], sg_tree: Path,
                                               no_libvirt: None) -> None:
    for op in (("prepare", "begin"), ("release", "end"), ("stopped", "end")):
        assert cli(capsys, "hooks", "run", "win11", *op, "--root", str(sg_tree)) == (0, "", "")
    assert driver(sg_tree, GPU) == "nvidia"


@pytest.fixture
def installed(capsys: pytest.CaptureFixture[str], sg_tree: Path) -> Path:
    code, _, err = install(capsys, sg_tree)
    assert code == 0, err
    return sg_tree


def test_prepare_begin_and_release_end(capsys: pytest.CaptureFixture[str], installed: Path,
                                       no_libvirt: None) -> None:
    root = installed
    assert _gdm_running(root) and (root / "sys/class/vtconsole/vtcon1").exists()
    code, out, err = cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))
    assert code == 0, err
    assert "systemctl stop gdm.service: done" in err and "/sys/class/vtconsole/vtcon1/bind <- 0: done" in err
    assert driver(root, GPU) == "vfio-pci" and driver(root, AUDIO) == "vfio-pci"  # the whole group
    assert not _gdm_running(root)
    assert "nvidia" not in (root / "proc/modules").read_text().split()
    code, out, _ = cli(capsys, "hooks", "status", "--root", str(root))
    assert "the GPU is on vfio-pci now (run-1)" in out
    code, out, err = cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))
    assert code == 0 and "on vfio-pci already" in out  # libvirt retrying: nothing twice
    code, out, err = cli(capsys, "hooks", "remove", "win11", "--root", str(root), "--yes")
    assert code == 3 and "shut win11 down first" in err
    code, out, err = cli(capsys, "hooks", "run", "win11", "stopped", "end", "--root", str(root))
    assert code == 0, err
    assert "Undone (run-1)" in out and "systemctl start gdm.service" in out
    assert driver(root, GPU) == "nvidia" and driver(root, AUDIO) == "snd_hda_intel"
    assert _gdm_running(root)
    code, out, err = cli(capsys, "hooks", "run", "win11", "release", "end", "--root", str(root))
    assert (code, out, err) == (0, "", "")  # already given back at stopped end
    for op in (("started", "begin"), ("migrate", "begin"), ("release", "begin")):
        assert cli(capsys, "hooks", "run", "win11", *op, "--root", str(root)) == (0, "", "")
    assert cli(capsys, "hooks", "run", "other-vm", "prepare", "begin", "--root", str(root)) == (0, "", "")


def test_the_installed_script_runs_the_hook(installed: Path) -> None:
    root = installed
    script = root / HOOK_SCRIPT.lstrip("/")
    env = {k: v for k, v in cli_env().items() if k != "PYTHONPATH"}  # the script sets its own

    def hook(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/bin/sh", str(script), *args], capture_output=True, text=True, timeout=120,
                              cwd="/", env=env, check=False)

    other = hook("vfio_test", "prepare", "begin")
    assert (other.returncode, other.stdout, other.stderr) == (0, "", "")
    start = hook("win11", "prepare", "begin")
    assert start.returncode == 0, start.stderr
    assert driver(root, GPU) == "vfio-pci" and not _gdm_running(root)
    stop = hook("win11", "release", "end")
    assert stop.returncode == 0, stop.stderr
    assert driver(root, GPU) == "nvidia" and _gdm_running(root)
    assert REPO_ROOT.exists()


def test_refuses_when_the_group_changed(capsys: pytest.CaptureFixture[str], installed: Path,
                                        no_libvirt: None) -> None:
    root = installed
    plan = root / plan_path("win11").lstrip("/")
    data = json.loads(plan.read_text())
    data["members"] = [GPU]  # recorded when the group held only the VGA function
    plan.write_text(json.dumps(data))
    code, _out, err = cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))
    assert code == 3
    assert "the host changed since `vfio-tui hooks install win11" in err
    assert "now holds 0000:0a:00.0, 0000:0a:00.1" in err and "hooks install win11 --root" in err
    assert driver(root, GPU) == "nvidia" and _gdm_running(root)


def test_refuses_when_a_device_is_now_host_used(capsys: pytest.CaptureFixture[str], installed: Path,
                                                no_libvirt: None) -> None:
    root = installed
    proc = root / "proc/4242"
    (proc / "fd").mkdir(parents=True)
    (proc / "comm").write_text("cuda_job\n")
    (proc / "cgroup").write_text("0::/user.slice/user-1000.slice/session-3.scope\n")
    os.symlink("/dev/nvidia0", proc / "fd/5")
    code, _out, err = cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))
    assert code == 3 and "not starting win11" in err and "cuda_job" in err
    assert driver(root, GPU) == "nvidia" and _gdm_running(root)
    assert (root / "sys/class/vtconsole/vtcon1/bind").read_text().strip() == "1"


def test_a_failed_bind_gives_console_and_display_back(capsys: pytest.CaptureFixture[str], installed: Path,
                                                      no_libvirt: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import vfio_tui.core.passthrough.run as run_mod
    from vfio_tui.core.errors import VfioError

    def fail(*_a: object, **_k: object) -> Any:
        raise VfioError("vfio-pci would not take 0000:0a:00.0 (simulated)")

    monkeypatch.setattr(run_mod, "apply_plan", fail)
    root = installed
    code, _out, err = cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))
    assert code == 2 and "not starting win11: bind failed" in err and "nothing was changed" in err
    assert _gdm_running(root) and driver(root, GPU) == "nvidia"
    assert "nvidia_drm" in (root / "proc/modules").read_text()


def test_watchdog_gives_the_gpu_back_when_the_vm_never_started(capsys: pytest.CaptureFixture[str],
                                                                installed: Path, no_libvirt: None) -> None:
    from vfio_tui.core.hooks.run import watchdog

    root = installed
    assert cli(capsys, "hooks", "run", "win11", "prepare", "begin", "--root", str(root))[0] == 0
    assert not _gdm_running(root)
    slept: list[float] = []
    with open_host(HostOptions(root=root)) as host:
        outcome = watchdog(host, "win11", 30, sleep=slept.append)
    assert slept == [30] and outcome.code == 0 and "did not start within 30 s" in outcome.message
    assert _gdm_running(root) and driver(root, GPU) == "nvidia"
    with open_host(HostOptions(root=root)) as host:
        assert watchdog(host, "win11", 0, sleep=slept.append).message == ""  # nothing left to give back


def test_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "hooks", "install", "nosuch", "--demo", "single-gpu")
    assert code == 2 and "no VM named 'nosuch'" in err
    code, _, err = cli(capsys, "hooks", "install", "cuda", "--demo", "workstation")
    assert code == 2 and "cuda has no GPU hostdev" in err and "--gpu ADDR" in err
    code, _, err = cli(capsys, "hooks", "install", "cuda", "--demo", "workstation", "--gpu", "00:14.0")
    assert code == 2 and "not a GPU" in err
    code, _, err = cli(capsys, "hooks", "install", "../../etc/passwd", "--demo", "single-gpu")
    assert code == 2 and "not a VM name" in err
    for argv in (("hooks", "install"), ("hooks", "status", "win11"), ("hooks", "run", "win11"),
                 ("hooks", "remove", "win11", "--gpu", "0a:00.0"), ("hooks", "status", "--yes")):
        code, _, err = cli(capsys, *argv, "--demo", "single-gpu")
        assert code == 2 and err.count("error:") == 1 and "Traceback" not in err, argv
    with pytest.raises(SystemExit) as exc:
        main(["hooks", "--help"])
    assert exc.value.code == 0
    assert "qemu.d/vfio-tui" in capsys.readouterr().out


def test_workstation_gpu_by_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "hooks", "install", "cuda", "--demo", "workstation", "--gpu", "01:00.0", "--json")
    assert code == 0
    plan = json.loads(out)
    assert plan["ok"] and plan["record"]["members"] == ["0000:01:00.0", "0000:01:00.1", "0000:01:00.2",
                                                        "0000:01:00.3"]
    assert plan["at_start"][0] == "modprobe -r nvidia_drm"
