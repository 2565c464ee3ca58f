"""The GPU checks on the GPU demo hosts: obsolete advice named as obsolete, the reset, the BARs, the ROM."""

from __future__ import annotations

from vfio_tui.core.checks.result import CheckResult
from vfio_tui.core.checks.runner import run_checks
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.for_host import hypervisor_for


def _by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def test_single_gpu_checks(single_gpu: Host) -> None:
    r = _by_id(run_checks(single_gpu, for_address="0a:00.0",
                          only=("gpu-video-off", "gpu-bars", "gpu-rom", "gpu-reset", "cmdline-flags")))
    assert r["gpu-video-off"].status == "warn" and "obsolete" in r["gpu-video-off"].summary
    assert "remove video=efifb:off" in r["gpu-video-off"].fix
    assert r["gpu-bars"].status == "warn" and "16 GiB" in r["gpu-bars"].summary
    assert any("costs no locked memory" in n for n in r["gpu-bars"].notes)
    assert r["gpu-rom"].status == "warn" and "shadow copy" in r["gpu-rom"].summary
    assert r["gpu-reset"].status == "pass"


def test_workstation_checks(workstation: Host) -> None:
    with hypervisor_for(workstation) as hv:
        r = _by_id(run_checks(workstation, for_address="02:00.0", vm="win11", hypervisor=hv,
                              only=("gpu-reset", "vm-kvm-hidden", "gpu-video-off", "gpu-rom")))
    assert r["gpu-reset"].status == "warn" and "Polaris 10" in r["gpu-reset"].summary
    assert "device_specific" in r["gpu-reset"].fix
    assert r["vm-kvm-hidden"].status == "warn" and "R465" in r["vm-kvm-hidden"].summary
    assert r["gpu-video-off"].status == "n/a"
    assert r["gpu-rom"].status == "pass"


def test_gpu_checks_are_na_for_other_devices(workstation: Host) -> None:
    r = _by_id(run_checks(workstation, for_address="03:00.0", only=("gpu-reset", "gpu-bars", "gpu-rom")))
    assert {x.status for x in r.values()} == {"n/a"}
