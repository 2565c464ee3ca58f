"""Provides KernelInterface: the only way core/ changes a host's kernel state.

LiveKernel writes the real sysfs (each write in a thread with a timeout, because an unbind
blocks for as long as the driver's remove() does) and runs modprobe. The simulated kernel
(core.simulated.kernel) implements the same interface over a host tree.
"""

from __future__ import annotations

import errno
import math
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from vfio_tui.core.errors import InputError, SysfsTimeoutError, SysfsWriteError, VfioError
from vfio_tui.core.hostpaths import HostPaths

DEFAULT_WRITE_TIMEOUT = 10.0
"""Seconds a single sysfs write may take before it is reported and abandoned."""


def checked_timeout(timeout: float) -> float:
    """`timeout` if it is a usable write timeout; InputError otherwise.

    Why here too (the CLI checks at parse time): a negative timeout makes a thread join return at
    once, so a write is reported "abandoned" while it still lands, and a rollback skips its writes;
    `nan` compares false with everything and so disables the timeout.
    """
    if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
        raise InputError(f"a sysfs write timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)


class KernelInterface(Protocol):
    """Writes to kernel attributes and loads modules."""

    paths: HostPaths

    def write(self, path: Path, value: str, timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        """Write `value` to the attribute at `path` (a path under paths.root).

        Raises:
            SysfsWriteError: the kernel refused the write (carries errno).
            SysfsTimeoutError: the write did not return in time; it was abandoned.
        """
        ...

    def load_module(self, name: str) -> None:
        """Load a kernel module (e.g. "vfio-pci"). Raises VfioError when it cannot be loaded."""
        ...

    def unload_module(self, name: str) -> None:
        """Unload a kernel module (`modprobe -r`). Raises VfioError when it cannot (in use)."""
        ...


class _WriteWorker:
    """A daemon thread that makes the writes handed to it, one at a time, and ends when idle.

    Why not a thread per write: starting one cost 1.5 ms on the lab's (TCG) kernel, against 0.06 ms
    for the write itself. A write that hangs keeps its worker (LiveKernel drops it and starts another);
    a daemon thread lets the process exit even while the kernel never returns.
    """

    IDLE_SECONDS = 2.0

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._alive = True
        threading.Thread(target=self._run, name="sysfs-writer", daemon=True).start()

    def submit(self, job: Callable[[], None]) -> bool:
        """Queue `job`; False when this worker has ended (idle), so the caller starts another."""
        with self._lock:
            if self._alive:
                self._jobs.put(job)
            return self._alive

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                with self._lock:  # submit() queues under the same lock: no job is left behind
                    if self._jobs.empty():
                        self._alive = False
                        return
                continue
            job()


_worker_guard = threading.Lock()
_worker: _WriteWorker | None = None
"""The process's writer thread: every LiveKernel's writes go through it (an app runs a bind, an attach
and an undo as separate commands in one process, and starting a thread cost more than the write)."""


def _hand_off(job: Callable[[], None]) -> _WriteWorker:
    global _worker
    with _worker_guard:
        if _worker is None or not _worker.submit(job):
            _worker = _WriteWorker()
            _worker.submit(job)
        return _worker


def _abandon(worker: _WriteWorker) -> None:
    """The worker is stuck in the kernel with a write: the next write gets a new one."""
    global _worker
    with _worker_guard:
        if _worker is worker:
            _worker = None


class LiveKernel:
    """The running kernel. Only ever used when the host root is "/"."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def write(self, path: Path, value: str, timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        timeout = checked_timeout(timeout)
        # The worker hands back None or what the write raised (a C queue: lighter than an Event).
        result: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        abandoned = [False]

        def work() -> None:
            if abandoned[0]:
                return  # queued behind a write that hung (another thread's): reported abandoned, never made
            try:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, value.encode())
                finally:
                    os.close(fd)
                result.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                result.put(exc)

        worker = _hand_off(work)
        try:
            exc = result.get(timeout=timeout)
        except queue.Empty:
            abandoned[0] = True
            _abandon(worker)
            raise SysfsTimeoutError(self.paths.display(path), value, timeout) from None
        if isinstance(exc, OSError):
            raise SysfsWriteError(self.paths.display(path), value, exc.errno or errno.EIO,
                                  exc.strerror or str(exc))
        if exc is not None:
            raise exc

    def load_module(self, name: str) -> None:
        import shutil
        import subprocess

        modprobe = shutil.which("modprobe") or "/sbin/modprobe"
        try:
            proc = subprocess.run([modprobe, name], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VfioError(f"cannot run modprobe {name}: {exc}", fix="install kmod") from None
        if proc.returncode != 0:
            raise VfioError(f"modprobe {name} failed: {proc.stderr.strip() or proc.returncode}",
                            fix=f"is {name} blacklisted? grep -r {name.replace('-', '_')} /etc/modprobe.d")

    def unload_module(self, name: str) -> None:
        import shutil
        import subprocess

        modprobe = shutil.which("modprobe") or "/sbin/modprobe"
        try:
            # One module per call: the plan orders them (users first), so a failure names the one in use.
            proc = subprocess.run([modprobe, "-r", name], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VfioError(f"cannot run modprobe -r {name}: {exc}", fix="install kmod") from None
        if proc.returncode != 0:
            raise VfioError(proc.stderr.strip() or f"modprobe -r {name} failed ({proc.returncode})",
                            fix=f"see who uses it: lsmod | grep {name.replace('-', '_')};"
                                " fuser -v /dev/dri/* /dev/nvidia*")


class ReadOnlyKernel:
    """A host tree that is not simulated and not this machine: writes are refused."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def write(self, path: Path, value: str, timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        raise VfioError(
            f"refusing to write {self.paths.display(path)}: the host at {self.paths.root} is a plain tree,"
            " not a simulated host",
            fix="create a writable simulated host with `vfio-tui sim-host DIR --demo|--from FILE.json`",
        )

    def load_module(self, name: str) -> None:
        raise VfioError(f"cannot load {name} on a plain host tree at {self.paths.root}")

    def unload_module(self, name: str) -> None:
        raise VfioError(f"cannot unload {name} on a plain host tree at {self.paths.root}")
