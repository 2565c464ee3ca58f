"""Provides the failed-start explainer: a catalog of real VFIO/libvirt/QEMU/kernel messages
(catalog/*.toml), a streaming matcher, ranked findings and automatic checks against the host.

Public API:
    explain_text(text, host=None) -> ExplainReport
    explain_stream(fileobj, host=None) -> ExplainReport
    explain_failure(record, host=None) -> ExplainReport
    collect_vm_logs(host, vm, hypervisor=None) -> str
"""

from __future__ import annotations

from vfio_tui.core.explain.catalog import load_catalog
from vfio_tui.core.explain.collect import collect_vm_logs, explain_failure
from vfio_tui.core.explain.engine import explain_stream, explain_text
from vfio_tui.core.explain.model import CauseEntry, CheckOutcome, ExplainReport, Finding

__all__ = [
    "CauseEntry",
    "CheckOutcome",
    "ExplainReport",
    "Finding",
    "collect_vm_logs",
    "explain_failure",
    "explain_stream",
    "explain_text",
    "load_catalog",
]
