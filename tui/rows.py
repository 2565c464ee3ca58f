"""Provides the tree's rows: each group's state, each device's badges, and a row fitted to a width.

A row is laid out in columns — address, driver, then the badges, then the name — so that the
facts that decide whether a device may be passed through (the host uses it, a VM runs with it,
its port lacks ACS, it has no reset, ...) come before the name and are never cut: when space is
short, the name is shortened first, then the badges that are only informative (FLR, ACS ✓) go.
Pure functions over core's values, so they are tested without running the app. Text from the
host is appended as plain text, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from rich.cells import cell_len, set_cell_size

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import ACS_RELEVANT_PORTS, NEEDS_ROOT, AcsState, DomainHold, HostInventory, PciDevice
from vfio_tui.core.textsafe import printable
from vfio_tui.tui.gpu_view import gpu_badges
from vfio_tui.tui.safe_text import SafeText as Text

Holds: TypeAlias = Mapping[PciAddress, tuple[DomainHold, ...]]
"""Which VMs have each device in their definition (core's domain facts); {} when there is no libvirt."""

State: TypeAlias = Literal["ready", "bindable", "blocked", "in VM"]

STATE_STYLE: Final[dict[str, str]] = {"ready": "bold green", "bindable": "bold yellow", "blocked": "bold red",
                                      "in VM": "bold blue"}
"""State colours: ANSI names, so a 16-colour terminal (the app switches to the ANSI theme there)
shows them as the terminal's own green, yellow, red and blue. Not magenta for VMs: Textual's
true-colour rendering of ANSI magenta is the same pink as its red, so "in VM" read as "blocked"."""

MIN_NAME: Final = 12
"""Below this many cells a name says little: informative badges give way first."""
DRIVER_COLUMN: Final = 9


@dataclass(frozen=True, slots=True)
class Badge:
    """A bracketed fact on a row."""

    text: str
    style: str
    safety: bool = True
    """A fact that decides what may be passed through: never dropped to make room."""

    def render(self) -> Text:
        return Text(f"[{self.text}]", style=self.style)


def running_holds(holds: Holds, address: PciAddress) -> list[DomainHold]:
    """The running VMs whose QEMU has this device now (a running domain with it in its live definition)."""
    if not holds:
        return []
    return [h for h in holds.get(address, ()) if h.active and h.live]


def vm_badge(holds: Holds, address: PciAddress) -> Badge | None:
    running = running_holds(holds, address)
    if running:
        return Badge(f"running in {running[0].vm}", "bold blue")
    defined = holds.get(address, ())
    if defined:
        return Badge(f"in VM {defined[0].vm}", "blue")
    return None


def acs_badge(dev: PciDevice) -> Badge | None:
    """ACS ✓ / ✗ / ?root, for ports and multifunction devices (where ACS shapes groups)."""
    relevant = dev.pcie_port_type in ACS_RELEVANT_PORTS or dev.multifunction or isinstance(dev.acs, AcsState)
    if not relevant:
        return None
    if dev.acs == NEEDS_ROOT:
        return Badge("ACS ?root", "yellow")
    if isinstance(dev.acs, AcsState):
        return Badge("ACS ✓", "green", safety=False) if dev.acs.isolates else Badge("ACS ✗", "red")
    if dev.pcie_port_type in ACS_RELEVANT_PORTS:
        return Badge("ACS ✗", "red")
    return None


def reset_badge(dev: PciDevice) -> Badge | None:
    if dev.is_bridge:
        return None
    if dev.flr is True:
        return Badge("FLR", "green", safety=False)
    if dev.reset_methods == NEEDS_ROOT or dev.flr == NEEDS_ROOT:
        return Badge("reset ?root", "yellow", safety=False)
    if "bus" in dev.reset_methods:
        return Badge("bus reset", "yellow", safety=False)
    if dev.reset_methods:
        return Badge(f"{dev.reset_methods[0]} reset", "yellow", safety=False)
    return Badge("no reset", "red")


def device_badges(inv: HostInventory, dev: PciDevice, holds: Holds) -> list[Badge]:
    """A device's badges, most important first."""
    badges: list[Badge | None] = [
        Badge("host-used", "bold red") if inv.uses_of(dev.address) else None,
        vm_badge(holds, dev.address),
        Badge("vfio-pci", "bold green") if dev.on_vfio else None,
        Badge(f"{dev.sriov_num_vfs} VFs", "red") if dev.sriov_num_vfs else None,
        Badge("boot VGA", "magenta") if dev.boot_vga else None,
        acs_badge(dev),
        reset_badge(dev),
    ]
    # A GPU card's own badges (tui/gpu_view.py). A lone-function GPU (a server's BMC VGA) and the pointer
    # from a card's other functions to it are only informative; a multi-function card, the host's only
    # GPU and a known reset problem decide what must go together.
    badges += [Badge(text, style, safety=not text.startswith("GPU") or text.startswith("GPU ×"))
               for text, style in gpu_badges(inv, dev)]
    out: list[Badge] = []
    for b in badges:
        if b is not None and all(b.text != o.text for o in out):
            out.append(b)
    return out


def group_state(inv: HostInventory, gid: int, holds: Holds) -> State:
    """What the tree, the detail and the status line call a group: core's verdict, except that a
    group a running VM has is "in VM" (it is passed through now, not waiting to be)."""
    if holds and any(running_holds(holds, d.address) for d in inv.members(gid)):
        return "in VM"
    verdict = inv.verdicts.get(gid)
    return verdict.kind if verdict is not None else "blocked"


def group_badges(inv: HostInventory, gid: int, holds: Holds) -> list[Badge]:
    members = inv.members(gid)
    badges: list[Badge] = []
    used = [d for d in members if inv.uses_of(d.address)]
    if used:
        badges.append(Badge("host-used", "bold red"))
    vms = sorted({h.vm for d in members for h in running_holds(holds, d.address)})
    if vms:
        badges.append(Badge(f"running in {', '.join(vms)}", "bold blue"))
    else:
        defined = sorted({h.vm for d in members for h in holds.get(d.address, ())})
        if defined:
            badges.append(Badge(f"in VM {', '.join(defined)}", "blue"))
    vfs = sum(d.sriov_num_vfs or 0 for d in members)
    if vfs:
        badges.append(Badge(f"{vfs} VFs", "red"))
    if any(d.is_chipset for d in members if not d.is_bridge):
        badges.append(Badge("chipset", "red"))
    if not inv.host_use_known and group_state(inv, gid, holds) == "bindable":
        badges.append(Badge("host use unknown", "yellow"))
    return badges


def short(text: str, width: int) -> str:
    """`text` cut to `width` cells with an ellipsis."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1) + "…"


def fit(head: Text, badges: list[Badge], name: str, width: int) -> Text:
    """head + badges + name in `width` cells: the name shrinks first, then informative badges go;
    safety badges stay even if the row then runs past `width` (the tree scrolls sideways)."""
    kept = list(badges)

    def used(bs: list[Badge]) -> int:
        return head.cell_len + sum(cell_len(b.text) + 3 for b in bs)

    while used(kept) + MIN_NAME > width and any(not b.safety for b in kept):
        drop = next(b for b in reversed(kept) if not b.safety)
        kept.remove(drop)
    text = Text()
    text.append(head)
    for badge in kept:
        text.append(badge.render())
        text.append(" ")
    room = width - text.cell_len
    if room > 0:
        text.append(short(name, room))
    return text


def device_row(inv: HostInventory, dev: PciDevice, holds: Holds, width: int, pad: int = 0,
               behind_other_group: bool = False) -> Text:
    """A device row: address (padded by `pad` so the driver column lines up across tree depths),
    driver, badges, name; `behind_other_group`: its bridge is in another group (said in the name)."""
    head = Text()
    head.append(dev.address.short, style="bold")
    head.append(" " * (pad + 1))
    driver = dev.driver or "no driver"
    head.append(f"{driver:<{DRIVER_COLUMN}}", style="dim" if dev.driver is None else "cyan")
    head.append(" ")
    name = printable(dev.device_name or dev.name, newlines=False)  # measured as it will be drawn
    if behind_other_group and dev.parent is not None:
        name += f" (behind {dev.parent.short})"
    return fit(head, device_badges(inv, dev, holds), name, width)


def group_row(inv: HostInventory, gid: int, holds: Holds, width: int, id_width: int = 2) -> Text:
    """A group row: id, state, function count, badges, then what is in it."""
    state = group_state(inv, gid, holds)
    members = inv.members(gid)
    head = Text()
    head.append(f"Group {gid:<{id_width}}", style="bold")
    head.append(" ")
    head.append(f"{state:<8}", style=STATE_STYLE[state])
    head.append(f" {len(members):>2} fn ", style="dim")
    ends = [d for d in members if not d.is_bridge]
    names = [printable(d.device_name or d.name, newlines=False) for d in ends]
    summary = ", ".join(dict.fromkeys(names)) if names else "bridges only"
    return fit(head, group_badges(inv, gid, holds), summary, width)
