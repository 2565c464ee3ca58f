"""`vfio-tui snapshot OUT` writes a new regular file or replaces one, and nothing else: a device
node, a FIFO, a symlink or a directory named as OUT is refused (one line, exit 2) and left as it
was; a planted `OUT.tmp` link is never used (the temp name is random, O_EXCL|O_NOFOLLOW)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.fixture_paths import RECORDED
from vfio_tui.tui.cli import main

SMALL = RECORDED / "host-firecracker-noiommu.json"


def snapshot(out: Path | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["snapshot", str(out), "--host-snapshot", str(SMALL)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def refused(code: int, err: str) -> bool:
    return code == 2 and len(err.strip().splitlines()) == 1 and "refusing" in err


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_node_is_refused_and_stays_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # our own /dev/null, in the temp dir
    code, _out, err = snapshot(node, capsys)
    assert refused(code, err) and "character device" in err, err
    st = os.lstat(node)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"], "a temp file was left behind"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _out, err = snapshot(fifo, capsys)
    assert refused(code, err) and "FIFO" in err, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "precious"
    target.write_text("keep\n")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    code, _out, err = snapshot(link, capsys)
    assert refused(code, err) and "symlink" in err, err
    assert link.is_symlink() and os.readlink(link) == str(target) and target.read_text() == "keep\n"


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = snapshot(tmp_path, capsys)
    assert refused(code, err) and "directory" in err, err


def test_a_planted_tmp_link_is_never_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    out = tmp_path / "out.json"
    (tmp_path / "out.json.tmp").symlink_to(victim)
    (tmp_path / ".out.json.tmp").symlink_to(victim)
    code, _out, err = snapshot(out, capsys)
    assert code == 0, err
    assert victim.read_text() == "keep\n"
    assert stat.S_ISREG(os.lstat(out).st_mode) and json.loads(out.read_text())["pci_devices"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.json.tmp", "out.json", "out.json.tmp", "victim"]


def test_a_regular_file_is_replaced_keeping_its_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o640)
    code, _out, err = snapshot(out, capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["schema"] == "vfio-lab-sysfs-snapshot/1"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_dash_is_stdout(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _err = snapshot("-", capsys)
    assert code == 0 and json.loads(out)["pci_devices"]
    assert list(tmp_path.iterdir()) == [], "'-' made a file"
