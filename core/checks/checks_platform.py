"""Provides the host platform checks: CPU virtualization, /dev/kvm, IOMMU in firmware, kernel and
on the command line, the bootloader, and command-line flags that do not do what people think.
Facts: kernel-semantics A6 (where IOMMU enablement shows), the seed's preparation steps 1 and 4.
"""

from __future__ import annotations

import os

from vfio_tui.core.checks.bootloader import (
    add_param_edit,
    detect_bootloader,
    param_fix_text,
)
from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.plan import FixPlan, register_fix
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.checks.textfile import ConfigParseError
from vfio_tui.core.configfiles import FileChange

#: The seed's step 4, made vendor-specific: where the IOMMU switch usually sits in firmware menus.
BIOS_HINT = {
    "intel": ('enable "Intel VT-d" (also called "Intel Virtualization Technology for Directed I/O" or'
              ' "IOMMU") in the firmware setup, usually under Advanced → Chipset / Northbridge /'
              ' System Agent / "Intel VT for Directed I/O Configuration"'),
    "amd": ('enable "IOMMU" (also "AMD-Vi") in the firmware setup, usually under Advanced → AMD CBS →'
            ' NBIO Common Options, or Advanced → North Bridge'),
    None: ('enable "Intel VT-d" or "IOMMU"/"AMD-Vi" in the firmware setup (usually under Advanced →'
           ' Chipset/Northbridge, or AMD CBS → NBIO)'),
}


def check_cpu(ctx: CheckContext) -> CheckResult:
    cid, title = "cpu-virt", "CPU virtualization (VT-x / AMD-V)"
    info = ctx.read("/proc/cpuinfo")
    if info.text is None:
        return cannot_tell(cid, title, f"/proc/cpuinfo is {info.error}")
    flags: set[str] = set()
    for line in info.text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    if not flags:
        return cannot_tell(cid, title, "/proc/cpuinfo has no flags line", evidence=("/proc/cpuinfo: no flags",))
    found = sorted(flags & {"vmx", "svm"})
    if found:
        return CheckResult(cid, title, "pass", f"the CPU offers {'/'.join(found)}",
                           (f"/proc/cpuinfo: flags include {' '.join(found)}",))
    in_vm = "hypervisor" in flags
    fix = ("this host is itself a VM: enable nested virtualization on its hypervisor (e.g. kvm_intel nested=1,"
           " -cpu host)" if in_vm else
           "enable Intel VT-x / AMD SVM in the firmware setup (usually Advanced → CPU Configuration), then"
           " power-cycle")
    return CheckResult(cid, title, "fail", "the CPU does not offer vmx or svm: KVM cannot run VMs",
                       ("/proc/cpuinfo: no vmx or svm flag" + (" (flag 'hypervisor': this is a VM)" if in_vm
                                                                else ""),), fix)


def check_kvm(ctx: CheckContext) -> CheckResult:
    cid, title = "kvm", "KVM usable (/dev/kvm)"
    p = ctx.path("/dev/kvm")
    if not os.path.lexists(p):
        if ctx.host.kind == "snapshot":
            return cannot_tell(cid, title, "recorded hosts do not record /dev/kvm")
        return CheckResult(cid, title, "fail", "/dev/kvm does not exist: QEMU falls back to slow emulation",
                           ("/dev/kvm: not present",),
                           "modprobe kvm_intel   # or kvm_amd; `dmesg | grep -i kvm` shows 'disabled by bios'"
                           " when VT-x/AMD-V is off in the firmware")
    if ctx.host.paths.is_live and not os.access(p, os.R_OK | os.W_OK):
        return CheckResult(cid, title, "warn", "/dev/kvm exists but this user cannot open it",
                           ("/dev/kvm: present, not read/writable by this user",),
                           "libvirt's qemu:///system runs QEMU with access; for your own user: usermod -aG kvm USER")
    return CheckResult(cid, title, "pass", "/dev/kvm exists", ("/dev/kvm: present",))


def iommu_units_and_groups(ctx: CheckContext) -> tuple[list[str] | None, list[str] | None]:
    return ctx.listdir("/sys/class/iommu"), ctx.listdir("/sys/kernel/iommu_groups")


def check_iommu_firmware(ctx: CheckContext) -> CheckResult:
    cid, title = "iommu-firmware", "IOMMU described by the firmware (ACPI DMAR / IVRS)"
    units, _ = iommu_units_and_groups(ctx)
    tables = ctx.listdir("/sys/firmware/acpi/tables")
    vendor, vendor_ev = ctx.cpu_vendor()
    if tables is not None:
        found = [t for t in ("DMAR", "IVRS") if t in tables]
        if found:
            return CheckResult(cid, title, "pass", f"the firmware provides the {' and '.join(found)} table",
                               tuple(f"/sys/firmware/acpi/tables/{t}: present" for t in found))
    if units:
        return CheckResult(cid, title, "pass", "the kernel found IOMMU units, so the firmware describes them",
                           (f"/sys/class/iommu: {' '.join(units)}",))
    if tables is None:
        return cannot_tell(cid, title, "/sys/firmware/acpi/tables cannot be listed"
                           + (" (not in this recording)" if ctx.host.simulated else " (no ACPI?)"),
                           status="n/a" if ctx.host.simulated else "warn", fix=BIOS_HINT[vendor])
    return CheckResult(
        cid, title, "fail",
        "no DMAR (Intel) or IVRS (AMD) ACPI table: the IOMMU is off (or absent) in the firmware",
        ("/sys/firmware/acpi/tables: no DMAR, no IVRS", vendor_ev),
        BIOS_HINT[vendor] + "; save, power-cycle, and run `vfio-tui check` again")


def check_iommu_kernel(ctx: CheckContext) -> CheckResult:
    cid, title = "iommu-kernel", "IOMMU enabled in the kernel (groups exist)"
    units, groups = iommu_units_and_groups(ctx)
    listed = " ".join(units) if units else "(empty)" if units is not None else "missing"
    ev: tuple[str, ...] = (f"/sys/class/iommu: {listed}",
          f"/sys/kernel/iommu_groups: {len(groups)} groups" if groups is not None
          else "/sys/kernel/iommu_groups: missing")
    noiommu = ctx.attr("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
    fake = [n for n in ctx.listdir("/dev/vfio") or [] if n.startswith("noiommu-")]
    if groups and noiommu == "Y" and not units:
        # vfio's no-IOMMU mode creates groups of its own; they fill iommu_groups without any isolation.
        return CheckResult(cid, title, "fail", "the groups are vfio no-IOMMU groups (catalog K11): no real IOMMU,"
                           " and this mode cannot assign devices to VMs",
                           (*ev, "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode: Y",
                            *(f"/dev/vfio/{n}" for n in fake)),
                           "turn vfio.enable_unsafe_noiommu_mode off and enable the IOMMU (see iommu-firmware)")
    if groups:
        return CheckResult(cid, title, "pass", f"{len(groups)} IOMMU groups (libvirt's own test: virHostHasIOMMU)",
                           ev)
    if noiommu == "Y":
        ev = (*ev, "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode: Y")
    cmd = check_iommu_cmdline(ctx)
    fix = cmd.fix if cmd.status == "fail" else (
        "the kernel command line looks right: enable the IOMMU in the firmware (see iommu-firmware) and reboot")
    return CheckResult(cid, title, "fail",
                       "no IOMMU groups: VFIO cannot assign devices (libvirt: \"host doesn't support VFIO PCI"
                       " passthrough\")", ev, fix, cmd.fix_id if cmd.status == "fail" else None,
                       ("vfio no-IOMMU mode is on: it taints the kernel and cannot be used for VMs",)
                       if noiommu == "Y" else ())


def _param_values(params: list[str], name: str) -> list[str]:
    return [p.partition("=")[2] for p in params if p.partition("=")[0] == name]


def intel_default_on(ctx: CheckContext) -> tuple[bool | None, str]:
    """CONFIG_INTEL_IOMMU_DEFAULT_ON of the running kernel, from /boot/config-$(uname -r)."""
    rel = ctx.release
    if not rel:
        return None, "kernel release unknown"
    path = f"/boot/config-{rel}"
    r = ctx.read(path)
    if r.text is None:
        return None, f"{path}: {r.error}"
    for line in r.text.splitlines():
        if line.startswith("CONFIG_INTEL_IOMMU_DEFAULT_ON="):
            return line.endswith("=y"), f"{path}: {line.strip()}"
        if line.startswith("# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set"):
            return False, f"{path}: {line.strip()}"
    return None, f"{path}: no CONFIG_INTEL_IOMMU_DEFAULT_ON line"


def check_iommu_cmdline(ctx: CheckContext) -> CheckResult:
    cid, title = "iommu-cmdline", "IOMMU on the kernel command line"
    params = ctx.cmdline_params()
    if params is None:
        return cannot_tell(cid, title, f"/proc/cmdline is {ctx.cmdline.error}")
    ev: list[str] = [f"/proc/cmdline: {' '.join(params)}"]
    _, groups = iommu_units_and_groups(ctx)
    active = bool(groups)
    vendor, vendor_ev = ctx.cpu_vendor()
    ev.append(vendor_ev)
    notes: list[str] = []
    if "pt" in _param_values(params, "iommu") or "1" in _param_values(params, "iommu.passthrough"):
        notes.append("iommu=pt only changes how host-owned devices are mapped; VFIO groups get their own domain,"
                     " so it is neither required nor harmful for passthrough")
    if "off" in _param_values(params, "iommu"):
        return _needs_param(ctx, cid, title, "iommu=off disables the IOMMU", ev, None, notes, remove="iommu=off")
    if vendor == "amd" or (vendor is None and any(p.startswith("amd_iommu=") for p in params)):
        opts = ",".join(_param_values(params, "amd_iommu")).split(",")
        if "off" in opts:
            return _needs_param(ctx, cid, title, "amd_iommu=off disables the AMD IOMMU", ev, None, notes,
                                remove="amd_iommu=off")
        notes.append("the AMD IOMMU is used by default when the firmware has an IVRS table; amd_iommu has no"
                     " 'on' option")
        summary = "no flag needed on AMD (and none disables it)"
        if not active:
            summary += "; the IOMMU is still not active: see iommu-firmware (the firmware switch)"
        return CheckResult(cid, title, "pass", summary, tuple(ev), notes=tuple(notes))
    intel = ",".join(_param_values(params, "intel_iommu")).split(",")
    if "off" in intel:
        return _needs_param(ctx, cid, title, "intel_iommu=off disables VT-d", ev, "intel_iommu=on", notes,
                            remove="intel_iommu=off")
    if "on" in intel:
        return CheckResult(cid, title, "pass", "intel_iommu=on is set", tuple(ev), notes=tuple(notes))
    default_on, cfg_ev = intel_default_on(ctx)
    ev.append(cfg_ev)
    if default_on:
        return CheckResult(cid, title, "pass", "no flag needed: this kernel enables VT-d by default"
                           " (CONFIG_INTEL_IOMMU_DEFAULT_ON=y)", tuple(ev), notes=tuple(notes))
    if active:
        return CheckResult(cid, title, "pass", "the IOMMU is active without a flag", tuple(ev), notes=tuple(notes))
    if vendor is None:
        bl = detect_bootloader(ctx)
        return CheckResult(cid, title, "warn", "no IOMMU is active and the CPU vendor is unknown", tuple(ev),
                           "Intel: " + param_fix_text(bl, "intel_iommu=on")
                           + "\nAMD: nothing to add; enable the IOMMU in the firmware", notes=tuple(notes))
    why = ("this kernel leaves VT-d off by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)"
           if default_on is False else "intel_iommu=on is missing and the IOMMU is not active")
    return _needs_param(ctx, cid, title, why, ev, "intel_iommu=on", notes)


def _needs_param(ctx: CheckContext, cid: str, title: str, why: str, ev: list[str], add: str | None,
                 notes: list[str], remove: str | None = None) -> CheckResult:
    bl = detect_bootloader(ctx)
    ev = [*ev, *bl.evidence]
    if add and add in bl.configured:
        ev.append(f"{bl.config}: already has {add}")
        steps = [*bl.regenerate, "reboot"]
        return CheckResult(cid, title, "fail", f"{why}; {bl.config} already has {add} but the running kernel"
                           " was booted without it", tuple(ev), "\n".join(steps), notes=tuple(notes))
    parts = []
    if remove:
        parts.append(f"remove {remove} from the kernel command line ({bl.config or 'your bootloader config'})")
    if add:
        parts.append(param_fix_text(bl, add))
    fixable = add is not None and remove is None and bl.config is not None and bl.problem is None
    if bl.problem:
        parts.append(f"(vfio-tui cannot edit it: {bl.problem})")
    return CheckResult(cid, title, "fail", why, tuple(ev), "\n".join(parts),
                       "intel-iommu-on" if fixable else None, tuple(notes))


@register_fix("intel-iommu-on")
def plan_intel_iommu_on(ctx: CheckContext) -> FixPlan:
    bl = detect_bootloader(ctx)
    if bl.problem and bl.config is not None:
        raise ConfigParseError(bl.problem)
    path, old, new = add_param_edit(ctx, bl, "intel_iommu=on")
    followup = list(bl.regenerate)
    if bl.kind == "grubby":
        followup.insert(0, 'grubby --update-kernel=ALL --args="intel_iommu=on"')
    return FixPlan("intel-iommu-on", "iommu-cmdline", "add intel_iommu=on to the kernel command line",
                   (FileChange(path, old, new),), (), (*followup, "reboot"))


def check_bootloader(ctx: CheckContext) -> CheckResult:
    cid, title = "bootloader", "Bootloader (where the kernel command line is set)"
    bl = detect_bootloader(ctx)
    if bl.kind == "unknown":
        return cannot_tell(cid, title, bl.problem or "no bootloader configuration was found")
    if bl.problem:
        return cannot_tell(cid, title, bl.problem, evidence=bl.evidence, status="warn",
                           fix=f"repair {bl.config} by hand (close the quote), then run the check again")
    how = f"edit {bl.config}" if bl.config else "use its command"
    if bl.kind == "grubby":
        how = "grubby --update-kernel=ALL --args=... (and /etc/default/grub for future kernels)"
    then = f", then {' && '.join(bl.regenerate)}" if bl.regenerate else ""
    ev = list(bl.evidence)
    if bl.config:
        ev.append(f"{bl.config}: kernel parameters {' '.join(bl.configured) or '(none)'}")
    return CheckResult(cid, title, "pass", f"{bl.label}: {how}{then}", tuple(ev))


def check_cmdline_flags(ctx: CheckContext) -> CheckResult:
    cid, title = "cmdline-flags", "Kernel command line: obsolete or risky flags"
    params = ctx.cmdline_params()
    if params is None:
        return cannot_tell(cid, title, f"/proc/cmdline is {ctx.cmdline.error}")
    problems: list[str] = []
    fixes: list[str] = []
    status = "pass"
    for p in params:
        key, _, value = p.partition("=")
        if key == "amd_iommu" and "on" in value.split(","):
            problems.append("amd_iommu=on does nothing: amd_iommu has no 'on' option (current kernels log"
                            " \"AMD-Vi: Unknown option - 'on'\", catalog K10); the AMD IOMMU is on whenever the"
                            " IVRS table exists")
            fixes.append("remove amd_iommu=on from the kernel command line")
        elif key == "pcie_acs_override":
            problems.append(f"{p}: an out-of-tree patch (Arch linux-vfio, Proxmox, linux-acs-override); stock kernels"
                            " ignore it silently, and where it works it fakes isolation (a security downgrade)")
            fixes.append("prefer moving the card to a slot with its own group; remove pcie_acs_override=")
        elif key in ("vfio-pci.ids", "vfio_pci.ids"):
            problems.append(f"{p}: vfio-pci claims EVERY device with these ids at boot (a second identical"
                            " NIC or GPU the host needs goes too)")
            fixes.append("bind by address instead: `vfio-tui bind ADDR --persist`, then remove vfio-pci.ids=")
        elif key == "intel_iommu" and any(v in ("strict", "forcedac") for v in value.split(",")):
            problems.append(f"{p}: deprecated; use iommu.strict=1 / iommu.forcedac=1")
        elif key in ("vfio.enable_unsafe_noiommu_mode",) and value in ("1", "Y", "y"):
            problems.append(f"{p}: no-IOMMU mode cannot be used to assign devices to VMs and taints the kernel"
                            " (catalog K11)")
            fixes.append("remove vfio.enable_unsafe_noiommu_mode from the kernel command line")
            status = "fail"
    for name in ctx.listdir("/etc/modprobe.d") or []:
        text = ctx.read(f"/etc/modprobe.d/{name}").text or ""
        from vfio_tui.core.checks.linefiles import modprobe_options

        ids = modprobe_options(text, "vfio_pci").get("ids")
        if ids:
            problems.append(f"/etc/modprobe.d/{name} line {ids[1]}: options vfio-pci ids={ids[0]} claims every"
                            " device with these ids")
            fixes.append(f"bind by address (`vfio-tui bind ADDR --persist`) and drop that line from"
                         f" /etc/modprobe.d/{name}")
    if problems and status == "pass":
        status = "warn"
    return CheckResult(cid, title, status,  # type: ignore[arg-type]
                       "; ".join(problems) if problems else "nothing obsolete or risky",
                       (f"/proc/cmdline: {' '.join(params)}",), "\n".join(fixes))

