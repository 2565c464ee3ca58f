"""Provides the VFIO module check (loaded or built in, persisted for boot) and the interrupt
remapping check (kernel-semantics A4: without it vfio_iommu_type1 refuses groups, unless
allow_unsafe_interrupts is set, which trades away protection against MSI spoofing).
"""

from __future__ import annotations

import re

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.linefiles import modprobe_drop_option, modprobe_options, modules_load_add, modules_load_names
from vfio_tui.core.checks.plan import FixPlan, register_fix
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.configfiles import FileChange

MODULES_LOAD = "/etc/modules-load.d/vfio.conf"
WANTED = ("vfio", "vfio_pci", "vfio_iommu_type1")
"""vfio_iommu_type1 is the legacy container backend; iommufd replaces it on new kernels."""


def _builtin(ctx: CheckContext) -> tuple[set[str], str]:
    rel = ctx.release
    if not rel:
        return set(), "modules.builtin: kernel release unknown"
    path = f"/lib/modules/{rel}/modules.builtin"
    r = ctx.read(path)
    if r.text is None:
        return set(), f"{path}: {r.error}"
    names = {line.rsplit("/", 1)[-1].removesuffix(".ko").replace("-", "_") for line in r.text.split()}
    return names, f"{path}: {len(names)} built-in modules"


def module_state(ctx: CheckContext) -> tuple[dict[str, str], list[str]]:
    """{module: "loaded"|"built in"|"missing"} for the VFIO modules, and evidence."""
    builtin, b_ev = _builtin(ctx)
    state: dict[str, str] = {}
    for m in (*WANTED, "iommufd"):
        if ctx.path(f"/sys/module/{m}").is_dir():
            state[m] = "built in" if m in builtin else "loaded"
        elif m in builtin:
            state[m] = "built in"
        else:
            state[m] = "missing"
    ev = [f"/sys/module/{m}: {state[m]}" for m in (*WANTED, "iommufd")]
    ev.append(b_ev)
    return state, ev


def _persisted(ctx: CheckContext) -> tuple[set[str], list[str]]:
    found: set[str] = set()
    where: list[str] = []
    for d in ("/etc/modules-load.d", "/usr/lib/modules-load.d", "/lib/modules-load.d"):
        for name in ctx.listdir(d) or []:
            if name.endswith(".conf"):
                mods = set(modules_load_names(ctx.read(f"{d}/{name}").text or "")) & set(WANTED)
                if mods:
                    found |= mods
                    where.append(f"{d}/{name}: {' '.join(sorted(mods))}")
    etc_modules = ctx.read("/etc/modules").text  # Debian's older list
    if etc_modules:
        mods = set(modules_load_names(etc_modules)) & set(WANTED)
        if mods:
            found |= mods
            where.append(f"/etc/modules: {' '.join(sorted(mods))}")
    return found, where


def check_modules(ctx: CheckContext) -> CheckResult:
    cid, title = "vfio-modules", "VFIO modules (vfio, vfio_pci, vfio_iommu_type1 or iommufd)"
    state, ev = module_state(ctx)
    backend = state["vfio_iommu_type1"] != "missing" or state["iommufd"] != "missing"
    missing = [m for m in ("vfio", "vfio_pci") if state[m] == "missing"]
    if not backend:
        missing.append("vfio_iommu_type1")
    dev_vfio = ctx.exists("/dev/vfio/vfio")
    ev.append(f"/dev/vfio/vfio: {'present' if dev_vfio else 'not present'}")
    persisted, where = _persisted(ctx)
    ev += where
    if not missing:
        notes: tuple[str, ...] = ()
        need = [m for m in WANTED if state[m] == "loaded" and m not in persisted]
        if need:
            notes = (f"{' '.join(need)} loaded now but not listed in modules-load.d; `--fix vfio-modules` persists"
                     " them (libvirt needs /dev/vfio/vfio before it loads vfio-pci itself)",)
        return CheckResult(cid, title, "pass", "loaded or built in", tuple(ev), notes=notes)
    params = ctx.cmdline_params() or []
    nomodule = "nomodule" in params
    fix = (f"modprobe vfio-pci   # pulls in vfio and vfio_iommu_type1\n"
           f"printf '%s\\n' {' '.join(WANTED)} > {MODULES_LOAD}   # load them at every boot")
    if nomodule:
        ev.append("/proc/cmdline: nomodule (the kernel refuses to load modules)")
        fix = "remove `nomodule` from the kernel command line and reboot, or use a kernel with VFIO built in"
    return CheckResult(cid, title, "fail", f"not loaded: {', '.join(missing)} (libvirt: \"host doesn't support VFIO"
                       " PCI passthrough\" until they are)", tuple(ev), fix,
                       None if nomodule else "vfio-modules")


@register_fix("vfio-modules")
def plan_modules(ctx: CheckContext) -> FixPlan:
    state, _ = module_state(ctx)
    load = tuple(m for m in ("vfio", "vfio_iommu_type1", "vfio_pci") if state[m] == "missing")
    r = ctx.read(MODULES_LOAD)
    new = modules_load_add(r.text, list(WANTED), "written by vfio-tui: load the VFIO modules at boot")
    edits = () if r.text == new else (FileChange(MODULES_LOAD, r.text, new),)
    return FixPlan("vfio-modules", "vfio-modules", "load the VFIO modules now and at every boot", edits, load)


_IR_ON = re.compile(r"DMAR-IR: Enabled IRQ remapping in \S+ mode|AMD-Vi: Interrupt remapping enabled")
_IR_OFF = re.compile(r"DMAR-IR: (?:IRQ remapping was enabled|Not enabling|.*disabled)|"
                     r"x2apic: IRQ remapping doesn't support|AMD-Vi: Interrupt remapping disabled|"
                     r"No interrupt remapping support")
_UNSAFE_FILES = "/etc/modprobe.d"


def _unsafe_settings(ctx: CheckContext) -> list[tuple[str, str | None]]:
    """Where allow_unsafe_interrupts is on: [(evidence, modprobe.d file or None)]."""
    found: list[tuple[str, str | None]] = []
    for mod in ("vfio_iommu_type1", "iommufd"):
        v = ctx.attr(f"/sys/module/{mod}/parameters/allow_unsafe_interrupts")
        if v in ("Y", "1"):
            found.append((f"/sys/module/{mod}/parameters/allow_unsafe_interrupts: {v}", None))
    for p in ctx.cmdline_params() or []:
        key, _, value = p.partition("=")
        if key.replace("-", "_") in ("vfio_iommu_type1.allow_unsafe_interrupts",
                                     "iommufd.allow_unsafe_interrupts") and value in ("1", "Y", "y"):
            found.append((f"/proc/cmdline: {p}", None))
    for name in ctx.listdir(_UNSAFE_FILES) or []:
        path = f"{_UNSAFE_FILES}/{name}"
        text = ctx.read(path).text or ""
        for mod in ("vfio_iommu_type1", "iommufd"):
            opt = modprobe_options(text, mod).get("allow_unsafe_interrupts")
            if opt and opt[0] in ("1", "Y", "y"):
                found.append((f"{path} line {opt[1]}: options {mod} allow_unsafe_interrupts={opt[0]}", path))
    return found


def interrupt_remapping(ctx: CheckContext) -> tuple[bool | None, list[str]]:
    """Whether interrupt remapping is on (None: cannot tell), with evidence."""
    interrupts = ctx.read("/proc/interrupts")
    if interrupts.text is not None and "IR-" in interrupts.text:
        return True, ["/proc/interrupts: IR-* interrupt chips (remapped interrupts)"]
    for log in ctx.kernel_log():
        assert log.text is not None
        on = _IR_ON.findall(log.text)
        off = _IR_OFF.findall(log.text)
        if on:
            return True, [f"{log.path}: {on[-1]}"]
        if off:
            return False, [f"{log.path}: {off[-1]}"]
    if interrupts.text is not None and "PCI-MSI" in interrupts.text:
        return False, ["/proc/interrupts: PCI-MSI chips without IR- (interrupts are not remapped)"]
    return None, ["kernel log: " + ("no DMAR-IR / AMD-Vi line" if ctx.kernel_log() else "no readable log file")]


def check_interrupt_remapping(ctx: CheckContext) -> CheckResult:
    cid, title = "interrupt-remapping", "Interrupt remapping (or allow_unsafe_interrupts)"
    ir, ev = interrupt_remapping(ctx)
    unsafe = _unsafe_settings(ctx)
    ev += [u[0] for u in unsafe]
    files = sorted({u[1] for u in unsafe if u[1]})
    trade = ("allow_unsafe_interrupts lets a device owned by a VM forge MSI writes to the host"
             " (the seed's fix (c): it still works, but it is a security downgrade)")
    if ir:
        if unsafe:
            return CheckResult(cid, title, "warn", "interrupt remapping is on, so allow_unsafe_interrupts is not"
                               " needed and only weakens isolation", tuple(ev),
                               "remove allow_unsafe_interrupts=1 from " + ", ".join(files or ["the command line"]),
                               "unsafe-interrupts-off" if files else None, (trade,))
        return CheckResult(cid, title, "pass", "interrupt remapping is on", tuple(ev))
    if unsafe:
        return CheckResult(cid, title, "warn", "allow_unsafe_interrupts is set: VFIO works without interrupt"
                           " remapping, at a security cost", tuple(ev),
                           "enable interrupt remapping (VT-d/AMD-Vi with x2APIC in the firmware), then remove"
                           " allow_unsafe_interrupts", notes=(trade,))
    if ir is None:
        return cannot_tell(cid, title, "no kernel log line about interrupt remapping was readable", evidence=tuple(ev),
                           fix="as root: dmesg | grep -e DMAR-IR -e AMD-Vi   # expect 'Enabled IRQ remapping'")
    return CheckResult(cid, title, "fail", "no interrupt remapping: vfio_iommu_type1 refuses to attach groups"
                       " (\"No interrupt remapping support\", catalog K01; QEMU: \"failed to set iommu for"
                       " container\", E07)",
                       tuple(ev), "enable interrupt remapping in the firmware (with VT-d/AMD-Vi, x2APIC); as a last"
                       " resort, accepting the risk: echo 'options vfio_iommu_type1 allow_unsafe_interrupts=1' >"
                       " /etc/modprobe.d/vfio-unsafe.conf", notes=(trade,))


@register_fix("unsafe-interrupts-off")
def plan_unsafe_off(ctx: CheckContext) -> FixPlan:
    edits: list[FileChange] = []
    for _, path in _unsafe_settings(ctx):
        if path is None or any(e.path == path for e in edits):
            continue
        old = ctx.read(path).text or ""
        new = old
        for mod in ("vfio_iommu_type1", "iommufd"):
            new = modprobe_drop_option(new, mod, "allow_unsafe_interrupts",
                                       "vfio-tui: interrupt remapping is on; allow_unsafe_interrupts not needed")
        if new != old:
            edits.append(FileChange(path, old, new))
    return FixPlan("unsafe-interrupts-off", "interrupt-remapping", "drop allow_unsafe_interrupts from modprobe.d",
                   tuple(edits), (), ("reboot (or: modprobe -r vfio_pci vfio_iommu_type1 && modprobe vfio_pci)",))
