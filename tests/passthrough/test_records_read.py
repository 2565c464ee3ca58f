"""Every command's start asks what a killed vfio-tui left half-done, which reads every run record: a host
with a history of runs walks to the records' directory once, not once per record (9 ms of a bind on the
lab's kernel after its suite), and a record that is not vfio-tui's or is a link still stops it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.binding.bind_helpers import count_walks
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.host import Host
from vfio_tui.core.lock import writer_lock
from vfio_tui.core.passthrough.records import interrupted_work, load_runs, new_run, runs_dir


def _history(host: Host, runs: int) -> None:
    with writer_lock(host.paths, "test"):
        for _ in range(runs):
            record = new_run(host.paths, {"kind": "pass"})
            record.data["status"] = "done"
            record.save()


def test_a_history_of_runs_is_read_on_one_walk(make_host: Callable[..., Host],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    host = make_host()
    _history(host, 12)
    walks = count_walks(monkeypatch)
    assert [r.status for r in load_runs(host.paths)] == ["done"] * 12
    assert len(walks) == 1
    walks.clear()
    assert interrupted_work(host.paths) == []
    assert len(walks) <= 2  # the records' directory, and the lock file's test


def test_an_interrupted_run_among_many_is_still_found(make_host: Callable[..., Host]) -> None:
    host = make_host()
    _history(host, 5)
    record = runs_dir(host.paths) / "run-3.json"
    data = json.loads(record.read_text())
    record.write_text(json.dumps({**data, "status": "running", "pid": 2**22 + 1}))  # its process is gone
    [found] = interrupted_work(host.paths)
    assert "run-3" in found.what and found.command == "vfio-tui undo run-3"


def test_a_record_that_is_a_link_or_not_vfio_tuis_stops_the_read(make_host: Callable[..., Host]) -> None:
    host = make_host()
    _history(host, 3)
    rdir = runs_dir(host.paths)
    victim = host.paths.root / "victim.json"
    victim.write_text((rdir / "run-2.json").read_text())
    (rdir / "run-2.json").unlink()
    (rdir / "run-2.json").symlink_to(victim)
    with pytest.raises(HostDataError, match="corrupted vfio-tui run record"):
        load_runs(host.paths)
    (rdir / "run-2.json").unlink()
    (rdir / "run-2.json").write_text('{"schema": "something else"}')
    with pytest.raises(HostDataError, match="corrupted vfio-tui run record"):
        load_runs(host.paths)
