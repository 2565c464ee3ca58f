"""Each check on the recorded hosts (demo, the lab's VT-d guest, the no-IOMMU machine) and on
synthetic /etc trees: GRUB, systemd-boot, Proxmox, grubby, qemu.conf variants, bad files."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.fixture_paths import RECORDED
from vfio_tui.core.checks import CheckResult, run_checks
from vfio_tui.core.errors import InputError
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import open_host


def by_id(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.id: r for r in results}


def test_demo_host_passes_the_platform_and_flags_the_blogs_obsolete_advice(demo_host: Host) -> None:
    r = by_id(run_checks(demo_host))
    for cid in ("cpu-virt", "kvm", "iommu-firmware", "iommu-kernel", "iommu-cmdline", "bootloader", "vfio-modules"):
        assert r[cid].status == "pass", r[cid]
    assert r["bootloader"].summary.startswith("GRUB") and "update-grub" in r["bootloader"].summary
    assert r["qemu-conf-acl"].status == "warn" and "obsolete since libvirt 1.0.5" in r["qemu-conf-acl"].summary
    assert r["qemu-conf-acl"].fix_id == "qemu-conf-acl"
    assert r["qemu-conf-relaxed-acs"].status == "warn" and "ignored for VFIO" in r["qemu-conf-relaxed-acs"].summary
    irq = r["interrupt-remapping"]
    assert irq.status == "warn" and irq.fix_id == "unsafe-interrupts-off"
    assert any("DMAR-IR: Enabled IRQ remapping" in e for e in irq.evidence)
    assert any("/etc/modprobe.d/vfio.conf line 2" in e for e in irq.evidence)
    # with core.libvirt present the demo host comes with the demo hypervisor (libvirt's test driver)
    assert r["libvirt"].status == "pass" and any("libvirt 9.0.0" in e for e in r["libvirt"].evidence)


def test_lab_vtd_guest() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "q35-viommu.json")) as host:
        r = by_id(run_checks(host))
    assert r["iommu-kernel"].status == "pass" and "17 IOMMU groups" in r["iommu-kernel"].summary
    assert r["iommu-firmware"].status == "pass"  # dmar0 in /sys/class/iommu proves the DMAR table
    assert r["iommu-cmdline"].status == "pass"
    assert r["vfio-modules"].status == "pass"
    assert r["cpu-virt"].status == "n/a" and r["cpu-virt"].summary.startswith("cannot tell, because")
    assert r["bootloader"].status == "n/a" and "cannot tell" in r["bootloader"].summary


def test_lab_vtd_guest_device_checks() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "q35-viommu.json")) as host:
        r = by_id(run_checks(host, for_address="0000:04:01.0"))
    assert r["device-group"].status == "warn"  # group 13 shares with 04:02.0 and a bridge
    assert "0000:04:02.0" in r["device-group"].summary
    assert r["device-reset"].status == "warn"  # bus reset only
    assert r["device-boot-vga"].status == "n/a"


def test_no_iommu_machine() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "host-firecracker-noiommu.json")) as host:
        results = run_checks(host)
    r = by_id(results)
    assert r["iommu-kernel"].status == "fail"
    assert r["vfio-modules"].status == "fail"
    assert "nomodule" in r["vfio-modules"].fix  # its recorded cmdline forbids module loading
    assert r["vfio-modules"].fix_id is None
    assert r["iommu-firmware"].status == "n/a"


def test_missing_device_and_vm_are_bad_input(demo_host: Host) -> None:
    with pytest.raises(InputError):
        run_checks(demo_host, for_address="0000:0b:00.3")
    with pytest.raises(InputError):
        run_checks(demo_host, vm="nope")


def test_gpu_boot_vga_and_console(demo_host: Host) -> None:
    r = by_id(run_checks(demo_host, for_address="0000:05:00.1"))
    assert r["device-boot-vga"].status == "warn"
    assert any("fbcon" in e for e in r["device-boot-vga"].evidence)
    assert r["device-group"].status in ("fail", "warn")


def test_vm_checks_from_definition(etc_host: Callable[..., Host]) -> None:
    xml = ("<domain type='kvm'><name>old</name><memory unit='GiB'>8</memory>"
           "<memtune><hard_limit unit='GiB'>8</hard_limit></memtune>"
           "<os><type machine='pc-i440fx-7.2'>hvm</type></os></domain>")
    host = etc_host({"/etc/libvirt/qemu/old.xml": xml})
    r = by_id(run_checks(host, vm="old"))
    assert r["vm-memlock"].status == "fail" and "hard_limit" in r["vm-memlock"].summary
    assert r["vm-machine"].status == "warn" and "i440fx" in r["vm-machine"].summary
    r2 = by_id(run_checks(host, vm="vfio_test"))
    assert r2["vm-memlock"].status == "pass" and r2["vm-machine"].status == "pass"


NO_FLAG_GRUB = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n'


def _no_iommu(host: Host) -> None:
    """Make the simulated host look booted without intel_iommu=on and without groups."""
    import shutil

    (host.paths.proc / "cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
    shutil.rmtree(host.paths.iommu_groups)
    host.paths.iommu_groups.mkdir()
    shutil.rmtree(host.paths.class_iommu)
    host.paths.class_iommu.mkdir()


def test_intel_without_flag_gets_the_grub_fix(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/etc/default/grub": NO_FLAG_GRUB,
                     "/boot/config-6.1.0-28-amd64": "# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n"})
    _no_iommu(host)
    r = by_id(run_checks(host))
    cmd = r["iommu-cmdline"]
    assert cmd.status == "fail" and cmd.fix_id == "intel-iommu-on"
    assert "CONFIG_INTEL_IOMMU_DEFAULT_ON is not set" in " ".join(cmd.evidence)
    assert "GRUB_CMDLINE_LINUX" in cmd.fix and "update-grub" in cmd.fix and "reboot" in cmd.fix
    assert r["iommu-kernel"].status == "fail" and r["iommu-kernel"].fix_id == "intel-iommu-on"


def test_kernel_default_on_needs_no_flag(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/boot/config-6.1.0-28-amd64": "CONFIG_INTEL_IOMMU=y\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y\n"})
    (host.paths.proc / "cmdline").write_text("root=/dev/sda1 ro quiet\n")
    r = by_id(run_checks(host))
    assert r["iommu-cmdline"].status == "pass" and "by default" in r["iommu-cmdline"].summary


def test_configured_but_not_booted(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/boot/config-6.1.0-28-amd64": "# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n"})
    _no_iommu(host)  # /etc/default/grub (demo) already has intel_iommu=on
    cmd = by_id(run_checks(host))["iommu-cmdline"]
    assert cmd.status == "fail" and "already has intel_iommu=on" in cmd.summary
    assert cmd.fix.splitlines() == ["update-grub", "reboot"] and cmd.fix_id is None


@pytest.mark.parametrize(("files", "kind", "words"), [
    ({"/etc/kernel/cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n", "/etc/kernel/proxmox-boot-uuids": "A-B\n"},
     "Proxmox", ["proxmox-boot-tool refresh"]),
    ({"/etc/default/grub": None, "/etc/kernel/cmdline": "root=/dev/nvme0n1p2 rw\n"}, "systemd-boot",
     ["kernel-install"]),
    ({"/usr/sbin/grubby": "", "/boot/loader/entries/a.conf": "title x\n"}, "GRUB with BLS",
     ["grubby --update-kernel=ALL"]),
    ({"/etc/kernelstub/configuration": "{}"}, "kernelstub", ["kernelstub"]),
])
def test_bootloader_kinds(etc_host: Callable[..., Host], files: dict[str, str | None], kind: str,
                          words: list[str]) -> None:
    host = etc_host(files)
    bl = by_id(run_checks(host))["bootloader"]
    assert bl.status == "pass" and bl.summary.startswith(kind)
    assert all(w in bl.summary for w in words), bl.summary


def test_unknown_bootloader_and_half_edited_grub(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/etc/default/grub": None})
    bl = by_id(run_checks(host))["bootloader"]
    assert bl.status == "n/a" and bl.summary.startswith("cannot tell, because none of /etc/default/grub")
    host = etc_host({"/etc/default/grub": 'GRUB_CMDLINE_LINUX="quiet intel_iommu=on\nGRUB_TIMEOUT=5\n'})
    bl = by_id(run_checks(host))["bootloader"]
    assert bl.status == "warn" and bl.summary.startswith("cannot tell, because /etc/default/grub line 1")


def test_unreadable_files_say_cannot_tell(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/proc/cpuinfo": None})
    (host.paths.etc / "libvirt" / "qemu.conf").unlink()
    (host.paths.etc / "libvirt" / "qemu.conf").mkdir()  # EISDIR: unreadable
    r = by_id(run_checks(host))
    assert r["cpu-virt"].summary.startswith("cannot tell, because /proc/cpuinfo is not present")
    assert r["qemu-conf-acl"].summary.startswith("cannot tell, because /etc/libvirt/qemu.conf is")


@pytest.mark.parametrize(("conf", "status", "text"), [
    ('cgroup_device_acl = [ "/dev/null", "/dev/kvm" ]\n', "warn", "lacks /dev/full"),
    ('#cgroup_device_acl = [ "/dev/vfio/vfio" ]\n', "pass", "not set"),
    ('cgroup_device_acl = [ "/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/ptmx",'
     ' "/dev/kvm" ]\ncgroup_device_acl = [ "/dev/vfio/16" ]\n', "pass", "keeps libvirt's defaults"),
    ('cgroup_device_acl = [ "/dev/vfio/16",\n', "warn", "cannot tell, because /etc/libvirt/qemu.conf line"),
])
def test_qemu_conf_acl_variants(etc_host: Callable[..., Host], conf: str, status: str, text: str) -> None:
    r = by_id(run_checks(etc_host({"/etc/libvirt/qemu.conf": conf})))["qemu-conf-acl"]
    assert r.status == status and text in r.summary, r


def test_dynamic_ownership_off(etc_host: Callable[..., Host]) -> None:
    r = by_id(run_checks(etc_host({"/etc/libvirt/qemu.conf": 'user = "qemu"\ndynamic_ownership = 0\n'})))
    assert r["qemu-conf-ownership"].status == "warn" and r["qemu-conf-ownership"].fix_id == "qemu-conf-ownership"


def test_risky_cmdline_flags(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/etc/modprobe.d/gpu.conf": "options vfio-pci ids=10de:1b80\n"})
    (host.paths.proc / "cmdline").write_text("ro amd_iommu=on pcie_acs_override=downstream,multifunction\n")
    r = by_id(run_checks(host))["cmdline-flags"]
    assert r.status == "warn"
    for word in ("amd_iommu=on does nothing", "out-of-tree", "options vfio-pci ids=10de:1b80"):
        assert word in r.summary


def test_modules_missing_offers_fix(etc_host: Callable[..., Host]) -> None:
    import shutil

    host = etc_host({"/lib/modules/6.1.0-28-amd64/modules.builtin": "kernel/fs/ext4/ext4.ko\n"})
    for m in ("vfio", "vfio_pci", "vfio_iommu_type1", "vfio_pci_core"):
        shutil.rmtree(host.paths.module(m), ignore_errors=True)
    r = by_id(run_checks(host))["vfio-modules"]
    assert r.status == "fail" and r.fix_id == "vfio-modules" and "modules-load.d/vfio.conf" in r.fix


def _test_driver() -> object:
    libvirt = pytest.importorskip("libvirt")
    libvirt.registerErrorHandler(lambda *_: None, None)
    return libvirt.open("test:///default")


def test_libvirt_and_vm_checks_through_a_real_libvirt_connection(demo_host: Host) -> None:
    import types

    conn = _test_driver()
    # core.libvirt's Hypervisor keeps the virConnect in .conn; a bare connection works too.
    r = by_id(run_checks(demo_host, vm="test", hypervisor=types.SimpleNamespace(conn=conn)))
    assert r["libvirt"].status == "pass"
    assert "libvirt 9." in r["libvirt"].summary or "libvirt" in r["libvirt"].summary
    assert any(e.startswith("hypervisor: uri test:///default") for e in r["libvirt"].evidence)
    assert r["vm-memlock"].status == "pass" and "memory 8.0 GiB" in r["vm-memlock"].evidence[0]
    assert r["vm-machine"].summary.startswith("cannot tell")  # the test domain names no machine type
    with pytest.raises(InputError):
        run_checks(demo_host, vm="no-such-vm", hypervisor=conn)


def test_running_qemu_memlock_limit_is_read(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/run/libvirt/qemu/vfio_test.pid": "4242\n",
                     "/proc/4242/limits": "Limit                     Soft Limit           Hard Limit           Units\n"
                                          "Max locked memory         65536                65536                bytes\n"})
    r = by_id(run_checks(host, vm="vfio_test"))["vm-memlock"]
    assert r.status == "fail" and "RLIMIT_MEMLOCK" in r.summary
    assert any("/proc/4242/limits" in e for e in r.evidence)


def test_recorded_host_does_not_borrow_this_machines_libvirt() -> None:
    with open_host(HostOptions(snapshot=RECORDED / "q35-viommu.json")) as host:
        r = by_id(run_checks(host, only=("libvirt",)))["libvirt"]
    assert r.status == "n/a" and "--connect" in r.summary


def test_noiommu_groups_are_not_an_iommu(etc_host: Callable[..., Host]) -> None:
    import shutil

    host = etc_host({"/sys/module/vfio/parameters/enable_unsafe_noiommu_mode": "Y\n", "/dev/vfio/noiommu-0": ""})
    shutil.rmtree(host.paths.class_iommu)
    host.paths.class_iommu.mkdir()
    r = by_id(run_checks(host))["iommu-kernel"]
    assert r.status == "fail" and "no-IOMMU groups" in r.summary
