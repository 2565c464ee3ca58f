"""Provides run_checks(): every check for the host, and for a device (--for) or a VM (--vm).

Each check is one function CheckContext -> CheckResult. A check that hits something it did
not expect reports "cannot tell, because ..." (status warn) instead of stopping the run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.checks import (
    checks_device,
    checks_gpu,
    checks_libvirt,
    checks_modules,
    checks_platform,
    checks_sriov,
    checks_vm,
)
from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.errors import InputError, VfioError

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

CheckFn = Callable[[CheckContext], CheckResult]

HOST_CHECKS: tuple[tuple[str, str, CheckFn], ...] = (
    ("cpu-virt", "CPU virtualization (VT-x / AMD-V)", checks_platform.check_cpu),
    ("kvm", "KVM usable (/dev/kvm)", checks_platform.check_kvm),
    ("iommu-firmware", "IOMMU described by the firmware (ACPI DMAR / IVRS)", checks_platform.check_iommu_firmware),
    ("iommu-kernel", "IOMMU enabled in the kernel (groups exist)", checks_platform.check_iommu_kernel),
    ("iommu-cmdline", "IOMMU on the kernel command line", checks_platform.check_iommu_cmdline),
    ("bootloader", "Bootloader (where the kernel command line is set)", checks_platform.check_bootloader),
    ("cmdline-flags", "Kernel command line: obsolete or risky flags", checks_platform.check_cmdline_flags),
    ("gpu-video-off", "Kernel command line: video=efifb:off and friends", checks_gpu.check_video_off),
    ("vfio-modules", "VFIO modules", checks_modules.check_modules),
    ("interrupt-remapping", "Interrupt remapping", checks_modules.check_interrupt_remapping),
    ("libvirt", "libvirt daemon and versions", checks_libvirt.check_libvirt),
    ("qemu-conf-acl", "qemu.conf cgroup_device_acl", checks_libvirt.check_qemu_acl),
    ("qemu-conf-relaxed-acs", "qemu.conf relaxed_acs_check", checks_libvirt.check_qemu_relaxed_acs),
    ("qemu-conf-ownership", "qemu.conf user, group and dynamic_ownership", checks_libvirt.check_qemu_ownership),
    ("security-mac", "SELinux / AppArmor", checks_libvirt.check_mac),
)
DEVICE_CHECKS: tuple[tuple[str, str, CheckFn], ...] = (
    ("device-group", "IOMMU group", checks_device.check_group),
    ("device-host-use", "Host users of the group", checks_device.check_host_use),
    ("device-reset", "Reset capability", checks_device.check_reset),
    ("device-boot-vga", "Boot VGA / firmware framebuffer", checks_device.check_boot_vga),
    ("gpu-reset", "GPU reset (known-broken families, vendor-reset)", checks_gpu.check_gpu_reset),
    ("gpu-bars", "GPU BARs (Resizable BAR, above 4G)", checks_gpu.check_gpu_bars),
    ("gpu-rom", "GPU option ROM", checks_gpu.check_gpu_rom),
    ("device-sriov", "SR-IOV: a VF's own group and VF token, a PF's VFs", checks_sriov.check_sriov),
)
VM_CHECKS: tuple[tuple[str, str, CheckFn], ...] = (
    ("vm-memlock", "Locked-memory limit", checks_vm.check_memlock),
    ("vm-machine", "Machine type", checks_vm.check_machine),
    ("vm-kvm-hidden", "KVM hidden from the guest (obsolete for NVIDIA)", checks_gpu.check_kvm_hidden),
)
ALL_CHECK_IDS = tuple(c[0] for c in (*HOST_CHECKS, *DEVICE_CHECKS, *VM_CHECKS))


def _run_one(ctx: CheckContext, cid: str, title: str, fn: CheckFn) -> CheckResult:
    try:
        return fn(ctx)
    except InputError:
        raise
    except VfioError as exc:
        return cannot_tell(cid, title, str(exc), status="warn")
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
        return cannot_tell(cid, title, f"the check itself failed ({type(exc).__name__}: {exc}); please report it",
                           status="warn")


def make_context(host: Host, *, for_address: PciAddress | str | None = None, vm: str | None = None,
                 hypervisor: Any = None, connect_uri: str | None = None) -> CheckContext:
    addr = PciAddress.parse(for_address) if isinstance(for_address, str) else for_address
    return CheckContext(host, for_address=addr, vm=vm, hypervisor=hypervisor, connect_uri=connect_uri)


def run_checks(host: Host, *, for_address: PciAddress | str | None = None, vm: str | None = None,
               hypervisor: Any = None, connect_uri: str | None = None,
               only: tuple[str, ...] | None = None) -> list[CheckResult]:
    """Run every host check, plus the device checks (for_address) and the VM checks (vm).

    Raises:
        InputError: a malformed address, a device that does not exist, an unknown VM.
    """
    ctx = make_context(host, for_address=for_address, vm=vm, hypervisor=hypervisor, connect_uri=connect_uri)
    if ctx.for_address is not None:
        inv = ctx.inventory()
        if inv is not None and inv.device(ctx.for_address) is None:
            raise InputError(f"no PCI device {ctx.for_address} on this host",
                             fix="list them with `vfio-tui inventory`")
    if vm is not None:
        checks_vm.vm_facts(ctx)  # an unknown VM is bad input, not a failed check
    selected = list(HOST_CHECKS)
    if ctx.for_address is not None:
        selected += DEVICE_CHECKS
    if vm is not None:
        selected += VM_CHECKS
    if only:
        unknown = [c for c in only if c not in ALL_CHECK_IDS]
        if unknown:
            raise InputError(f"no check named {unknown[0]!r} (checks: {', '.join(ALL_CHECK_IDS)})")
        selected = [c for c in selected if c[0] in only]
    return [_run_one(ctx, cid, title, fn) for cid, title, fn in selected]


def overall_exit_code(results: list[CheckResult]) -> int:
    """0 when nothing fails, 1 when something fails."""
    return 1 if any(r.status == "fail" for r in results) else 0
