"""Changing a PF's number of VFs: a planned, journaled, reversible change (the facts are core.sriovinfo's).

  plan_sriov(host, pf, num_vfs, autoprobe=, force_host_devices=, domains=, persist=) -> SriovPlan
  apply_sriov(host, plan, on_step=, timeout=) -> SriovResult       (a run record run-N, kind "sriov")
  plan_sriov_undo(host, run_id, domains=) -> UndoPlan
  undo_sriov(host, run_id, on_step, domains=) -> UndoResult         (back to the previous count)
"""

from vfio_tui.core.sriov.apply import DEFAULT_SRIOV_TIMEOUT, SriovFailedError, SriovResult, apply_sriov
from vfio_tui.core.sriov.plan import SriovPlan, SriovStep, plan_sriov, vf_addresses
from vfio_tui.core.sriov.undo import plan_sriov_undo, undo_sriov

__all__ = ["DEFAULT_SRIOV_TIMEOUT", "SriovFailedError", "SriovPlan", "SriovResult", "SriovStep", "apply_sriov",
           "plan_sriov", "plan_sriov_undo", "undo_sriov", "vf_addresses"]
