"""Provides GpuStep: one change a GPU plan makes to the host before its group is bound (stop the display
manager, release the console, release the firmware framebuffer, unload the driver's modules), each with the
step that undoes it, in a form that serializes to JSON and back — so a libvirt hook can later run a
recorded plan without asking, after checking it against the host (core.gpu.apply.check_step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, TypeAlias, get_args

GpuStepKind: TypeAlias = Literal["stop-service", "start-service", "unbind-vtconsole", "bind-vtconsole",
                                 "unbind-framebuffer", "bind-framebuffer", "unload-module", "load-module"]
_UNDO: dict[str, GpuStepKind] = {
    "stop-service": "start-service", "unbind-vtconsole": "bind-vtconsole",
    "unbind-framebuffer": "bind-framebuffer", "unload-module": "load-module",
}


@dataclass(frozen=True, slots=True)
class GpuStep:
    """One host change of a GPU plan (see the module docstring)."""

    kind: GpuStepKind
    target: str
    """The unit (gdm.service), the console (vtcon1), the platform device (simple-framebuffer.0) or the module."""
    path: str = ""
    """Host-absolute sysfs path written (vtconsole and framebuffer steps); "" for services and modules."""
    value: str = ""
    driver: str = ""
    """The framebuffer's platform driver (simple-framebuffer, efi-framebuffer, vesa-framebuffer)."""
    why: str = ""

    def describe(self) -> str:
        if self.kind == "stop-service":
            return f"systemctl stop {self.target}"
        if self.kind == "start-service":
            return f"systemctl start {self.target}"
        if self.kind == "unload-module":
            return f"modprobe -r {self.target}"
        if self.kind == "load-module":
            return f"modprobe {self.target}"
        return f"{self.path} <- {self.value}"

    def undo(self) -> GpuStep | None:
        """The step that puts back what this one changes (None for a step that is itself an undo)."""
        kind = _UNDO.get(self.kind)
        if kind is None:
            return None
        if self.kind == "unbind-vtconsole":
            return GpuStep(kind, self.target, self.path, "1", why="the text console back on the GPU")
        if self.kind == "unbind-framebuffer":
            path = self.path.rsplit("/", 1)[0] + "/bind"
            return GpuStep(kind, self.target, path, self.value, self.driver,
                           why="the firmware framebuffer back (when it still exists: vfio-pci removes it on Linux"
                               " >= 6.0, and the GPU's own driver provides the console then)")
        if self.kind == "stop-service":
            return GpuStep(kind, self.target, why="the display server back")
        return GpuStep(kind, self.target, why=f"{self.target} back (its devices probe again)")

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> GpuStep:
        """A step from its JSON (a run record, a recorded hook plan). Raises ValueError on anything else."""
        if not isinstance(data, dict) or data.get("kind") not in get_args(GpuStepKind):
            raise ValueError(f"not a GPU step: {data!r}"[:200])
        fields = {k: str(data.get(k, "")) for k in ("target", "path", "value", "driver", "why")}
        if not fields["target"] or any("\n" in v or "\0" in v for v in fields.values()):
            raise ValueError("a GPU step with an empty target or a control character")
        return GpuStep(data["kind"], **fields)
