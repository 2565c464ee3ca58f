"""One integration test against a real libvirtd + QEMU (private, in namespaces; no IOMMU here).

Starting a domain with a <hostdev> must fail with libvirt's real "host doesn't support VFIO
PCI passthrough" (lab step 4), and vfio-tui must capture it as a FailureRecord, through the
core API and through `vfio-tui attach --start`.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vfio_tui.core.open_host import create_sim_host
from vfio_tui.core.simulated.demo_host import demo_snapshot

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
NEEDED = ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "unshare", "timeout")
L01 = "unsupported configuration: host doesn't support VFIO PCI passthrough"


def _missing() -> list[str]:
    missing = [b for b in NEEDED if shutil.which(b) is None]
    if os.geteuid() != 0:
        missing.append("root")
    try:
        # libvirtd's QEMU driver refuses to initialise without it ("Failed to parse user
        # 'libvirt-qemu'"); only libvirt-daemon-system creates it.
        pwd.getpwnam("libvirt-qemu")
    except KeyError:
        missing.append("the libvirt-qemu user (apt package libvirt-daemon-system)")
    return missing


@pytest.fixture
def private_libvirtd_run(tmp_path: Path) -> Path:
    missing = _missing()
    if missing:
        msg = ("real libvirtd test needs root and the apt packages libvirt-daemon libvirt-daemon-system "
               f"libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 (missing: {', '.join(missing)};"
               " ./dev.sh test installs them)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    if Path("/sys/bus/pci/devices/0000:0b:00.0").exists():
        pytest.skip("0000:0b:00.0 exists on this machine; the test needs it absent")
    work = tmp_path / "lv"
    work.mkdir()
    sim_root = create_sim_host(tmp_path / "simhost", demo_snapshot()).root
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        ["timeout", "--kill-after=10", "240", "unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc",
         "--propagation", "private", "bash", str(REPO / "scripts" / "private_libvirtd.sh"), str(work),
         sys.executable, str(HERE / "real_libvirtd_flow.py"), str(work), str(sim_root)],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO, check=False)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    # the PID namespace is gone: nothing of ours may be left running
    leftover = subprocess.run(["pgrep", "-f", str(work)], capture_output=True, text=True, check=False).stdout
    assert leftover.strip() == "", leftover
    return work


@pytest.mark.libvirtd
@pytest.mark.slow
def test_real_libvirtd_start_failure_is_captured(private_libvirtd_run: Path) -> None:
    core = json.loads((private_libvirtd_run / "core.json").read_text())
    assert core["driver"] == "QEMU" and core["ok"] is False
    record = core["record"]
    assert record["error_message"] == L01
    assert (record["error_code"], record["error_code_name"]) == (67, "VIR_ERR_CONFIG_UNSUPPORTED")
    assert record["error_domain_name"] == "VIR_FROM_QEMU"
    assert record["hostdevs"] == ["0000:0b:00.0"]
    assert record["qemu_log_path"] == "/var/log/libvirt/qemu/vfiotui-core.log"
    assert "libvirt error [VIR_ERR_CONFIG_UNSUPPORTED, VIR_FROM_QEMU]:" in core["record_text"]

    rc, _secs = (private_libvirtd_run / "cli.rc").read_text().split()
    cli = json.loads((private_libvirtd_run / "cli.json").read_text())
    assert rc == "1", (private_libvirtd_run / "cli.stderr").read_text()
    assert cli["method"] == "attachDeviceFlags"  # the real driver has it; no XML fallback
    assert cli["start"]["ok"] is False
    assert cli["start"]["failure"]["error_message"] == L01
    assert cli["start"]["failure"]["groups"] == {"0000:0b:00.0": 19}
    # the simulated host's files are not this daemon's logs: they are not passed off as evidence
    assert cli["start"]["failure"]["qemu_log"] == [] and cli["start"]["failure"]["qemu_log_path"] == ""
    assert cli["start"]["failure"]["kernel_log_source"].startswith("not collected")
    assert cli["start"]["saved_to"] == "/var/lib/vfio-tui/failures/vfiotui-cli.json"  # inside the simulated host
