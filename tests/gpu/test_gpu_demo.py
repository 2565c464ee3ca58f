"""The GPU demo hosts through the core API: what the guard sees, what each plan takes and refuses, and a
whole run and its undo on the host's only GPU (console, display manager and driver modules back)."""

from __future__ import annotations

from pathlib import Path

from tests.sim_sessions import Session
from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu.steps import GpuStep
from vfio_tui.core.host import Host
from vfio_tui.core.inventory_format import inventory_json
from vfio_tui.core.libvirt.for_host import hypervisor_for
from vfio_tui.core.passthrough import plan_passthrough, run_passthrough, undo_passthrough

NVIDIA = ("0000:01:00.0", "0000:01:00.1", "0000:01:00.2", "0000:01:00.3")


def _plan(host: Host, addr: str, vm: str, **kw: object):  # type: ignore[no-untyped-def]
    with hypervisor_for(host) as hv:
        return plan_passthrough(host, hv, addr, vm, checks=False, **kw)  # type: ignore[arg-type]


def test_workstation_inventory_knows_its_gpus(workstation: Host) -> None:
    inv = inventory_json(workstation.inventory(), workstation.label)
    devices = {d["address"]: d for g in inv["groups"] for d in g["devices"]}
    igpu = devices["0000:00:02.0"]
    assert igpu["boot_vga"] and igpu["gpu"]["console"] == "fbcon on fb0 (i915drmfb)"
    assert any("gnome-shell (pid 1412) has /dev/dri/card0" in u for u in igpu["host_use"])
    nvidia = devices["0000:01:00.0"]["gpu"]
    assert nvidia["functions"] == list(NVIDIA)
    assert nvidia["driver_stack"] == ["nvidia_drm (modeset=Y, fbdev=N)", "nvidia_modeset", "nvidia_uvm", "nvidia"]
    audio = devices["0000:01:00.1"]
    assert [u["blocking"] for u in audio["host_use_detail"]] == [False, False]  # PipeWire only warns
    assert "Polaris 10" in devices["0000:02:00.0"]["gpu"]["reset"]
    verdicts = {g["id"]: g["verdict"] for g in inv["groups"]}
    assert verdicts[3] == "blocked" and verdicts[12] == "bindable" and verdicts[13] == "bindable"
    assert verdicts[10] == "blocked"  # the chipset group behind the ACS-less switch holds the NIC


def test_nvidia_plan_takes_all_four_functions_and_unloads_the_stack_first(workstation: Host) -> None:
    plan = _plan(workstation, "01:00.0", "win11")
    assert plan.ok, plan.refusals
    assert plan.bind.endpoints == NVIDIA
    assert plan.attach is not None and [str(a) for a in plan.attach.addresses] == list(NVIDIA)
    assert plan.gpu is not None
    assert [s.describe() for s in plan.gpu.release] == [
        "modprobe -r nvidia_drm", "modprobe -r nvidia_modeset", "modprobe -r nvidia_uvm", "modprobe -r nvidia"]
    # nvidia is gone when binding starts: no unbind write for 01:00.0, an override and a probe.
    writes = [s.describe() for s in plan.bind.steps]
    assert not any("0000:01:00.0/driver/unbind" in w for w in writes)
    assert "/sys/bus/pci/devices/0000:01:00.3/driver/unbind <- 0000:01:00.3" in writes
    assert any("modprobe nvidia_drm" in line for line in plan.undo)
    assert any("pipewire" in w for w in plan.warnings)


def test_boot_vga_igpu_is_refused_for_its_console_and_display_server(workstation: Host) -> None:
    plan = _plan(workstation, "00:02.0", "win11")
    assert not plan.ok
    text = " ".join(f"{r.reason} {r.fix}" for r in plan.refusals)
    assert "gnome-shell (pid 1412)" in text and "fbcon on fb0" in text and "--stop-display-manager" in text
    # Even with the flag: the operator sits in that GNOME session.
    plan = _plan(workstation, "00:02.0", "win11", stop_display_manager=True)
    assert not plan.ok and "ends that session" in plan.refusals[0].reason


def test_amd_card_warns_about_reset(workstation: Host) -> None:
    plan = _plan(workstation, "02:00.0", "win11")
    assert plan.ok
    reset = [w for w in plan.warnings if w.startswith("RESET")]
    assert len(reset) == 1 and "Polaris 10" in reset[0] and "vendor-reset is not installed" in reset[0]
    assert "win11 restarts" in reset[0]


def test_single_gpu_refuses_without_the_flag_and_shows_the_hook(single_gpu: Host) -> None:
    plan = _plan(single_gpu, "0a:00.0", "win11")
    assert not plan.ok
    assert "hooks install win11" in plan.refusals[0].fix and "--stop-display-manager" in plan.refusals[0].fix
    assert plan.gpu is not None and plan.gpu.single_gpu and plan.gpu.hook is not None
    hook = plan.gpu.hook
    assert hook.at_start[0] == "systemctl stop gdm.service"
    assert hook.at_start[-1].startswith("bind group 11")
    assert hook.at_stop[-1] == "systemctl start gdm.service"
    assert any("only GPU" in w for w in plan.warnings)
    with_flag = _plan(single_gpu, "0a:00.0", "win11", stop_display_manager=True)
    assert with_flag.ok
    assert with_flag.gpu is not None
    assert [s.kind for s in with_flag.gpu.release] == [
        "stop-service", "unbind-vtconsole", "unbind-framebuffer", "unload-module", "unload-module",
        "unload-module", "unload-module"]


def _read(path: Path) -> str:
    return path.read_text().strip() if path.exists() else ""


def test_single_gpu_run_and_undo_give_the_screen_back(sg_session: Session, sg_tree: Path) -> None:
    host, hv = sg_session()
    plan = plan_passthrough(host, hv, "0a:00.0", "win11", start=True, stop_display_manager=True, checks=False)
    assert any("console comes back only with a framebuffer driver of the card's own" in w for w in plan.warnings)
    result = run_passthrough(plan)
    assert result.ok, result.error
    assert result.done == ("gpu", "bind", "verify", "attach", "start")
    # fbcon was unbound, then unregistered with the last framebuffer (simpledrm, removed by vfio-pci).
    assert not (sg_tree / "sys/class/vtconsole/vtcon1").exists()
    assert not (sg_tree / "proc/1210").exists()  # Xorg ended with gdm
    assert not (sg_tree / "sys/module/nvidia").exists()
    assert not (sg_tree / "sys/bus/platform/devices/simple-framebuffer.0").exists()  # vfio-pci took the aperture
    inv = host.inventory()
    assert inv.devices[PciAddress.parse("0a:00.0")].driver == "vfio-pci"
    assert host.services.state("gdm.service") == "inactive"

    host, hv = sg_session()
    undone = undo_passthrough(host, hv, result.run_id, stop_vm=True)
    assert undone.ok, undone.summary
    assert (sg_tree / "proc/1210/comm").exists()
    assert host.services.state("gdm.service") == "active"
    inv = host.inventory()
    assert inv.devices[PciAddress.parse("0a:00.0")].driver == "nvidia"
    assert inv.devices[PciAddress.parse("0a:00.1")].driver == "snd_hda_intel"
    assert "systemctl start gdm.service" in undone.summary
    # Honest about what did not come back: nvidia_drm has no framebuffer (fbdev=N), so neither has fbcon.
    assert "simple-framebuffer" not in undone.summary and "vtcon1" not in undone.summary
    assert not (sg_tree / "sys/class/vtconsole/vtcon1").exists()


def test_igpu_over_ssh_console_and_display_manager_back_on_undo(ws_session: Session, ws_tree: Path) -> None:
    """The workstation's iGPU from an SSH session: the display manager stops, fbcon is unbound (the RX 580's
    framebuffer keeps it registered), i915 lets go; undo brings i915, the console and GNOME back."""
    import json

    meta_path = ws_tree / ".vfio-tui-sim.json"
    meta = json.loads(meta_path.read_text())
    meta["host_extras"]["operator"] = {"via": "ssh", "detail": "SSH from the laptop"}
    meta_path.write_text(json.dumps(meta))
    host, hv = ws_session()
    plan = plan_passthrough(host, hv, "00:02.0", "win11", stop_display_manager=True, checks=False)
    assert plan.ok, plan.refusals
    assert plan.gpu is not None
    assert [s.describe() for s in plan.gpu.release] == ["systemctl stop gdm.service",
                                                       "/sys/class/vtconsole/vtcon1/bind <- 0"]
    result = run_passthrough(plan)
    assert result.ok, result.error
    vt = ws_tree / "sys/class/vtconsole/vtcon1/bind"
    assert _read(vt) == "0" and host.services.state("gdm.service") == "inactive"
    host, hv = ws_session()
    undone = undo_passthrough(host, hv, result.run_id)
    assert undone.ok, undone.summary
    assert _read(vt) == "1" and host.services.state("gdm.service") == "active"
    assert host.inventory().devices[PciAddress.parse("00:02.0")].driver == "i915"
    assert "/sys/class/vtconsole/vtcon1/bind <- 1" in undone.summary


def test_a_failed_bind_gives_console_and_display_back(sg_session: Session, sg_tree: Path) -> None:
    from vfio_tui.core.simulated.kernel import SimulatedKernel

    host, hv = sg_session()
    plan = plan_passthrough(host, hv, "0a:00.0", "win11", stop_display_manager=True, checks=False)
    SimulatedKernel(host.paths).update_metadata(faults=[{"match": "drivers_probe", "errno": 5}])
    result = run_passthrough(plan)
    assert not result.ok and result.failed_phase == "bind"
    assert "nothing was changed" in result.message
    assert _read(sg_tree / "sys/class/vtconsole/vtcon1/bind") == "1"
    assert host.services.state("gdm.service") == "active"
    assert (sg_tree / "sys/module/nvidia").is_dir()
    assert host.inventory().devices[PciAddress.parse("0a:00.0")].driver == "nvidia"


def test_gpu_steps_round_trip_and_check_against_the_host(single_gpu: Host) -> None:
    from vfio_tui.core.gpu.apply import check_step

    plan = _plan(single_gpu, "0a:00.0", "win11", stop_display_manager=True)
    assert plan.gpu is not None
    for step in plan.gpu.release:
        assert GpuStep.from_json(step.to_json()) == step
        assert check_step(single_gpu, step).outcome == "do"
    again = [s.undo() for s in plan.gpu.release]
    assert all(u is not None and check_step(single_gpu, u).outcome == "skip" for u in again)
    data = plan.to_json()["gpu"]
    assert [GpuStep.from_json(s) for s in data["release"]] == list(plan.gpu.release)
    assert data["restore"][-1] == {"kind": "start-service", "target": "gdm.service", "path": "", "value": "",
                                   "driver": "", "why": "the display server back"}


def test_a_recorded_step_may_only_touch_its_own_attributes(single_gpu: Host) -> None:
    import pytest

    from vfio_tui.core.gpu.apply import GpuStepError, check_step

    bad = GpuStep("unbind-vtconsole", "vtcon1", "/sys/bus/pci/devices/0000:0a:00.0/remove", "1")
    with pytest.raises(GpuStepError, match="not a vtconsole bind attribute"):
        check_step(single_gpu, bad)
    with pytest.raises(ValueError):
        GpuStep.from_json({"kind": "rm -rf", "target": "x"})
