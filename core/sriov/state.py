"""Provides the small reads and writes of an SR-IOV change, and restore_count(): a PF back to the count
(and autoprobe) a run recorded before it, from whatever state it finds — the rollback of apply_sriov
and `vfio-tui undo` of an SR-IOV run both use it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vfio_tui.core.errors import VfioError
from vfio_tui.core.passthrough.records import RunRecord
from vfio_tui.core.sriov.plan import SriovStep
from vfio_tui.core.steps import StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host


@dataclass(frozen=True, slots=True)
class SriovState:
    num_vfs: int
    autoprobe: bool | None


def read_state(host: Host, pf: str) -> SriovState:
    base = host.paths.pci_device(pf)
    try:
        num = int((base / "sriov_numvfs").read_text().strip() or 0)
    except (OSError, ValueError):
        num = 0
    try:
        text = (base / "sriov_drivers_autoprobe").read_text().strip()
    except OSError:
        text = ""
    return SriovState(num, None if text not in ("0", "1") else text == "1")


def write_step(host: Host, step: SriovStep, rep: StepReporter, *, timeout: float) -> None:
    """One write through the host's kernel interface, reported as a step."""
    with rep.step(step.describe(), step.why, address=step.path.split("/")[-2]):
        host.kernel.write(host.paths.under(step.path), step.value, timeout)


def restore_count(host: Host, run: RunRecord, rep: StepReporter, *, timeout: float) -> str:
    """The PF back to the count and autoprobe the run recorded before its first write ("" when done,
    else what failed). Goes through 0, as the kernel requires; writes nothing that is already so."""
    pf = run.address
    want = run.data.get("sriov") or {}
    from_vfs = int(want.get("from_vfs") or 0)
    from_autoprobe = want.get("from_autoprobe")
    base = host.paths.display(host.paths.pci_device(pf))
    steps: list[SriovStep] = []
    now = read_state(host, pf)
    if now.num_vfs != from_vfs:
        if now.num_vfs:
            steps.append(SriovStep("numvfs", f"{base}/sriov_numvfs", "0", f"remove the {now.num_vfs} VFs"))
        # autoprobe before the VFs come back, so they are probed as they were before
        if isinstance(from_autoprobe, bool) and now.autoprobe is not None and now.autoprobe != from_autoprobe:
            steps.append(SriovStep("autoprobe", f"{base}/sriov_drivers_autoprobe", "1" if from_autoprobe else "0",
                                   "as it was"))
        if from_vfs:
            steps.append(SriovStep("numvfs", f"{base}/sriov_numvfs", str(from_vfs), f"re-create the {from_vfs} VFs"))
    elif isinstance(from_autoprobe, bool) and now.autoprobe is not None and now.autoprobe != from_autoprobe:
        steps.append(SriovStep("autoprobe", f"{base}/sriov_drivers_autoprobe", "1" if from_autoprobe else "0",
                               "as it was"))
    for step in steps:
        try:
            write_step(host, step, rep, timeout=timeout)
        except VfioError as exc:
            return f"{step.describe()}: {exc.detail}"
    return ""
