"""Under the writer lock, a bind's and a restore's journal files are created, read, saved, renamed and
removed through the journal directory the lock's walk made private and keeps open: no walk from the
host root per file (five directories opened and checked again each time, a tenth of the engine's own
time on the lab's emulated CPU). Outside the lock they walk, as before; and what lands is the same."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

import vfio_tui.core.safepath
from tests.binding.bind_helpers import count_walks
from vfio_tui.core.binding import apply_plan, plan_bind, restore
from vfio_tui.core.binding.journal import Journal, journal_dir, load_journals
from vfio_tui.core.host import Host
from vfio_tui.core.lock import held_dir, writer_lock


def test_the_lock_holds_its_journal_directory_for_its_holder_only(make_host: Callable[..., Host]) -> None:
    host = make_host()
    jdir = journal_dir(host.paths)
    assert held_dir(jdir) is None
    with writer_lock(host.paths, "test"):
        held = held_dir(jdir)
        assert held is not None and held.path == jdir
        with writer_lock(host.paths, "nested"):  # re-entered: the same directory
            assert held_dir(jdir) is held
    assert held_dir(jdir) is None


def test_journal_files_under_the_lock_take_one_walk_the_locks(make_host: Callable[..., Host],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    data = {"schema": "vfio-tui/bind-journal/1", "group": 19, "devices": [{"address": "0000:0b:00.0"},
                                                                          {"address": "0000:0b:00.1"}]}
    walks = count_walks(monkeypatch)
    with writer_lock(host.paths, "test"):
        journal = Journal.create(host.paths, dict(data), hold=True)
        journal.step(0, "intent")
        journal.mark("applied")
        [loaded] = load_journals(host.paths)
        assert loaded.data["devices"] == data["devices"] and loaded.status == "applied"
        loaded.drop_devices({"0000:0b:00.0"})
        assert [d["address"] for d in json.loads(loaded.path.read_text())["devices"]] == ["0000:0b:00.1"]
        loaded.drop_devices({"0000:0b:00.1"})
        journal.release()
    assert len(walks) == 1  # the lock's own
    assert load_journals(host.paths) == []


def test_journal_files_outside_the_lock_still_walk(make_host: Callable[..., Host],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    journal = Journal.create(host.paths, {"schema": "vfio-tui/bind-journal/1", "group": 19,
                                          "devices": [{"address": "0000:0b:00.0"}]})
    walks = count_walks(monkeypatch)
    [loaded] = load_journals(host.paths)
    loaded.remove()
    assert len(walks) == 2 and not journal.path.exists()


def test_a_bind_and_its_restore_walk_to_the_state_dir_once_each(make_host: Callable[..., Host],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    plan = plan_bind(host, "0b:00.0")
    to_state: list[list[str]] = []
    real = vfio_tui.core.safepath.Walk.walk

    def recording(self: vfio_tui.core.safepath.Walk, parts: list[str], **kw: bool | int) -> str:
        if parts[:3] == ["var", "lib", "vfio-tui"]:  # the simulated kernel walks to sys/ for its writes
            to_state.append(parts)
        return real(self, parts, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(vfio_tui.core.safepath.Walk, "walk", recording)
    result = apply_plan(host, plan)
    assert not result.problems and result.journal is not None
    assert to_state == [["var", "lib", "vfio-tui"]]  # the lock's; the journal's files went through it
    assert not restore(host, ["0000:0b:00.0"]).failed
    assert to_state == [["var", "lib", "vfio-tui"]] * 2
    assert load_journals(host.paths) == []
