"""Provides the GPU checks: the obsolete advice of GPU guides said plainly where it is obsolete
(`video=efifb:off`, `<kvm><hidden state='on'/>`; `pcie_acs_override` is the cmdline-flags check's), the card's
reset (known-broken families, vendor-reset), its BARs (Resizable BAR, above-4G decoding, what a large BAR
does and does not cost in locked memory) and its ROM as the kernel will give it. Every fact cited in
core/data/gpu.json or below; nothing here changes the host (the ROM is not read: `vfio-tui rom` does that).
"""

from __future__ import annotations

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.gpu.known import obsolete_advice, reset_bug, reset_bug_effect, vendor_reset_note
from vfio_tui.core.model import PciDevice

GiB = 1 << 30
_VIDEO_OFF = ("video=efifb:off", "video=vesafb:off", "video=vesa:off", "video=simplefb:off")


def _kernel_at_least(release: str | None, want: tuple[int, int]) -> bool | None:
    if not release:
        return None
    parts = release.split(".")
    try:
        return (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)) >= want
    except (ValueError, IndexError):
        return None


def check_video_off(ctx: CheckContext) -> CheckResult:
    cid, title = "gpu-video-off", "Kernel command line: video=efifb:off and friends"
    params = ctx.cmdline_params()
    if params is None:
        return cannot_tell(cid, title, "the kernel command line cannot be read (/proc/cmdline)")
    found = [p for p in params if p in _VIDEO_OFF]
    ev = (f"/proc/cmdline: {' '.join(found) or 'no video=...:off'}", f"kernel {ctx.release or 'unknown'}")
    if not found:
        return CheckResult(cid, title, "n/a", "no firmware framebuffer is switched off on the command line", ev)
    advice = obsolete_advice("video-efifb-off")
    new_kernel = _kernel_at_least(ctx.release, (6, 0))
    fbs = (ctx.read("/proc/fb").text or "").lower()
    simpledrm = "simpledrm" in fbs or ctx.exists("/sys/bus/platform/devices/simple-framebuffer.0")
    why = []
    if new_kernel:
        why.append("since Linux 6.0 vfio-pci removes any firmware framebuffer on a VGA device it takes"
                   " (vfio_pci_core.c vfio_pci_vga_init -> aperture_remove_conflicting_pci_devices)")
    if simpledrm:
        why.append("this host's firmware framebuffer is simpledrm/simplefb (a simple-framebuffer device), which"
                   " efifb never sees: the option does nothing")
    summary = (f"{', '.join(found)} is obsolete here: " + "; ".join(why) if why else
               f"{', '.join(found)}: kept the firmware framebuffer off the boot GPU (needed on kernels before 6.0"
               " with efifb); it also leaves the host without a boot console")
    return CheckResult(cid, title, "warn" if why else "pass", summary, ev,
                       f"remove {' '.join(found)} from the kernel command line (GRUB_CMDLINE_LINUX in"
                       " /etc/default/grub, then update-grub): you get the boot console back, and vfio-tui's plan"
                       " releases the framebuffer when it takes the card" if why else "",
                       notes=(f"{advice.advice}: {advice.status}",))


def _gpu(ctx: CheckContext, cid: str, title: str) -> tuple[PciDevice | None, CheckResult | None]:
    inv = ctx.inventory()
    if inv is None or ctx.for_address is None:
        return None, cannot_tell(cid, title, "the PCI inventory cannot be read")
    dev = inv.device(ctx.for_address)
    if dev is None:
        return None, cannot_tell(cid, title, f"no PCI device {ctx.for_address}", status="fail")
    info = inv.gpu.get(dev.address)
    if info is None:
        return None, CheckResult(cid, title, "n/a", "not a GPU or a function of one", (f"class {dev.class_code}",))
    return inv.devices[info.card], None


def check_gpu_reset(ctx: CheckContext) -> CheckResult:
    cid, title = "gpu-reset", f"GPU reset of {ctx.for_address}'s card"
    card, early = _gpu(ctx, cid, title)
    if early is not None or card is None:
        return early or cannot_tell(cid, title, "no card")
    methods = card.reset_methods if isinstance(card.reset_methods, tuple) else ()
    ev = [f"/sys/bus/pci/devices/{card.address}/reset_method: {' '.join(methods) or '(empty)'}",
          f"ids {card.ids}"]
    bug = reset_bug(card.vendor_id, card.device_id)
    if bug is None:
        return CheckResult(cid, title, "pass", f"no known reset problem for {card.ids}", tuple(ev),
                           notes=("the device-reset check says which reset the kernel will use",))
    loaded = ctx.exists("/sys/module/vendor_reset")
    ev.append(f"/sys/module/vendor_reset: {'present' if loaded else 'absent'}")
    ev.append("sources: " + "; ".join(bug.sources))
    if loaded and "device_specific" in methods:
        return CheckResult(cid, title, "pass", f"{bug.family}: vendor-reset is loaded and reset_method starts with"
                           " device_specific: the card can be reset between VM starts", tuple(ev))
    fix = ("install vendor-reset (DKMS, github.com/gnif/vendor-reset), load it at boot (echo vendor-reset >"
           " /etc/modules-load.d/vendor-reset.conf) and set the method: echo device_specific >"
           f" /sys/bus/pci/devices/{card.address}/reset_method (its udev rule does both)")
    if loaded:
        fix = f"echo device_specific > /sys/bus/pci/devices/{card.address}/reset_method (vendor-reset is loaded)"
    return CheckResult(cid, title, "warn", f"{bug.family}: {reset_bug_effect()}", tuple(ev), fix,
                       notes=(vendor_reset_note(),))


def _bars(ctx: CheckContext, dev: PciDevice) -> list[tuple[int, int, int]]:
    text = ctx.read(f"/sys/bus/pci/devices/{dev.address}/resource").text or ""
    out = []
    for i, line in enumerate(text.splitlines()[:6]):
        try:
            start, end, _flags = (int(x, 16) for x in line.split()[:3])
        except ValueError:
            continue
        if end > start:
            out.append((i, start, end - start + 1))
    return out


def _size(n: int) -> str:
    return f"{n // GiB} GiB" if n >= GiB else f"{n >> 20} MiB" if n >= 1 << 20 else f"{n >> 10} KiB"


def check_gpu_bars(ctx: CheckContext) -> CheckResult:
    cid, title = "gpu-bars", f"BARs of {ctx.for_address}'s card (Resizable BAR, above 4G)"
    card, early = _gpu(ctx, cid, title)
    if early is not None or card is None:
        return early or cannot_tell(cid, title, "no card")
    bars = _bars(ctx, card)
    if not bars:
        return cannot_tell(cid, title, f"/sys/bus/pci/devices/{card.address}/resource shows no BARs")
    ev = tuple(f"BAR{i}: {_size(size)} at 0x{start:x}" for i, start, size in bars)
    big = [(i, start, size) for i, start, size in bars if size >= GiB]
    high = [i for i, start, _ in bars if start >= 1 << 32]
    notes = ["a BAR costs no locked memory: VFIO charges only guest RAM to RLIMIT_MEMLOCK (MMIO pages are"
             " reserved pfns, drivers/vfio/vfio_iommu_type1.c vfio_pin_pages_remote()), so the VM needs RAM +"
             " 1 GiB whatever the BAR size (libvirt's rule, the vm-memlock check)"]
    if high:
        notes.append(f"BAR{', BAR'.join(map(str, high))} above 4 GiB: above-4G decoding is on in the firmware")
    if not big:
        return CheckResult(cid, title, "pass", "no BAR of 1 GiB or more: the guest's default PCI windows hold it",
                           ev, notes=tuple(notes))
    i, _start, size = max(big, key=lambda b: b[2])
    return CheckResult(
        cid, title, "warn", f"BAR{i} is {size // GiB} GiB (Resizable BAR is on): the guest firmware must place it in"
        " its 64-bit MMIO window, or the guest sees the card without that BAR", ev,
        "use OVMF (SeaBIOS cannot place it), and when the guest shows the card without its memory give OVMF a larger"
        " 64-bit window: <qemu:commandline><qemu:arg value='-fw_cfg'/><qemu:arg"
        f" value='opt/ovmf/X-PciMmio64Mb,string={max(65536, 2 * size >> 20)}'/></qemu:commandline>; or turn"
        " Resizable BAR off in the host firmware", notes=tuple(notes))


def check_gpu_rom(ctx: CheckContext) -> CheckResult:
    cid, title = "gpu-rom", f"Option ROM of {ctx.for_address}'s card"
    card, early = _gpu(ctx, cid, title)
    if early is not None or card is None:
        return early or cannot_tell(cid, title, "no card")
    base = f"/sys/bus/pci/devices/{card.address}"
    if not ctx.exists(f"{base}/rom"):
        return CheckResult(cid, title, "n/a", "the card exposes no ROM (no ROM BAR): QEMU gives the guest none",
                           (f"{base}/rom: absent",))
    lines = (ctx.read(f"{base}/resource").text or "").splitlines()
    rom = lines[6].split()[:2] if len(lines) > 6 else []
    shadow = len(rom) == 2 and int(rom[0], 16) == 0xC0000
    ev = (f"{base}/resource line 6 (ROM): {' '.join(rom) or '?'}", f"{base}/boot_vga: {int(card.boot_vga)}")
    if shadow:
        return CheckResult(cid, title, "warn", "the kernel gives this boot GPU's shadow copy as its ROM (0xC0000):"
                           " the legacy image as the firmware left it, not the card's ROM", ev,
                           "for a ROM QEMU can use, read it on a boot where another GPU is primary, or take the"
                           " vendor's image: check it with `vfio-tui rom --check FILE --for ADDR`",
                           notes=("arch/x86/pci/fixup.c pci_fixup_video, drivers/pci/rom.c pci_map_rom",))
    return CheckResult(cid, title, "pass", "the card's own ROM is readable through sysfs (`vfio-tui rom ADDR`"
                       " reads, validates and saves it)", ev)


def check_kvm_hidden(ctx: CheckContext) -> CheckResult:
    cid, title = "vm-kvm-hidden", f"{ctx.vm}: KVM hidden from the guest"
    from lxml import etree

    from vfio_tui.core.checks.checks_vm import vm_facts

    facts = vm_facts(ctx)
    xml = facts.xml
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    hidden = root.find("features/kvm/hidden")
    ev = (f"{facts.source}: <features><kvm><hidden state='{hidden.get('state') if hidden is not None else '-'}'/>",)
    if hidden is None or hidden.get("state") != "on":
        return CheckResult(cid, title, "pass", "KVM is not hidden from the guest", ev)
    advice = obsolete_advice("kvm-hidden")
    return CheckResult(cid, title, "warn", f"obsolete: {advice.status}", ev,
                       f"{advice.instead}: virsh edit {ctx.vm} and remove <hidden state='on'/> (and the hyperv"
                       " vendor_id that went with it)", notes=advice.sources)
