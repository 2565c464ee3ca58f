"""Every VFIO failure the real-kernel lab recorded is explained; its successes are not."""

from __future__ import annotations

import json
import re

import pytest

from tests.fixture_paths import LAB_RESULTS
from vfio_tui.core.explain import explain_text

#: error lines in the lab transcripts that are not passthrough problems (the lab VM has no KVM/cgroups)
NOT_OURS = ("Failed to start domain", "Failed to attach device", "Unable to initialize cgroups")


def _error_blocks(md: str) -> list[str]:
    """The stdout/stderr of each failed command ("error: ..." lines, with their continuation lines)."""
    blocks = []
    for body in re.findall(r"```\n(.*?)```", md, flags=re.S):
        lines = [ln for ln in body.splitlines() if not ln.startswith(("$ ", "[rc="))]
        text = "\n".join(lines)
        errors = [ln for ln in lines if "error:" in ln or "libvirtError" in ln or "IOMMU support" in ln]
        if any(not any(n in ln for n in NOT_OURS) for ln in errors):
            blocks.append(text)
    return blocks


@pytest.mark.parametrize("name", ["step4-host-libvirt.md", "step5-nested-libvirt.md"])
def test_every_recorded_start_failure_has_a_known_cause(name: str) -> None:
    md = (LAB_RESULTS / name).read_text(encoding="utf-8")
    blocks = _error_blocks(md)
    assert blocks
    for block in blocks:
        report = explain_text(block)
        assert report.findings, f"no finding for a real lab error:\n{block}"
        assert not report.findings[0].wrapper


def test_recorded_successes_have_no_finding() -> None:
    md = (LAB_RESULTS / "step5-nested-libvirt.md").read_text(encoding="utf-8")
    ok = [b for b in re.findall(r"```\n(.*?)```", md, flags=re.S) if "[rc=0" in b and "error" not in b]
    assert ok
    for block in ok:
        assert explain_text(block).findings == [], block


def test_recorded_sysfs_write_errors() -> None:
    data = json.loads((LAB_RESULTS / "step3-results.json").read_text(encoding="utf-8"))
    shell_errors: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "shell_error" and isinstance(value, str):
                    shell_errors.add(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    assert shell_errors
    for err in shell_errors:
        assert [f.cause_id for f in explain_text(f"sh: echo: {err}").findings] == ["K09"], err
