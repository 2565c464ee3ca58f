"""Provides annotate(): the inventory with what the host does with its GPUs — the host uses the guard
refuses on (the console, a display server, GPU clients; a sound server on the HDMI audio, which only
warns) and a GpuInfo on every function of every card — read once per inventory from the host tree.
"""

from __future__ import annotations

from dataclasses import replace

from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu import AUDIO_CLASS, DISPLAY_CLASS
from vfio_tui.core.gpu.facts import GpuFacts, NodeUser, holders_of_nodes, module_closure, read_gpu_facts
from vfio_tui.core.gpu.known import driver_info, reset_bug
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import GpuInfo, HostInventory, HostUse, PciDevice
from vfio_tui.core.verdict import with_verdicts

#: Classes worth a GPU look besides the display itself: the HDMI/DP audio (0403) of a card.


def cards(inv: HostInventory) -> dict[PciAddress, list[PciDevice]]:
    """{display function: every function of its card}, for every display-class device. A card's functions
    share its slot and its vendor (an NVIDIA card's audio, USB-C and UCSI are NVIDIA's); a server BMC's
    VGA beside the BMC's own functions (HP iLO: a Matrox VGA among HP functions) stays alone."""
    out: dict[PciAddress, list[PciDevice]] = {}
    for dev in inv:
        if dev.class_code.startswith(DISPLAY_CLASS) and not dev.is_vf:
            out[dev.address] = sorted((d for d in inv if d.address.slot_key == dev.address.slot_key
                                       and d.vendor_id == dev.vendor_id and not d.is_bridge),
                                      key=lambda d: d.address)
    return out


def wants_facts(inv: HostInventory, focus: PciAddress | None) -> bool:
    """Whether GPU facts can matter: some GPU exists (and, with a focus, its group holds a GPU function)."""
    if focus is None:
        return any(d.class_code.startswith(DISPLAY_CLASS) for d in inv)
    group = inv.group_of(focus)
    members = group.members if group is not None else (focus,)
    devs = [d for d in map(inv.device, members) if d is not None]
    return any(d.class_code.startswith((DISPLAY_CLASS, AUDIO_CLASS)) for d in devs)


def _boot_vga(inv: HostInventory) -> PciAddress | None:
    return next((d.address for d in inv if d.boot_vga), None)


def _client_use(u: NodeUser, dm: str | None, nodes: str = "") -> HostUse:
    """What one process holding one or more of a device's nodes (`nodes`, else u.node) means for the host."""
    opened = nodes or u.node
    if u.role in ("display", "greeter"):
        unit = dm or "display-manager.service"
        return HostUse("display", f"{u.who} has {opened} open",
                       f"add --stop-display-manager (stops {unit} before and starts it again after), or log out"
                       f" and `systemctl stop {unit}` yourself")
    if u.role == "audio":
        how = f"systemctl --user stop {u.unit}" if u.unit and u.user_unit else f"stop {u.comm}"
        return HostUse("audio", f"{u.who} has {opened} open",
                       f"nothing to do: the unbind waits until it lets go, which it does when the card disappears"
                       f" (its HDMI/DP output leaves the sound settings); or {how} first", blocking=False)
    if u.unit and u.unit.endswith(".service") and not u.user_unit:
        how = f"systemctl stop {u.unit}"
    elif u.unit and u.user_unit:
        how = f"systemctl --user stop {u.unit}"
    else:
        how = f"end it (kill {u.pid})"
    return HostUse("gpu-client", f"{u.who} has {opened} open",
                   f"{how}: the driver cannot let go of the card while it is open (an unbind waits for it)")


def gpu_uses(inv: HostInventory, facts: GpuFacts) -> dict[PciAddress, tuple[HostUse, ...]]:
    """The host uses the GPU facts show, per device."""
    uses: dict[PciAddress, list[HostUse]] = {}

    def add(addr: PciAddress | None, use: HostUse) -> None:
        if addr is None or addr not in inv.devices:
            return
        bucket = uses.setdefault(addr, [])
        if use not in bucket:
            bucket.append(use)

    console = facts.console_gpu()
    if console is not None:
        fb0 = next(f for f in facts.framebuffers if f.fb == "fb0")
        vt = next((v.name for v in facts.vtconsoles if v.is_fbcon and v.bound), "vtcon1")
        how = f" (firmware framebuffer {fb0.platform_device})" if fb0.platform_device else ""
        add(console, HostUse("console", f"fbcon on {fb0.fb} ({fb0.name}){how}",
                             f"`vfio-tui pass` releases it ({vt} unbind, then the framebuffer) and gives it back on"
                             f" undo; use SSH or a serial console meanwhile"))
    for dev in inv:
        held = list(facts.users_of(dev.address))
        if dev.driver is not None:
            # /dev/nvidiactl, /dev/kfd: the driver as a whole; its cards cannot go while they are open.
            held += facts.driver_users.get(dev.driver, ())
        by_pid: dict[int, list[NodeUser]] = {}
        for u in held:
            by_pid.setdefault(u.pid, []).append(u)
        for users in by_pid.values():
            add(dev.address, _client_use(users[0], facts.display_manager, ", ".join(u.node for u in users)))
    return {a: tuple(u) for a, u in uses.items()}


def _stack(facts: GpuFacts, driver: str | None) -> tuple[str, ...]:
    if driver is None:
        return ()
    out = []
    for name in module_closure(facts, driver):
        mod = facts.modules[name]
        params = ", ".join(f"{k}={v}" for k, v in mod.params)
        out.append(f"{name} ({params})" if params else name)
    return tuple(out)


def gpu_info(inv: HostInventory, facts: GpuFacts) -> dict[PciAddress, GpuInfo]:
    """A GpuInfo for every function of every card."""
    all_cards = cards(inv)
    single = len(all_cards) == 1
    console = facts.console_gpu()
    out: dict[PciAddress, GpuInfo] = {}
    for card, functions in all_cards.items():
        dev = inv.devices[card]
        fbs = tuple(f"{f.fb} {f.name}" + (f" (firmware: {f.platform_device}, {f.located_by})" if f.platform_device
                                          else "") for f in facts.framebuffers_of(card))
        fbs += tuple(f"{f.device} (firmware framebuffer, {'bound to ' + f.driver if f.bound else 'unbound'})"
                     for f in facts.firmware_fbs_of(card) if not any(f.device in x for x in fbs))
        clients = tuple(f"{u.who}: {u.node}" for fn in functions for u in facts.users_of(fn.address))
        clients += tuple(f"{u.who}: {u.node}" for u in facts.driver_users.get(dev.driver or "", ()))
        bug = reset_bug(dev.vendor_id, dev.device_id)
        reset = None
        if bug is not None:
            vr = ("vendor-reset loaded" if facts.vendor_reset_loaded else "vendor-reset installed, not loaded"
                  if facts.vendor_reset_installed else "vendor-reset not installed")
            reset = f"{bug.family}: no working reset; {vr}"
        fb0 = next((f for f in facts.framebuffers if f.fb == "fb0"), None)
        info = GpuInfo(card=card, functions=tuple(f.address for f in functions), boot_vga=dev.boot_vga,
                       console=(f"fbcon on fb0 ({fb0.name})" if console == card and fb0 is not None else None),
                       framebuffers=fbs, clients=clients, driver_stack=_stack(facts, dev.driver), reset=reset,
                       single=single)
        for fn in functions:
            out[fn.address] = info
    return out


def annotate(paths: HostPaths, inv: HostInventory, focus: PciAddress | None = None,
             facts: GpuFacts | None = None) -> HostInventory:
    """The inventory with the GPU host uses merged into host_use (verdicts again) and GpuInfo attached.

    A GPU use replaces a recorded use of the same kind on the same device (the recording's "consoles" and
    "display_servers" facts are the coarse version of what the tree shows precisely).
    """
    if facts is None:
        if not wants_facts(inv, focus):
            return inv
        facts = read_gpu_facts(paths, _boot_vga(inv))
    found = gpu_uses(inv, facts)
    merged: dict[PciAddress, tuple[HostUse, ...]] = dict(inv.host_use)
    # The usage facts' coarse console ("fbcon: every framebuffer's device") and display server ("a display
    # server runs: the boot VGA") give way where this host's tree shows the precise ones.
    coarse = ({"console"} if facts.vtconsoles else set()) | (
        {"display"} if facts.processes_seen and facts.processes_complete else set())
    if coarse:
        merged = {a: tuple(u for u in uses if u.kind not in coarse) for a, uses in merged.items()}
    for addr, uses in found.items():
        kinds = {u.kind for u in uses}
        kept = tuple(u for u in merged.get(addr, ()) if u.kind not in kinds)
        merged[addr] = kept + uses
    info = gpu_info(inv, facts)
    return replace(with_verdicts(inv, merged), gpu=info)


def known_driver(dev: PciDevice) -> bool:
    return driver_info(dev.driver) is not None


__all__ = ["annotate", "cards", "gpu_info", "gpu_uses", "holders_of_nodes", "wants_facts"]
