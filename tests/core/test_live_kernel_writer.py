"""LiveKernel's writes: one worker thread serves a command's writes, a write that hangs is abandoned
with its worker (the next write still goes through), an idle worker ends. Exercised on files and FIFOs
in a temp dir (never this machine's /sys): opening a FIFO for writing blocks until a reader comes, as
an unbind blocks until the driver's remove() returns."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from vfio_tui.core import kernel as kernel_module
from vfio_tui.core.errors import SysfsTimeoutError, SysfsWriteError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.kernel import LiveKernel


def _attr(path: Path) -> Path:
    path.write_text("")  # a sysfs attribute exists before it is written (LiveKernel never creates one)
    return path


def _writers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "sysfs-writer" and t.is_alive())


def _writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "sysfs-writer" and t.is_alive()}


def test_a_commands_writes_share_one_worker(tmp_path: Path) -> None:
    kernel = LiveKernel(HostPaths(tmp_path))
    kernel.write(_attr(tmp_path / "attr0"), "value 0")
    writers = _writer_threads()
    for i in range(1, 5):
        kernel.write(_attr(tmp_path / f"attr{i}"), f"value {i}")
    assert [(tmp_path / f"attr{i}").read_text() for i in range(5)] == [f"value {i}" for i in range(5)]
    assert _writer_threads() == writers and len(writers) == 1


def test_the_commands_of_one_process_share_its_worker(tmp_path: Path) -> None:
    """The app runs bind, attach and undo as separate commands (a LiveKernel each) in one process."""
    LiveKernel(HostPaths(tmp_path)).write(_attr(tmp_path / "a"), "1")
    writers = _writer_threads()
    LiveKernel(HostPaths(tmp_path)).write(_attr(tmp_path / "b"), "2")
    assert _writer_threads() == writers and len(writers) == 1
    assert (tmp_path / "b").read_text() == "2"


def test_a_refused_write_says_the_kernels_errno(tmp_path: Path) -> None:
    with pytest.raises(SysfsWriteError) as info:
        LiveKernel(HostPaths(tmp_path)).write(tmp_path / "missing" / "attr", "1")
    assert info.value.errno == errno.ENOENT


def test_a_hanging_write_is_abandoned_and_the_next_one_goes_through(tmp_path: Path) -> None:
    fifo = tmp_path / "unbind"
    os.mkfifo(fifo)
    kernel = LiveKernel(HostPaths(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(SysfsTimeoutError):
        kernel.write(fifo, "0000:01:00.0", timeout=0.2)
    assert time.monotonic() - t0 < 2
    kernel.write(_attr(tmp_path / "driver_override"), "vfio-pci", timeout=2)  # not queued behind the hung one
    assert (tmp_path / "driver_override").read_text() == "vfio-pci"
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the hung write's "remove()" returns at last
    try:
        deadline = time.monotonic() + 5
        data = b""
        while not data and time.monotonic() < deadline:
            try:
                data = os.read(fd, 64)
            except BlockingIOError:
                time.sleep(0.01)
        assert data == b"0000:01:00.0"
    finally:
        os.close(fd)


def test_an_idle_worker_ends_and_a_new_one_takes_the_next_write(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel_module._WriteWorker, "IDLE_SECONDS", 0.05)
    kernel = LiveKernel(HostPaths(tmp_path))
    before = _writers()
    kernel.write(_attr(tmp_path / "a"), "1")
    deadline = time.monotonic() + 5
    while _writers() > before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _writers() == before
    kernel.write(_attr(tmp_path / "b"), "2")
    assert (tmp_path / "b").read_text() == "2"


def test_a_write_queued_behind_a_hung_one_is_never_made_once_abandoned(tmp_path: Path) -> None:
    """Two threads of one process (an app's workers) share the writer: a write that waited behind
    another thread's hung write and timed out is reported abandoned, and does not land later when
    the hung one returns."""
    fifo = tmp_path / "unbind"
    os.mkfifo(fifo)
    hung: list[BaseException] = []

    def hang() -> None:
        try:
            LiveKernel(HostPaths(tmp_path)).write(fifo, "0000:01:00.0", timeout=1.0)
        except SysfsTimeoutError as exc:
            hung.append(exc)

    first = threading.Thread(target=hang)
    first.start()
    time.sleep(0.2)  # the first write is in the FIFO's open by now
    late = _attr(tmp_path / "rom")
    with pytest.raises(SysfsTimeoutError):
        LiveKernel(HostPaths(tmp_path)).write(late, "1", timeout=0.2)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # the hung write returns
    try:
        first.join(5)
        time.sleep(0.3)
    finally:
        os.close(fd)
    assert late.read_text() == ""  # abandoned: never written
    LiveKernel(HostPaths(tmp_path)).write(late, "0", timeout=2)
    assert late.read_text() == "0"
