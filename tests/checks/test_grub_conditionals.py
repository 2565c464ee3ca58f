"""GRUB defaults are shell: an assignment inside if/case/a loop/a function or after && or || runs only
when its condition says so. vfio-tui used to edit the last one textually — the dead `else` branch — and
report success; now such an edit is refused with the reason, and the check says it cannot tell."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.checks.test_check_fixes import _no_iommu
from vfio_tui.core.checks import ConfigParseError, apply_fix, run_checks
from vfio_tui.core.checks.grubdefaults import add_kernel_param, parse_grub_defaults
from vfio_tui.core.host import Host

CONDITIONAL = {
    "if/else": 'if [ -d /sys/firmware/efi ]; then\n  GRUB_CMDLINE_LINUX="quiet"\nelse\n  GRUB_CMDLINE_LINUX="nomodeset"\nfi\n',
    "&&": '[ -e /etc/pve ] && GRUB_CMDLINE_LINUX="quiet"\n',
    "|| continued": 'test -f /x ||\n    GRUB_CMDLINE_LINUX="quiet"\n',
    "case": 'case "$(uname -m)" in\n  x86_64) GRUB_CMDLINE_LINUX="quiet" ;;\nesac\n',
    "function": 'setup() {\n  GRUB_CMDLINE_LINUX="quiet"\n}\n',
    "loop": 'for f in a b; do GRUB_CMDLINE_LINUX="quiet $f"; done\n',
}
DECIDED = {
    "after fi": 'if [ -e /x ]; then\n  GRUB_TIMEOUT=1\nfi\nGRUB_CMDLINE_LINUX="quiet"\n',
    "after the list": 'true && GRUB_TIMEOUT=1; GRUB_CMDLINE_LINUX="quiet"\n',
    "overrides a conditional one": 'if x; then GRUB_CMDLINE_LINUX="a"; fi\nGRUB_CMDLINE_LINUX="quiet"\n',
}


@pytest.mark.parametrize("name", CONDITIONAL)
def test_the_fix_refuses_an_assignment_inside_a_condition(etc_host: Callable[..., Host], name: str) -> None:
    text = CONDITIONAL[name].encode()
    host = etc_host({"/etc/default/grub": text})
    _no_iommu(host)
    results = {r.id: r for r in run_checks(host)}
    assert results["iommu-cmdline"].fix_id is None  # no `apply:` line offered
    assert "depends on that condition" in results["iommu-cmdline"].fix
    assert results["bootloader"].status == "warn" and "GRUB_CMDLINE_LINUX is assigned" in results["bootloader"].summary
    with pytest.raises(ConfigParseError, match="GRUB_CMDLINE_LINUX is assigned"):
        apply_fix(host, "intel-iommu-on", yes=True)
    assert host.paths.under("/etc/default/grub").read_bytes() == text


@pytest.mark.parametrize("name", DECIDED)
def test_an_assignment_that_always_runs_last_is_still_edited(name: str) -> None:
    text = DECIDED[name]
    edited = add_kernel_param(parse_grub_defaults(text), "GRUB_CMDLINE_LINUX", "intel_iommu=on")
    assert edited == text.replace('"quiet"', '"quiet intel_iommu=on"')


def test_the_cli_refuses_with_the_line_and_exit_2(etc_host: Callable[..., Host]) -> None:
    from tests.hardening.inproc import run_main

    host = etc_host({"/etc/default/grub": CONDITIONAL["if/else"]})
    _no_iommu(host)
    got = run_main("check", "--fix", "intel-iommu-on", "--yes", "--root", str(host.paths.root))
    assert got.code == 2 and len(got.err.strip().splitlines()) == 1, got
    assert "GRUB_CMDLINE_LINUX is assigned inside if (line 1)" in got.err


WORDS = st.sampled_from(["if true; then", "fi", "else", "case x in", "a)", ";;", "esac", "f() {", "}", "&&", "||",
                         "while false; do", "done", "(", ")", "GRUB_CMDLINE_LINUX=\"q\"", "X=1", ";", "\n", "echo"])


@given(st.lists(WORDS, max_size=30))
def test_an_unconditional_last_assignment_is_never_called_conditional(words: list[str]) -> None:
    """Appending a top-level assignment after any (balanced or not) mess: if every block the mess opened
    is closed, the new last assignment is unconditional."""
    head = " ".join(words)
    try:
        doc = parse_grub_defaults(head + '\nGRUB_CMDLINE_LINUX="final"\n')
    except ConfigParseError:
        return
    last = doc.last("GRUB_CMDLINE_LINUX")
    assert last is not None and last.raw == '"final"'
    opened = sum(head.split().count(w) for w in ("if", "case", "while", "{", "(")) + head.count("f() {")
    if opened == 0 and not head.rstrip().endswith(("&&", "||")):
        assert last.conditional == ""
