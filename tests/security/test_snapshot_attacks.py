"""A received snapshot is untrusted: every hostile recording in tests/security/attacks.py, given to
every command that takes a host, exits 2 with one line and writes nothing outside the command's own
temp tree — the audit hook sees every write this process makes, and a victim directory outside
the tree is compared before and after. materialize() is then tried with the schema check switched
off: its O_NOFOLLOW building alone keeps the attacks inside the tree."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.security.attacks import ATTACKS, RAW_ATTACKS, write_attacks
from tests.security.audit import listing, recording
from vfio_tui.core.errors import VfioError
from vfio_tui.core.simulated import materialize as materialize_module
from vfio_tui.core.snapshot import load_snapshot
from vfio_tui.tui.cli import main

COMMANDS: list[list[str]] = [
    ["inventory"], ["inventory", "--json"], ["check"], ["check", "--fix", "qemu-conf-relaxed-acs", "--yes"],
    ["bind", "0000:01:00.0", "--yes"], ["restore", "--all", "--yes"],
    ["pass", "0000:01:00.0", "vm1", "--yes", "--assume-unused"], ["undo", "--yes"], ["undo", "--list"],
    ["vms"], ["attach", "0000:01:00.0", "vm1"], ["detach", "0000:01:00.0", "vm1"],
    ["watch", "vm1", "--timeout", "1"], ["explain", "--vm", "vm1"], ["snapshot", "OUT"], ["web", "--port", "1"],
]
"""Every command that opens a host, with the arguments that would make it change something."""


@dataclass
class Scene:
    victim: Path
    scratch: Path
    out: Path
    attacks: dict[str, Path]


@pytest.fixture(scope="module")
def attack_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    base = tmp_path_factory.mktemp("attacks")
    victim = base / "victim"
    (victim / "etc").mkdir(parents=True)
    (victim / "secret").write_text("do not touch\n")
    (victim / "etc" / "shadow").write_text("root:x:0\n")
    return victim, write_attacks(base / "files", victim)


@pytest.fixture
def scene(attack_files: tuple[Path, dict[str, Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scene]:
    from vfio_tui.tui.cli.web_server import WebServer

    def no_serving(self: WebServer, debug: bool = False) -> None:
        raise AssertionError("vfio-tui web started serving a refused host")

    monkeypatch.setattr(WebServer, "serve", no_serving)
    victim, attacks = attack_files
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    scratch.mkdir()
    out.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(scratch)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    yield Scene(victim, scratch, out, attacks)


def _run(scene: Scene, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_every_attack_is_refused_by_the_schema_or_the_builder(scene: Scene) -> None:
    assert len(scene.attacks) == len(ATTACKS) + len(RAW_ATTACKS) >= 30
    for name, path in scene.attacks.items():
        with pytest.raises(VfioError):
            from vfio_tui.core.open_host import materialized_host

            materialized_host(load_snapshot(path), "snapshot", name).close()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_every_command_on_every_attack_exits_2_and_touches_nothing_outside(
        scene: Scene, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    before = listing(scene.victim)
    outside: list[str] = []
    writes = 0
    for name, path in scene.attacks.items():
        argv = [a.replace("OUT", str(scene.out / f"{name}.json")) for a in command]
        with recording(allowed=[scene.scratch, scene.out], watched=[scene.victim]) as rec:
            code, _out, err = _run(scene, [*argv, "--host-snapshot", str(path)], capsys)
        lines = err.strip().splitlines()
        assert code == 2, f"{name}: {command} exited {code}: {err}"
        assert len(lines) == 1 and "Traceback" not in err, f"{name}: {command}: not one line:\n{err}"
        assert "\x1b" not in err and "\x9b" not in err, f"{name}: a control character reached the terminal"
        outside += [f"{name}: {e}" for e in rec.outside]
        writes += rec.writes
    assert outside == [], "writes outside the tree:\n" + "\n".join(outside)
    assert listing(scene.victim) == before
    assert list(scene.scratch.iterdir()) == [], "a temp tree was left behind"
    assert list(scene.out.iterdir()) == [], "snapshot wrote a file from a refused recording"


def test_sim_host_from_an_attack_is_refused_and_the_directory_stays_empty(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    before = listing(scene.victim)
    for name, path in scene.attacks.items():
        dest = scene.scratch / f"h-{name}"
        with recording(allowed=[scene.scratch], watched=[scene.victim]) as rec:
            code, _out, err = _run(scene, ["sim-host", str(dest), "--from", str(path)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, f"{name}: {code} {err}"
        assert rec.outside == [], f"{name}: {rec.outside}"
        assert not dest.exists() or list(dest.iterdir()) == [], f"{name}: sim-host built part of a tree"
    assert listing(scene.victim) == before


ESCAPES = ["iommu-link-absolute", "iommu-link-climbs-out", "virtfn-link-absolute", "physfn-link-to-etc",
           "write-through-absolute-link", "write-through-relative-link", "sysfs-path-dotdot", "files-dotdot",
           "files-relative", "files-through-device-link", "module-name-slash", "dev-vfio-node-slash",
           "driver-table-slash"]


@pytest.mark.parametrize("name", ESCAPES)
def test_the_builder_alone_keeps_an_attack_inside_the_tree(
        scene: Scene, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defense in depth: with check_snapshot() switched off, materialize() still never writes out."""
    import json

    monkeypatch.setattr(materialize_module, "check_snapshot", lambda *a, **k: None)
    snap = json.loads(scene.attacks[name].read_text())
    before = listing(scene.victim)
    dest = scene.scratch / "tree"
    with recording(allowed=[scene.scratch], watched=[scene.victim]) as rec, \
            pytest.raises((VfioError, KeyError, ValueError, OSError)):
        materialize_module.materialize(snap, dest)
    assert rec.outside == []
    assert listing(scene.victim) == before
    for _dirpath, _dirs, files in os.walk(dest):
        for f in files:
            assert "pwned" not in f


def test_a_snapshot_that_is_not_a_regular_file_is_refused_without_reading_it(
        scene: Scene, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = scene.scratch / "snap.fifo"
    os.mkfifo(fifo)
    node = scene.scratch / "zero"
    if os.geteuid() == 0:
        os.mknod(node, 0o600 | 0o020000, os.makedev(1, 5))  # a /dev/zero of our own, in the temp dir
    for path in (fifo, node, scene.scratch):
        if not os.path.lexists(path):
            continue
        code, _out, err = _run(scene, ["inventory", "--host-snapshot", str(path)], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err


def test_the_audit_sees_writes_outside_however_they_are_made(scene: Scene, tmp_path: Path) -> None:
    """The audit above is only worth its zero if it catches writes: plain, dir-fd relative, renames."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with recording(allowed=[scene.scratch], watched=[scene.victim]) as rec:
        (elsewhere / "a").write_text("x")
        fd = os.open(elsewhere, os.O_RDONLY)
        try:
            os.mkdir("d", dir_fd=fd)
            os.rename("a", "b", src_dir_fd=fd, dst_dir_fd=fd)
            os.symlink("b", "c", dir_fd=fd)
        finally:
            os.close(fd)
        (scene.victim / "secret").read_text()
    kinds = " ".join(rec.outside)
    assert "open-for-write" in kinds and "os.mkdir" in kinds and "os.rename" in kinds and "os.symlink" in kinds
    assert "secret (read)" in kinds
