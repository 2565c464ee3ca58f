"""Provides HookPlan: what installing vfio-tui's libvirt hook for a VM would put on the host and what the hook
would do — shown by a plan that needs it (a single-GPU host, whose screen goes away while the VM runs).

The hook kit itself (`vfio-tui hooks install|remove|status VM`) builds on this; nothing here writes a file.
libvirt (>= 6.5) runs every executable in /etc/libvirt/hooks/qemu.d/ with the domain name, the operation
and the sub-operation as arguments ("win11 prepare begin" before the start, "win11 release end" after the
VM is gone: docs "Hooks for specific system management", src/util/virhook.c), so one script serves every
VM and reads the VM's recorded plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from vfio_tui.core.gpu.steps import GpuStep

HOOK_SCRIPT: Final = "/etc/libvirt/hooks/qemu.d/vfio-tui"
HOOK_PLANS: Final = "/var/lib/vfio-tui/hooks"


@dataclass(frozen=True)
class HookPlan:
    vm: str
    at_start: tuple[str, ...]
    """What the hook does on "VM prepare begin", in order (the recorded plan's release steps and the bind)."""
    at_stop: tuple[str, ...]
    """What it does on "VM release end" (the undo)."""
    steps: tuple[GpuStep, ...] = ()
    """The release steps the hook makes before the bind (the display manager always stops there)."""

    @property
    def files(self) -> tuple[str, ...]:
        return (HOOK_SCRIPT, f"{HOOK_PLANS}/{self.vm}.json")

    @property
    def command(self) -> str:
        return f"vfio-tui hooks install {self.vm}"

    def lines(self) -> list[str]:
        out = [f"install the libvirt hook for {self.vm}: {self.command}",
               f"  writes {self.files[0]} (one script for every VM) and {self.files[1]} (this plan, recorded)",
               f"  when libvirt starts {self.vm} (prepare begin), after checking the recorded plan against the host:"]
        out += [f"    {i}. {s}" for i, s in enumerate(self.at_start, 1)]
        out.append(f"  when {self.vm} has stopped (release end):")
        out += [f"    {i}. {s}" for i, s in enumerate(self.at_stop, 1)]
        return out

    def to_json(self) -> dict[str, object]:
        return {"vm": self.vm, "command": self.command, "files": list(self.files), "at_start": list(self.at_start),
                "at_stop": list(self.at_stop)}
