"""Symlinks planted inside a `--root` tree (a simulated host another user prepared, an image): every
changing command refuses to follow them out of the tree, and nothing outside is touched — the
audit hook sees every write the command makes, and the victim directory is compared before and
after. Also: the spellings of / are this machine, and a tree never talks to the live libvirt."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.security.audit import listing, recording
from vfio_tui.core import safefile
from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.tui.cli import main

HBA = "0000:0b:00.0"  # group 19, bindable on the demo host


@dataclass
class Tree:
    root: Path
    victim: Path

    def device_dir(self, addr: str = HBA) -> Path:
        return safefile.resolve(self.root, self.root / "sys/bus/pci/devices" / addr)

    def state(self, *parts: str) -> Path:
        return self.root.joinpath("var/lib/vfio-tui", *parts)

    def link(self, at: Path, target: str | Path) -> None:
        at.parent.mkdir(parents=True, exist_ok=True)
        if at.is_dir() and not at.is_symlink():
            os.rename(at, at.with_name(at.name + ".moved"))
        elif os.path.lexists(at):
            at.unlink()
        os.symlink(str(target), at)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tree:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_text("victim file\n")
    (victim / "qemu.conf").write_text('relaxed_acs_check = 1\n')
    (victim / "19").write_text("not a vfio node\n")
    root = tmp_path / "h"
    create_sim_host(root, demo_snapshot())
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return Tree(root, victim)


def _climb(tree: Tree, at: Path) -> str:
    """A relative link text that climbs from `at`'s directory out of the tree to the victim."""
    return os.path.relpath(tree.victim, at.parent)


def _bind_first(tree: Tree) -> None:
    assert main(["bind", HBA, "--root", str(tree.root), "--yes"]) == 0


def _tampered_config_journal(tree: Tree, path: str, backup: str, sha_after: str | None) -> None:
    tree.state("config").mkdir(parents=True, exist_ok=True)
    entry = {"id": "cfg-1", "what": "x", "fix_id": "x", "check_id": "x", "state": "applied",
             "files": [{"path": path, "existed": True, "backup": backup, "sha256_after": sha_after}]}
    tree.state("config", "journal.json").write_text(json.dumps({"schema": "vfio-tui/config-journal/1",
                                                               "entries": [entry]}))


def _qemu_conf_sha(tree: Tree) -> str:
    import hashlib

    return hashlib.sha256((tree.root / "etc/libvirt/qemu.conf").read_bytes()).hexdigest()


def _dev_vfio_after_bind(t: Tree) -> None:
    _bind_first(t)
    t.link(t.root / "dev/vfio", t.victim)


def _journal_file(t: Tree) -> None:
    t.state("journal").mkdir(parents=True, exist_ok=True)
    t.link(t.state("journal", "20260101T000000.0-1-g19.applied.json"), t.victim / "file")


def _sim_metadata(t: Tree) -> None:
    os.rename(t.root / ".vfio-tui-sim.json", t.victim / "meta.json")
    t.link(t.root / ".vfio-tui-sim.json", t.victim / "meta.json")


def _old_temp_names(t: Tree) -> None:
    """Symlinks at the fixed temp names vfio-tui used to write through."""
    for p in (t.root / ".vfio-tui-sim-state.json.tmp", t.state("demo-libvirt.tmp"), t.state("failures", "nic_test.tmp"),
              t.state("runs", ".run-1.json.tmp"), t.state("journal", ".x.tmp")):
        t.link(p, t.victim / "file")


Plant = Callable[[Tree], None]
SCENARIOS: dict[str, tuple[Plant, list[str]]] = {
    "driver_override": (lambda t: t.link(t.device_dir() / "driver_override", t.victim / "file"),
                        ["bind", HBA, "--yes"]),
    "state-dir": (lambda t: t.link(t.state(), t.victim), ["bind", HBA, "--yes"]),
    "state-dir-relative": (lambda t: t.link(t.state(), _climb(t, t.state())), ["bind", HBA, "--yes"]),
    "lock": (lambda t: t.link(t.state("lock"), t.victim / "file"), ["bind", HBA, "--yes"]),
    "journal-dir": (lambda t: t.link(t.state("journal"), t.victim), ["bind", HBA, "--yes"]),
    "runs-dir": (lambda t: t.link(t.state("runs"), t.victim), ["pass", HBA, "vfio_test", "--yes"]),
    "rules.d": (lambda t: t.link(t.root / "etc/udev/rules.d", t.victim), ["bind", HBA, "--persist", "--yes"]),
    "modprobe.d": (lambda t: t.link(t.root / "etc/modprobe.d", _climb(t, t.root / "etc/modprobe.d")),
                   ["bind", HBA, "--persist", "--yes"]),
    "qemu.conf": (lambda t: t.link(t.root / "etc/libvirt/qemu.conf", t.victim / "qemu.conf"),
                  ["check", "--fix", "qemu-conf-relaxed-acs", "--yes"]),
    "dev-vfio": (lambda t: t.link(t.root / "dev/vfio", t.victim), ["bind", HBA, "--yes"]),
    "dev-vfio-after-bind": (_dev_vfio_after_bind, ["restore", "--all", "--yes"]),
    "journal-file": (_journal_file, ["restore", "--all", "--yes"]),
    "config-journal-path": (lambda t: _tampered_config_journal(t, "/../../../../../../../../" + str(t.victim) + "/file",
                                                               "/var/lib/vfio-tui/config/backups/cfg-1/x", None),
                            ["check", "--undo", "cfg-1", "--yes"]),
    "config-journal-backup": (lambda t: _tampered_config_journal(t, "/etc/libvirt/qemu.conf", str(t.victim / "file"),
                                                                 _qemu_conf_sha(t)),
                              ["check", "--undo", "cfg-1", "--yes"]),
    "sim-metadata": (_sim_metadata, ["vms"]),
    "old-fixed-temp-names": (_old_temp_names, ["pass", HBA, "nic_test", "--start", "--yes"]),
}
"""name → (what is planted in the tree, the command that would follow it)."""


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_link_planted_in_the_tree_is_not_followed_out(tree: Tree, name: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    plant, argv = SCENARIOS[name]
    plant(tree)
    capsys.readouterr()
    before = listing(tree.victim)
    with recording(allowed=[tree.root, Path(tempfile.gettempdir())], watched=[tree.victim]) as rec:
        code = main([*argv, "--root", str(tree.root)])
    err = capsys.readouterr().err
    assert rec.outside == [], f"{name}: touched outside the tree:\n" + "\n".join(rec.outside)
    assert listing(tree.victim) == before, f"{name}: the victim changed"
    if name != "old-fixed-temp-names":  # random temp names: the planted ones are simply never used
        assert code != 0, f"{name}: {argv} succeeded through a planted link:\n{err}"
        assert "Traceback" not in err and err.strip(), err


def test_planted_temp_names_are_left_alone_and_the_run_still_works(tree: Tree) -> None:
    SCENARIOS["old-fixed-temp-names"][0](tree)
    assert main(["pass", HBA, "vfio_test", "--root", str(tree.root), "--start", "--yes"]) == 0
    assert (tree.victim / "file").read_text() == "victim file\n"
    assert os.path.islink(tree.root / ".vfio-tui-sim-state.json.tmp")


@pytest.mark.parametrize("alias", ["/", "//", "/tmp/..", "/proc/self/root", "/./"])
def test_every_spelling_of_slash_is_this_machine(alias: str) -> None:
    with open_host(HostOptions(root=Path(alias))) as host:  # opening reads nothing
        assert host.kind == "live" and host.paths.is_live
        assert "this machine" in host.label and "tree" not in host.label


def test_a_link_to_slash_is_this_machine_too(tmp_path: Path) -> None:
    (tmp_path / "looks-like-a-tree").symlink_to("/")
    with open_host(HostOptions(root=tmp_path / "looks-like-a-tree")) as host:
        assert host.kind == "live"


def test_a_plain_tree_never_reaches_the_live_libvirt(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import vfio_tui.core.libvirt.connection as connection
    import vfio_tui.core.libvirt.for_host as for_host

    opened: list[str | None] = []
    real = connection.open_hypervisor

    def spy(uri: str | None, **kwargs: Any) -> connection.Hypervisor:
        opened.append(uri)
        return real(uri, **kwargs)

    monkeypatch.setattr(for_host, "open_hypervisor", spy)
    plain = tmp_path / "image"
    (plain / "sys/bus/pci/devices").mkdir(parents=True)
    assert main(["vms", "--root", str(plain)]) == 2
    err = capsys.readouterr().err
    assert "no libvirt" in err and "--connect" in err
    (plain / ".vfio-tui-sim.json").write_text("{damaged")
    assert main(["vms", "--root", str(plain)]) == 2
    assert "damaged" in capsys.readouterr().err
    assert opened == []
