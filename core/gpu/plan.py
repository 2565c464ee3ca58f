"""Provides plan_gpu(): what a group holding a GPU needs before it can be bound to vfio-pci, as steps with
their undo (core.gpu.steps), refusals and warnings — nothing is changed here.

In order, each only when the host needs it:
1. stop the display manager (only with --stop-display-manager, and never from inside the session it ends);
2. release the text console: fbcon's vtconsole unbound (drivers/tty/vt/vt.c), so the console stops drawing on
   the card;
3. release the firmware framebuffer (simpledrm/simplefb, efifb, vesafb) on the card: its platform driver
   unbound (vfio-pci removes it too on Linux >= 6.0, vfio_pci_core.c vfio_pci_vga_init());
4. unload the driver's modules, users first (nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia), when the driver
   cannot let go of a card by unbind (core/data/gpu.json) and drives no other card.
Then the group is bound as any group (every function of the card with it). Undo, once the drivers are back:
modules loaded again, the framebuffer bound when it still exists, the console bound, the display manager
started. A card's own functions outside the group, a family without a working reset, and the host's only
GPU are said first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu.facts import GpuFacts, module_closure, read_gpu_facts
from vfio_tui.core.gpu.hookplan import HookPlan
from vfio_tui.core.gpu.inventory import cards
from vfio_tui.core.gpu.known import driver_info, reset_bug, reset_bug_effect, vendor_reset_note
from vfio_tui.core.gpu.session import operator
from vfio_tui.core.gpu.steps import GpuStep
from vfio_tui.core.model import HostInventory, PciDevice

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

GPU_PLAN_SCHEMA = "vfio-tui/gpu-plan/1"


@dataclass(frozen=True, slots=True)
class GpuRefusal:
    address: str
    reason: str
    fix: str = ""


@dataclass(frozen=True)
class GpuPlan:
    """The GPU part of a passthrough plan (see the module docstring)."""

    cards: tuple[str, ...]
    """The display functions in the group."""
    functions: tuple[str, ...]
    """Every function of those cards."""
    release: tuple[GpuStep, ...] = ()
    released: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per member: the host-use kinds the steps take away (console, display): not refusals of the bind."""
    unloaded: dict[str, str] = field(default_factory=dict)
    """Per member: the modules unloaded under it (it is driverless when binding starts)."""
    refusals: tuple[GpuRefusal, ...] = ()
    warnings: tuple[str, ...] = ()
    single_gpu: bool = False
    stop_display_manager: bool = False
    hook: HookPlan | None = None

    def restore(self, done: list[GpuStep] | tuple[GpuStep, ...] | None = None) -> list[GpuStep]:
        """The undo of `done` (default: every release step), last first."""
        steps = self.release if done is None else tuple(done)
        return [u for u in (s.undo() for s in reversed(steps)) if u is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": GPU_PLAN_SCHEMA, "cards": list(self.cards), "functions": list(self.functions),
            "release": [s.to_json() for s in self.release], "restore": [s.to_json() for s in self.restore()],
            "released": {a: list(k) for a, k in self.released.items()}, "unloaded": dict(self.unloaded),
            "refusals": [{"address": r.address, "reason": r.reason, "fix": r.fix} for r in self.refusals],
            "warnings": list(self.warnings), "single_gpu": self.single_gpu,
            "stop_display_manager": self.stop_display_manager,
            "hook": self.hook.to_json() if self.hook is not None else None,
        }


def _display_holders(facts: GpuFacts, members: list[PciDevice]) -> list[str]:
    out: list[str] = []
    for m in members:
        users = list(facts.users_of(m.address)) + list(facts.driver_users.get(m.driver or "", ()))
        for u in users:
            if u.role in ("display", "greeter") and u.who not in out:
                out.append(u.who)
    return sorted(out)


def plan_gpu(host: Host, inv: HostInventory, address: PciAddress, *, vm: str | None = None,
             stop_display_manager: bool = False, facts: GpuFacts | None = None,
             from_hook: bool = False) -> GpuPlan | None:
    """The GPU plan for the group of `address`, or None when the group holds no GPU.

    from_hook: planned inside libvirt's hook (core.hooks): no person sits at this run, so stopping the
    display manager ends nobody's session running it."""
    group = inv.group_of(address)
    members = inv.members(group.id) if group is not None else [d for d in (inv.device(address),) if d]
    all_cards = cards(inv)
    in_group = [a for a in all_cards if any(m.address == a for m in members)]
    if not in_group:
        return None
    boot = next((d.address for d in inv if d.boot_vga), None)
    facts = facts or read_gpu_facts(host.paths, boot)
    paths = host.paths
    member_set = {m.address for m in members}
    functions = sorted({f.address for c in in_group for f in all_cards[c]})
    warnings: list[str] = []
    refusals: list[GpuRefusal] = []
    released: dict[str, list[str]] = {}
    unloaded: dict[str, str] = {}
    steps: list[GpuStep] = []
    single = len(all_cards) == 1
    who = operator(host)

    for fn in functions:
        if fn not in member_set:
            dev = inv.devices[fn]
            warnings.append(f"{fn} ({dev.class_name or 'class ' + dev.class_short}) is a function of the same card"
                            f" but in IOMMU group {dev.iommu_group}: pass it too (vfio-tui pass {fn} {vm or 'VM'}),"
                            " or the guest's driver may not start the card")

    # 1. the display server
    holders = _display_holders(facts, members)
    dm = host.services.resolve("display-manager.service") if holders else ""
    console = facts.console_gpu()
    if holders:
        for m in members:
            # Said once, here, with the console: not again as the bind's "display" refusal.
            released.setdefault(str(m.address), []).append("display")
    if holders and stop_display_manager:
        if who.on_screen and not from_hook:
            refusals.append(GpuRefusal(str(in_group[0]), f"you run vfio-tui from {who.detail or 'this screen'}:"
                                       f" stopping {dm} ends that session, and this run with it",
                                       "run it over SSH, or install the libvirt hook (it runs the plan when the VM"
                                       f" starts): vfio-tui hooks install {vm or 'VM'}"))
        elif host.services.state(dm) == "unknown" and not facts.display_manager:
            refusals.append(GpuRefusal(str(in_group[0]), f"{', '.join(holders)} use the card and no display manager"
                                       " is known to stop (no display-manager.service)",
                                       "end the graphical session yourself (log out, or stop the X server)"))
        else:
            steps.append(GpuStep("stop-service", dm, why=f"{', '.join(holders)} draw on the card; stopping {dm}"
                                 " ends them (it is started again on undo)"))
    elif holders:
        also = ""
        if console is not None and console in member_set:
            fb0 = next((f for f in facts.framebuffers if f.fb == "fb0"), None)
            also = (f"; the text console is on it too (fbcon on fb0{', ' + fb0.name if fb0 else ''}), which the"
                    " plan releases itself")
        fix = (f"add --stop-display-manager to stop {dm} first and start it again on undo (over SSH: it ends the"
               " graphical session)")
        if single:
            fix += f", or install the libvirt hook so that happens whenever {vm or 'the VM'} starts" \
                   f" (vfio-tui hooks install {vm or 'VM'}; plan below)"
        refusals.append(GpuRefusal(str(in_group[0]), f"the display server runs on it: {', '.join(holders)}"
                                   f" {'has' if len(holders) == 1 else 'have'} the card open{also}", fix))
    # 2. the text console
    if console is not None and console in member_set:
        for vt in facts.vtconsoles:
            if vt.is_fbcon and vt.bound:
                steps.append(GpuStep("unbind-vtconsole", vt.name, paths.display(
                    paths.sys / "class" / "vtconsole" / vt.name / "bind"), "0",
                    why=f"fbcon draws the text console on {console}"))
        released.setdefault(str(console), []).append("console")
    # 3. the firmware framebuffer
    for card in in_group:
        for fw in facts.firmware_fbs_of(card):
            if fw.bound:
                steps.append(GpuStep("unbind-framebuffer", fw.driver, paths.display(
                    paths.sys / "bus" / "platform" / "drivers" / fw.driver / "unbind"), fw.device, fw.driver,
                    why=f"the firmware framebuffer {fw.device} holds part of {card}'s memory (BAR conflict:"
                        " \"BAR N: can't reserve\")"))
    # 4. drivers that cannot let go by unbind
    for m in members:
        info = driver_info(m.driver)
        if info is None or info.clean_unbind:
            continue
        others = [d.address for d in inv if d.driver == m.driver and d.address not in member_set]
        stack = module_closure(facts, m.driver or "")
        if others:
            warnings.append(f"{m.driver} also drives {', '.join(map(str, others))}: its modules stay loaded and"
                            f" {m.address} is unbound from it directly; {info.why}; vfio-tui gives up after the"
                            " write timeout and rolls back")
            continue
        if not stack:
            continue
        for i, name in enumerate(stack):
            if not any(s.kind == "unload-module" and s.target == name for s in steps):
                why = (f"{m.driver} lets go of {m.address} only when unloaded: {info.why}" if i == 0 else
                       f"the {m.driver} stack, each module after the ones that use it")
                steps.append(GpuStep("unload-module", name, why=why))
        unloaded[str(m.address)] = ", ".join(stack)
    # the text console after undo: fbcon needs a framebuffer on the card to come back
    if console is not None and console in member_set:
        own_fb = [f for f in facts.framebuffers_of(console) if not f.firmware]
        firmware_only = any(f.firmware for f in facts.framebuffers_of(console)) and not own_fb
        if firmware_only:
            hint = (" (nvidia_drm.fbdev=1 gives the card a framebuffer of its own, driver 545 or newer)"
                    if inv.devices[console].driver == "nvidia" else "")
            warnings.append(f"the text console draws on the firmware framebuffer, which vfio-pci removes when it"
                            f" takes {console} (Linux >= 6.0): after undo the console comes back only with a"
                            f" framebuffer driver of the card's own{hint}; the display manager comes back anyway")
    # warnings: reset, the host's only GPU
    for card in in_group:
        dev = inv.devices[card]
        bug = reset_bug(dev.vendor_id, dev.device_id)
        if bug is not None:
            vr = ("vendor-reset is loaded" if facts.vendor_reset_loaded else
                  "vendor-reset is installed but not loaded: modprobe vendor-reset" if facts.vendor_reset_installed
                  else "vendor-reset is not installed")
            ds = isinstance(dev.reset_methods, tuple) and "device_specific" in dev.reset_methods
            warnings.append(
                f"RESET: {card} is an {bug.family}: {reset_bug_effect()}" + (f" ({vm} restarts on a guest reboot:"
                                                                            " on_reboot=restart)" if vm else "")
                + f". {vr}" + ("" if ds or not bug.vendor_reset else f"; {vendor_reset_note()}")
                + f" (sources: {'; '.join(bug.sources)})")
        elif isinstance(dev.reset_methods, tuple) and not dev.reset_methods:
            warnings.append(f"RESET: {card} offers no reset method (reset_method is empty): the card keeps the"
                            " previous guest's state; expect to reboot the host between VM starts")
    if single:
        warnings.append(f"{in_group[0]} is the host's only GPU: passing it blanks this screen until undo; reach the"
                        f" host over SSH meanwhile ({'you are on ' + who.detail if who.detail else who.via})")
    hook = None
    if single and vm is not None:
        # The hook runs inside libvirtd when the VM starts: the display manager always stops there.
        hook_steps = list(steps)
        if holders and not any(s.kind == "stop-service" for s in steps):
            hook_steps.insert(0, GpuStep("stop-service", dm))
        bind = f"bind group {inv.devices[in_group[0]].iommu_group} to vfio-pci (every function of the card)"
        hook = HookPlan(vm, tuple([s.describe() for s in hook_steps] + [bind]),
                        tuple(["give the group back to its drivers"] + [s.describe() for s in
                                                                        _restore_of(hook_steps)]),
                        steps=tuple(hook_steps))
    return GpuPlan(
        cards=tuple(map(str, in_group)), functions=tuple(map(str, functions)), release=tuple(steps),
        released={a: tuple(k) for a, k in released.items()}, unloaded=unloaded, refusals=tuple(refusals),
        warnings=tuple(warnings), single_gpu=single, stop_display_manager=stop_display_manager, hook=hook)


def _restore_of(steps: list[GpuStep]) -> list[GpuStep]:
    return [u for u in (s.undo() for s in reversed(steps)) if u is not None]
