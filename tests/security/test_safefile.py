"""core.safefile, the one writer: config edits keep what they found (a link inside the tree edited
through, owner, mode, SELinux label, bytes and line endings exactly); vfio-tui's own files are 0600
in 0700 dirs and never written through a link; a lock or journal left garbled is handled with a
clear message; temp files a killed vfio-tui left are swept; the simulated kernel's state is
replaced atomically (a new inode, never truncated in place)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from vfio_tui.core import private_state, safefile
from vfio_tui.core.binding.journal import writer_lock
from vfio_tui.core.configfiles import FileChange, apply_changes, undo_changes
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.core.simulated.kernel import STATE_NAME
from vfio_tui.tui.cli import main

HBA = "0000:0b:00.0"


@pytest.fixture
def sim(tmp_path: Path) -> Host:
    create_sim_host(tmp_path / "h", demo_snapshot())
    return open_host(HostOptions(root=tmp_path / "h"))


def test_replace_keeps_mode_owner_and_bytes(tmp_path: Path) -> None:
    f = tmp_path / "etc" / "x.conf"
    f.parent.mkdir()
    f.write_bytes(b"a=1\r\nb=2\r\n")
    f.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(f, 1234, 4321)
    safefile.replace(tmp_path, f, b"a=1\r\nb=3\r\n")
    st = os.stat(f)
    assert f.read_bytes() == b"a=1\r\nb=3\r\n"
    assert stat.S_IMODE(st.st_mode) == 0o640
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert [p.name for p in f.parent.iterdir()] == ["x.conf"], "a temp file was left"


def test_replace_keeps_the_selinux_label(tmp_path: Path) -> None:
    f = tmp_path / "qemu.conf"
    f.write_text("x\n")
    label = b"system_u:object_r:virt_etc_t:s0\0"
    try:
        os.setxattr(f, "security.selinux", label)
    except OSError:
        pytest.skip("this filesystem/kernel does not take a security.selinux label")
    safefile.replace(tmp_path, f, b"y\n")
    assert os.getxattr(f, "security.selinux") == label


def test_a_link_inside_the_tree_is_edited_through(tmp_path: Path) -> None:
    (tmp_path / "usr/share").mkdir(parents=True)
    real = tmp_path / "usr/share/x.conf"
    real.write_text("old\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/x.conf").symlink_to("../usr/share/x.conf")
    safefile.replace(tmp_path, tmp_path / "etc/x.conf", b"new\n")
    assert (tmp_path / "etc/x.conf").is_symlink() and real.read_text() == "new\n"


def test_private_files_are_never_written_through_a_link(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("keep\n")
    (tmp_path / "journal.json").symlink_to(tmp_path / "target")
    with pytest.raises(safefile.UnsafePathError, match="symlink"):
        safefile.replace(tmp_path, tmp_path / "journal.json", b"x", private=True)
    assert (tmp_path / "target").read_text() == "keep\n"


def test_config_change_and_undo_keep_crlf_mode_and_the_link(sim: Host) -> None:
    root = sim.paths.root
    (root / "usr/lib/modprobe.d").mkdir(parents=True)
    real = root / "usr/lib/modprobe.d/vfio.conf"
    real.write_bytes(b"# old\r\noptions vfio_pci ids=\r\n")
    real.chmod(0o600)
    link = root / "etc/modprobe.d/vfio.conf"
    link.unlink()
    link.symlink_to("../../usr/lib/modprobe.d/vfio.conf")
    before = real.read_bytes().decode()
    applied = apply_changes(sim, [FileChange("/etc/modprobe.d/vfio.conf", before, before + "# vfio-tui\r\n")],
                            what="test")
    assert link.is_symlink() and real.read_bytes() == b"# old\r\noptions vfio_pci ids=\r\n# vfio-tui\r\n"
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o600
    undo_changes(sim, applied.journal_id)
    assert link.is_symlink() and real.read_bytes() == before.encode()


def test_state_files_are_private(sim: Host) -> None:
    assert main(["bind", HBA, "--root", str(sim.paths.root), "--yes", "--persist"]) == 0
    state = sim.paths.state_dir
    for dirpath, _dirs, files in os.walk(state):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for f in files:
            st = os.lstat(Path(dirpath) / f)
            assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, f
            assert st.st_uid == os.geteuid(), f
        assert not [f for f in files if f.endswith(".tmp")], f"temp files left in {dirpath}"


def test_a_garbled_lock_is_rewritten(sim: Host) -> None:
    lock = sim.paths.state_dir / "lock"
    lock.parent.mkdir(parents=True, mode=0o700)
    lock.write_bytes(b"\x00\xff{not json")
    lock.chmod(0o644)
    with writer_lock(sim.paths, "test"):
        info = json.loads(lock.read_text())
        assert info["pid"] == os.getpid()
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600


def test_a_truncated_config_journal_is_named_with_what_to_do(sim: Host, capsys: pytest.CaptureFixture[str]) -> None:
    journal = sim.paths.state_dir / "config" / "journal.json"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"schema": "vfio-tui/config-journal/1", "entr')
    code = main(["check", "--undo", "cfg-1", "--root", str(sim.paths.root), "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "/var/lib/vfio-tui/config/journal.json" in err and "move it aside" in err and "backups" in err


def test_temp_files_of_a_killed_writer_are_swept(sim: Host) -> None:
    jdir = sim.paths.state_dir / "journal"
    jdir.mkdir(parents=True, mode=0o700)
    dead = jdir / ".x.applying.json.999999999.abcdef.tmp"  # a pid no process has
    dead.write_text("half")
    mine = jdir / f".y.applying.json.{os.getpid()}.abcdef.tmp"  # a writer still running (this process)
    mine.write_text("in progress")
    assert main(["bind", HBA, "--root", str(sim.paths.root), "--yes"]) == 0
    assert not dead.exists() and mine.exists()


def test_the_simulated_kernel_state_is_replaced_not_rewritten(sim: Host) -> None:
    state = sim.paths.root / STATE_NAME
    dev, probe = sim.paths.pci_device(HBA), sim.paths.pci_bus / "drivers_probe"
    sim.kernel.write(dev / "driver_override", "vfio-pci")
    sim.kernel.write(dev / "driver" / "unbind", HBA)
    sim.kernel.write(probe, HBA)  # bound: the kernel log in the state grows
    first = os.stat(state).st_ino
    sim.kernel.write(dev / "driver" / "unbind", HBA)
    assert os.stat(state).st_ino != first, "the state file was rewritten in place"
    assert not [p for p in sim.paths.root.iterdir() if p.name.endswith(".tmp")]


def test_the_lock_makes_its_private_dirs_in_one_walk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    state = root / "var" / "lib" / "vfio-tui"
    state.mkdir(parents=True)
    state.chmod(0o755)  # left readable by someone: made private again
    (state / "journal").mkdir()
    stale = state / "journal" / f".a.json.{2 ** 22 + 1}.ab12.tmp"  # a pid beyond pid_max: its writer is gone
    mine = state / "journal" / safefile.temp_name("b.json")  # this process: still writing it
    stale.write_text("half")
    mine.write_text("half")
    private_state.private_dirs(root, state, "journal")
    assert stat.S_IMODE(state.stat().st_mode) == stat.S_IMODE((state / "journal").stat().st_mode) == 0o700
    assert not stale.exists() and mine.exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    private_state.private_dirs(fresh, fresh / "var" / "lib" / "vfio-tui", "journal")
    assert stat.S_IMODE((fresh / "var" / "lib" / "vfio-tui" / "journal").stat().st_mode) == 0o700


@pytest.mark.parametrize("linked", ["state", "journal"])
def test_the_private_dirs_are_never_links_even_inside_the_tree(tmp_path: Path, linked: str) -> None:
    state = tmp_path / "var" / "lib" / "vfio-tui"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if linked == "state":
        state.parent.mkdir(parents=True)
        state.symlink_to(elsewhere)
    else:
        state.mkdir(parents=True)
        (state / "journal").symlink_to(elsewhere)
    with pytest.raises(safefile.UnsafePathError, match="private directory"):
        private_state.private_dirs(tmp_path, state, "journal")
    assert list(elsewhere.iterdir()) == []


def test_a_held_directory_writes_and_renames_as_the_walking_calls_do(tmp_path: Path) -> None:
    jdir = tmp_path / "var" / "lib" / "vfio-tui" / "journal"
    jdir.mkdir(parents=True)
    held = private_state.HeldDir(tmp_path, jdir)
    try:
        held.replace_private("a.applying.json", b"{}\n", fsync=True, sync_dir=True)
        held.replace_private("a.applying.json", b'{"x": 1}\n', fsync=False, sync_dir=False)
        held.rename("a.applying.json", "a.applied.json")
        (tmp_path / "victim").write_text("victim\n")
        (jdir / "b.json").symlink_to(tmp_path / "victim")
        with pytest.raises(safefile.UnsafePathError, match="not a regular file"):
            held.replace_private("b.json", b"{}\n", fsync=False, sync_dir=False)
        with pytest.raises(safefile.UnsafePathError, match="refusing to rename"):
            held.rename("b.json", "c.json")
    finally:
        held.close()
    assert sorted(p.name for p in jdir.iterdir()) == ["a.applied.json", "b.json"]
    assert (jdir / "a.applied.json").read_bytes() == b'{"x": 1}\n'
    assert stat.S_IMODE((jdir / "a.applied.json").stat().st_mode) == 0o600
    assert (tmp_path / "victim").read_text() == "victim\n"


def test_a_held_directory_reads_and_unlinks_its_own_files_never_through_a_link(tmp_path: Path) -> None:
    jdir = tmp_path / "var" / "lib" / "vfio-tui" / "journal"
    jdir.mkdir(parents=True)
    (jdir / "a.json").write_bytes(b"0123456789")
    (tmp_path / "victim").write_text("victim\n")
    (jdir / "b.json").symlink_to(tmp_path / "victim")
    (jdir / "d").mkdir()
    held = private_state.HeldDir(tmp_path, jdir)
    try:
        assert held.read_private("a.json", 100) == b"0123456789"
        assert held.read_private("a.json", 4) == b"01234"  # the limit + 1: the caller sees it is too big
        with pytest.raises(safefile.UnsafePathError, match="symlink"):
            held.read_private("b.json", 100)
        with pytest.raises(FileNotFoundError):
            held.read_private("gone.json", 100)
        held.unlink("b.json")  # the link goes, never what it points to
        held.unlink("gone.json")
        with pytest.raises(safefile.UnsafePathError, match="directory"):
            held.unlink("d")
        held.unlink("a.json")
    finally:
        held.close()
    assert sorted(p.name for p in jdir.iterdir()) == ["d"]
    assert (tmp_path / "victim").read_text() == "victim\n"


def test_a_held_directory_is_reached_only_inside_the_tree(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    (root / "var" / "lib").mkdir(parents=True)
    (root / "var" / "lib" / "vfio-tui").symlink_to(outside)
    with pytest.raises(safefile.UnsafePathError):
        private_state.HeldDir(root, root / "var" / "lib" / "vfio-tui")


def test_the_lock_file_is_opened_on_the_same_walk_and_never_through_a_link(tmp_path: Path) -> None:
    state = tmp_path / "var" / "lib" / "vfio-tui"
    fd, jdir = private_state.private_dirs_and_lock(tmp_path, state, "journal", "lock")
    try:
        assert os.fstat(fd).st_ino == (state / "lock").stat().st_ino
        assert stat.S_IMODE((state / "lock").stat().st_mode) == 0o600 and (state / "journal").is_dir()
        # The journal directory comes back held open: what is written through it lands in state/journal.
        assert jdir.path == state / "journal"
        jdir.replace_private("x.json", b"{}\n", fsync=False, sync_dir=False)
        assert (state / "journal" / "x.json").read_bytes() == b"{}\n"
    finally:
        jdir.close()
        os.close(fd)
    (state / "lock").unlink()
    (tmp_path / "victim").write_text("victim\n")
    (state / "lock").symlink_to(tmp_path / "victim")
    with pytest.raises(safefile.UnsafePathError):
        private_state.private_dirs_and_lock(tmp_path, state, "journal", "lock")
    assert (tmp_path / "victim").read_text() == "victim\n"
