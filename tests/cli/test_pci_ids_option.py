"""`--pci-ids FILE` that is no names database: one line, exit 2 (never a MemoryError or a hang)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr[-500:])
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


@pytest.mark.parametrize("what", ["/dev/zero", "directory", "binary"])
def test_something_that_is_no_pci_ids_is_one_line(run_cli, tmp_path: Path, what: str) -> None:  # type: ignore[no-untyped-def]
    path = {"/dev/zero": Path("/dev/zero"), "directory": tmp_path,
            "binary": tmp_path / "pci.ids"}[what]
    if what == "binary":
        path.write_bytes(b"\x7fELF\x02\x01\x01\0" + bytes(200))
    line = _one_line_error(run_cli("inventory", "--demo", "--pci-ids", str(path), timeout=30))
    assert str(path) in line and "pci.ids" in line


def test_a_pipe_is_a_fine_pci_ids(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("inventory", "--demo", "--group", "19", "--pci-ids", "/dev/stdin",
                  stdin="1077  QLogic Corp.\n\t2432  ISP2432-based HBA\n")
    assert res.returncode == 0, res.stderr
    assert "QLogic Corp. ISP2432-based HBA" in res.stdout
