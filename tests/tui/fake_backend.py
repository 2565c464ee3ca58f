"""Provides FakeBackend: a scripted stand-in for the core parts that change the host.

The inventory is the real demo host's. Binding, libvirt, checks and explain answers are
scripted here so that the app's user stories (wizard to success, wizard into a failure,
undo) are testable before and independently of those parts of core. `fail_at` makes a
run fail at a step the way the seed's group-13 start failure does.
"""

from __future__ import annotations

import threading
import time

from core.address import PciAddress
from core.host import Host
from tui.backend import Backend, StepCallback
from tui.views import CheckRow, ExplainView, Finding, PassthroughPlan, RunOutcome, StepUpdate, VmRow

NOT_VIABLE = ("vfio 0000:02:00.0: group 13 is not viable\n"
              "Please ensure all devices within the iommu_group are bound to their vfio bus driver.")


class FakeBackend(Backend):
    """Real inventory, scripted changes. Records what was asked in `calls`."""

    def __init__(self, host: Host, *, fail_at: str | None = None, step_delay: float = 0.0) -> None:
        super().__init__(host, None)
        self.fail_at = fail_at
        """The step that fails (bind, verify, attach, start), or None for success."""
        self.step_delay = step_delay
        self.calls: list[str] = []
        self.bound: set[str] = set()

    def list_vms(self) -> list[VmRow]:
        return [VmRow("vfio_test", "shut off"), VmRow("win10", "running", ("0000:07:10.0",))]

    def checks(self, *, for_address: str | None = None, vm: str | None = None) -> list[CheckRow]:
        self.calls.append(f"checks {for_address}")
        return [
            CheckRow("iommu-enabled", "IOMMU is enabled", "pass", ["/sys/class/iommu: dmar0"]),
            CheckRow("vfio-module", "vfio-pci module available", "pass", ["modules.dep lists vfio-pci"]),
            CheckRow("interrupt-remapping", "Interrupt remapping", "warn", ["DMAR-IR: disabled"],
                     "enable x2apic/IR in the firmware"),
            CheckRow("qemu-acl", "qemu.conf cgroup_device_acl", "fail", ["/dev/vfio/vfio listed by hand"],
                     "remove the stale cgroup_device_acl override"),
        ]

    def plan(self, address: str, vm: str | None) -> PassthroughPlan:
        self.calls.append(f"plan {address} {vm}")
        inv = self.inventory()
        group = inv.group_of(PciAddress.parse(address))
        members = inv.members(group.id) if group else []
        ends = [d for d in members if not d.is_bridge]
        diff = ""
        if vm:
            diff = "\n".join(["  <devices>", *[
                f"+   <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' "
                f"bus='0x{d.address.bus:02x}' slot='0x{d.address.slot:02x}' function='0x{d.address.function}'/>"
                f"</source></hostdev>" for d in ends], "  </devices>"])
        return PassthroughPlan(
            address=address, vm=vm,
            members=[f"{d.address} {d.kind_label} ({d.driver or 'no driver'})" for d in members],
            driver_changes=[f"{d.address}: {d.driver or 'none'} -> vfio-pci" for d in ends],
            xml_diff=diff,
            undo=[f"{d.address}: vfio-pci -> {d.driver or 'none'}" for d in ends]
            + ([f"remove the hostdev from {vm}"] if vm else []),
        )

    def run(self, plan: PassthroughPlan, on_step: StepCallback, cancel: threading.Event) -> RunOutcome:
        self.calls.append(f"run {plan.address} {plan.vm}")
        steps = ["bind", "verify"] + (["attach", "start"] if plan.vm else [])
        done: list[str] = []
        for step in steps:
            if cancel.is_set():
                return RunOutcome(False, done, None, cancelled=True, message=f"cancelled before {step}")
            on_step(StepUpdate(step, "started"))
            on_step(StepUpdate(step, "log", 0.0, f"{step}: working on {plan.address}"))
            time.sleep(self.step_delay)
            if step == self.fail_at:
                on_step(StepUpdate(step, "failed", 0.01, "group 13 is not viable"))
                return RunOutcome(False, done, self.failure_view())
            on_step(StepUpdate(step, "done", 0.01))
            done.append(step)
            if step == "bind":
                self.bound.add(plan.address)
                self.session_log.append(f"bound {plan.address}'s group to vfio-pci")
        return RunOutcome(True, done, None)

    def failure_view(self) -> ExplainView:
        """The explanation of the scripted start failure (the seed's group-13 error)."""
        return ExplainView(
            [Finding("Group not viable", "Another member of IOMMU group 13 is still on its host "
                     "driver, so VFIO refuses the whole group.",
                     "Bind every endpoint of the group to vfio-pci (vfio-tui bind 02:00.0 binds the "
                     "group), then start again.", ["0000:02:00.1 driver igb"],
                     "fail: group 13 members on vfio-pci")],
            NOT_VIABLE.splitlines())

    def undo(self, plan: PassthroughPlan) -> list[str]:
        self.calls.append(f"undo {plan.address}")
        self.bound.discard(plan.address)
        self.session_log.append(f"undid {plan.address}")
        return plan.undo

    def restore_all(self) -> list[str]:
        self.calls.append("restore all")
        self.bound.clear()
        return ["restored every device"]

    def journal(self) -> list[str]:
        return [f"{a}: bound to vfio-pci (was on its host driver)" for a in sorted(self.bound)]

    def explain_text(self, text: str) -> ExplainView:
        self.calls.append("explain")
        if "not viable" in text:
            return ExplainView([Finding("Group not viable", "A group member is still on a host driver.",
                                        "Bind the whole group to vfio-pci.", [text.splitlines()[0]], "")],
                               [line for line in text.splitlines() if "viable" in line])
        return ExplainView([], text.splitlines()[:3])

    def explain_vm(self, vm: str) -> ExplainView:
        return self.explain_text(NOT_VIABLE)
