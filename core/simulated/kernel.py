"""Provides SimulatedKernel: KernelInterface over a materialized host tree, with the real
kernel's binding semantics (kernel-semantics A1/A2; lab REPORT step 3 table of errno results).

State lives in the tree itself (the `driver` links, driver_override files, /dev/vfio nodes)
plus the metadata JSON (dynamic ids, kernel log, faults, open groups), guarded by an fcntl
lock, so separate processes working on one `--root DIR` see one consistent host. Every change to
the tree goes through core.safefile: inside the tree, never through a link that leads out of it
(a tree is data another user may have prepared), state written atomically (temp + fsync + rename).

Fault injection (tests) goes in the metadata under "faults": a list of
`{"match": OP|PATH-SUBSTRING|"*", "nth": 1, "count": 1, "errno": 5}` (fail with errno),
`{"hang": 30}` (the write blocks that long; beyond the caller's timeout it is abandoned),
`{"silent": true}` (a probe "succeeds" but binds nothing, as a vfio-pci probe of a bridge),
`{"kill": "before"|"after"}` (SIGKILL this process before/after the write takes effect).
"pace": S (static) makes every write take S seconds, so a run can be watched (the demo's --demo-pace).
"open_groups": [N, ...] simulates a user holding /dev/vfio/N open: unbinding a vfio-pci member
blocks until the group is released (vfio-pci's remove() waits for the user).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from vfio_tui.core import private_state, safefile
from vfio_tui.core.errors import SysfsTimeoutError, SysfsWriteError, VfioError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT
from vfio_tui.core.simulated.driver_model import VFIO, Blocked, Refused, SimDriverModel, log_line, parse_ids
from vfio_tui.core.simulated.materialize import SIM_METADATA
from vfio_tui.core.simulated.sriov import SimSriov, SriovBlocked, SriovRefused, can_probe

LOCK_NAME: Final = ".vfio-tui-sim.lock"
STATE_NAME: Final = ".vfio-tui-sim-state.json"
#: What the simulated kernel changes at run time (the rest of the metadata is read-only).
STATE_KEYS: Final = ("dynids", "kernel_log", "faults", "faults_fired", "open_groups", "dev_vfio", "gpu")
_MAX_STATE: Final = 4 * 1024 * 1024
_MAX_METADATA: Final = 64 * 1024 * 1024
#: driver_set_override() refuses a value of PAGE_SIZE bytes or more (drivers/base/driver.c).
MAX_OVERRIDE: Final = 4095
_DRIVER_FILES: Final = ("bind", "unbind", "new_id", "remove_id", "uevent")


class SimulatedKernel(SimDriverModel):
    """The simulated kernel of a materialized host tree (see the module docstring)."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths
        self._meta_path = paths.root / SIM_METADATA
        self._lock_path = paths.root / LOCK_NAME
        self._state_path = paths.root / STATE_NAME
        self._static_cache: tuple[tuple[int, int], dict[str, Any]] | None = None

    # -- state ---------------------------------------------------------------------------
    @contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """The metadata merged with the mutable state, under an exclusive lock.

        The mutable part (STATE_KEYS) lives in a small file of its own, written back atomically
        when it changed; the big metadata (id tables, host extras) is only read.
        """
        root = self.paths.root
        with private_state.open_lock_file(root, self._lock_path) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            static = self._static()
            try:
                text = safefile.read_bytes(root, self._state_path, limit=_MAX_STATE, follow=False).decode()
                state: dict[str, Any] = json.loads(text)
                if not isinstance(state, dict) or len(text) > _MAX_STATE:
                    raise ValueError("not vfio-tui's state")
            except FileNotFoundError:
                text, state = "", {}
            except (OSError, ValueError, RecursionError) as exc:
                raise VfioError(f"simulated kernel state unreadable: {exc}", path=str(self._state_path)) from None
            merged = dict(static)
            for key in STATE_KEYS:
                if key in state:
                    merged[key] = state[key]
                elif key in static:
                    merged[key] = json.loads(json.dumps(static[key]))
            try:
                yield merged
            except (Refused, SysfsWriteError):
                self._save(merged, text)  # a refused write still leaves its kernel log lines
                raise
            self._save(merged, text)

    def _save(self, merged: dict[str, Any], text: str) -> None:
        new = json.dumps({k: merged[k] for k in STATE_KEYS if k in merged}, separators=(",", ":"))
        if new != text:
            # Atomic and durable: a kill -9 leaves the old state or the new, never half of one.
            safefile.replace(self.paths.root, self._state_path, new.encode(), private=True, mode=0o644,
                             sync_dir=False)

    def _static(self) -> dict[str, Any]:
        try:
            with safefile.open_regular(self.paths.root, self._meta_path) as fd:
                st = os.fstat(fd)
                key = (st.st_mtime_ns, st.st_size)
                if self._static_cache is not None and self._static_cache[0] == key:
                    return self._static_cache[1]
                if st.st_size > _MAX_METADATA:
                    raise ValueError(f"{st.st_size} bytes")
                with os.fdopen(os.dup(fd), "rb") as f:
                    data: dict[str, Any] = json.loads(f.read())
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, RecursionError, VfioError) as exc:
            raise VfioError(f"simulated host metadata unreadable: {exc}", path=str(self._meta_path)) from None
        self._static_cache = (key, data)
        return data

    def metadata(self) -> dict[str, Any]:
        with self._state() as meta:
            return dict(meta)

    def update_metadata(self, **changes: Any) -> None:
        """Set metadata keys (tests: faults, open_groups; or static ones such as modules_available)."""
        static = {k: v for k, v in changes.items() if k not in STATE_KEYS}
        if static:
            with private_state.open_lock_file(self.paths.root, self._lock_path) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                data = dict(self._static())
                data.update(static)
                safefile.replace(self.paths.root, self._meta_path,
                                 (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), private=True, mode=0o644)
        with self._state() as meta:
            meta.update({k: v for k, v in changes.items() if k in STATE_KEYS})

    def kernel_log(self) -> list[str]:
        return list(self.metadata().get("kernel_log", []))

    # -- KernelInterface -------------------------------------------------------------------
    def write(self, path: Path, value: str, timeout: float = DEFAULT_WRITE_TIMEOUT) -> None:
        from vfio_tui.core.simulated import gpu_kernel  # on first use: read-only commands skip its GPU tables

        shown = self.paths.display(path)
        gpu_op = gpu_kernel.classify(self.paths, path)
        if gpu_op is not None:  # vtconsole, firmware framebuffer, ROM attribute (core/simulated/gpu_kernel.py)
            with self._state() as meta:
                gpu_kernel.apply(self.paths, meta, gpu_op, path, value)
            return
        op, addr_text, driver = self._classify(path)
        deadline = time.monotonic() + timeout
        pace = self._static().get("pace")
        if isinstance(pace, int | float) and 0 < pace <= 10:
            # The demo's --demo-pace: real drivers take time; a run that ends in 70 ms cannot be watched.
            time.sleep(float(pace))
        with self._state() as meta:
            fault = _take_fault(meta, op, shown)
            if fault is None:
                try:
                    self._apply(meta, op, addr_text, driver, path, value, silent=False)
                    return
                except Blocked:
                    pass
                except Refused as exc:
                    raise SysfsWriteError(shown, _short(value), exc.code, os.strerror(exc.code)) from None
        if fault is not None:
            if fault.get("kill") == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            if "hang" in fault:
                hang = float(fault["hang"])
                time.sleep(min(hang, timeout))
                if hang >= timeout:
                    raise SysfsTimeoutError(shown, value, timeout)
            if "errno" in fault:
                code = int(fault["errno"])
                raise SysfsWriteError(shown, _short(value), code, os.strerror(code))
        while True:
            try:
                with self._state() as meta:
                    self._apply(meta, op, addr_text, driver, path, value, silent=bool(fault and fault.get("silent")))
                break
            except Blocked:
                # vfio-pci's remove() waits for the user to close the device: poll, then give up.
                if time.monotonic() >= deadline:
                    raise SysfsTimeoutError(shown, value, timeout) from None
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            except Refused as exc:
                raise SysfsWriteError(shown, _short(value), exc.code, os.strerror(exc.code)) from None
        if fault is not None and fault.get("kill") == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    def unload_module(self, name: str) -> None:
        """modprobe -r: only the recorded GPU stack's modules can go (the rest of the simulated host is fixed)."""
        from vfio_tui.core.simulated import gpu_kernel  # on first use: read-only commands skip its GPU tables

        mod = name.replace("-", "_")
        with self._state() as meta:
            if not gpu_kernel.is_gpu_module(meta, mod):
                raise VfioError(f"modprobe -r {mod}: the simulated host cannot unload it")

            def unbind(addr: str, driver: str) -> None:
                dev = self._device_dir(addr)
                if dev is not None:
                    self._unbind(meta, addr, dev, driver)

            gpu_kernel.unload(self.paths, meta, mod, unbind)

    def load_module(self, name: str) -> None:
        from vfio_tui.core.simulated import gpu_kernel  # on first use: read-only commands skip its GPU tables

        mod = name.replace("-", "_")
        with self._state() as meta:
            if gpu_kernel.is_gpu_module(meta, mod):
                def probe(addr: str, driver: str) -> None:
                    dev = self._device_dir(addr)
                    if dev is not None and self._override(dev) is None:
                        self._probe(meta, addr, dev, driver)

                gpu_kernel.load(self.paths, meta, mod, probe)
                return
            fault = _take_fault(meta, "load_module", mod)
            if fault is not None and "errno" in fault:
                raise VfioError(f"modprobe {name} failed (simulated fault)")
            available = {m.replace("-", "_") for m in meta.get("modules_available", [])}
            if mod not in available and not self.paths.module(mod).is_dir():
                raise VfioError(f"modprobe: FATAL: Module {mod} not found in directory "
                                f"/lib/modules/{meta.get('kernel') or 'unknown'}",
                                fix=f"install the kernel's modules package, or build {mod}")
            deps = ["vfio", "vfio_iommu_type1", "vfio_pci_core", "vfio_pci"] if mod == "vfio_pci" else [mod]
            root = self.paths.root
            for m in deps:
                if m in available or m == mod:
                    safefile.mkdirs(root, self.paths.module(m) / "parameters")
            if mod == "vfio_pci":
                ddir = self.paths.pci_driver(VFIO)
                for f in _DRIVER_FILES:
                    safefile.create_exclusive(root, ddir / f)
                safefile.create_exclusive(root, self.paths.dev_vfio / "vfio")
                meta.setdefault("dev_vfio", {})["vfio"] = {"major": 10, "minor": 196, "mode": "0o666",
                                                          "uid": 0, "gid": 0}
            log_line(meta, f"modprobe {mod}")

    # -- what a path means -----------------------------------------------------------------
    def _classify(self, path: Path) -> tuple[str, str | None, str | None]:
        """(operation, device address or None, driver or None) for a sysfs attribute path."""
        try:
            rel = path.relative_to(self.paths.pci_bus).parts
        except ValueError:
            rel = ()
        if not path.exists() and not path.parent.is_dir():
            raise SysfsWriteError(self.paths.display(path), "", errno.ENOENT, os.strerror(errno.ENOENT))
        if rel == ("drivers_probe",):
            return "drivers_probe", None, None
        if len(rel) == 3 and rel[0] == "drivers" and rel[2] in ("bind", "unbind", "new_id", "remove_id"):
            if not path.exists():
                raise SysfsWriteError(self.paths.display(path), "", errno.ENOENT, os.strerror(errno.ENOENT))
            return rel[2], None, rel[1]
        if len(rel) == 3 and rel[0] == "devices" and rel[2] == "driver_override":
            return "driver_override", rel[1], None
        if len(rel) == 3 and rel[0] == "devices" and rel[2] in ("sriov_numvfs", "sriov_drivers_autoprobe"):
            if not path.exists():  # not a PF: the attribute is not there (sriov_attrs_are_visible())
                raise SysfsWriteError(self.paths.display(path), "", errno.ENOENT, os.strerror(errno.ENOENT))
            return rel[2], rel[1], None
        if len(rel) == 4 and rel[0] == "devices" and rel[2:] == ("driver", "unbind"):
            link = self.paths.pci_device(rel[1]) / "driver"
            if not link.is_symlink():
                # There is no driver directory to open: the shell says "No such file or directory".
                raise SysfsWriteError(self.paths.display(path), rel[1], errno.ENOENT, os.strerror(errno.ENOENT))
            return "unbind", rel[1], os.path.basename(safefile.readlink(self.paths.root, link))
        raise SysfsWriteError(self.paths.display(path), "", errno.EACCES,
                              "the simulated kernel does not implement writes to this attribute")

    def _apply(self, meta: dict[str, Any], op: str, addr: str | None, driver: str | None, path: Path,
               value: str, *, silent: bool) -> None:
        from vfio_tui.core.simulated import gpu_kernel  # on first use: read-only commands skip its GPU tables

        text = value[:-1] if value.endswith("\n") else value
        if op == "driver_override":
            if len(value) > MAX_OVERRIDE:
                raise Refused(errno.EINVAL)
            try:
                safefile.write_in_place(self.paths.root, path, ((text if text else "(null)") + "\n").encode())
            except safefile.UnsafePathError:
                raise Refused(errno.EACCES) from None
            return
        if op == "new_id":
            assert driver is not None
            self._new_id(meta, driver, text)
            return
        if op in ("sriov_numvfs", "sriov_drivers_autoprobe"):
            assert addr is not None
            pf = self._device_dir(addr)
            if pf is None:
                raise Refused(errno.ENODEV)
            try:
                if op == "sriov_numvfs":
                    SimSriov(self).write_numvfs(meta, addr, pf, value)
                else:
                    SimSriov(self).write_autoprobe(meta, pf, value)
            except SriovRefused as exc:
                raise Refused(exc.code) from None
            except SriovBlocked:
                raise Blocked() from None
            return
        if op == "remove_id":
            assert driver is not None
            ids = parse_ids(text)
            dyn = meta.setdefault("dynids", {}).setdefault(driver, [])
            if ids[:2] not in dyn:
                raise Refused(errno.ENODEV)
            dyn.remove(ids[:2])
            return
        target = text.strip()
        dev = self._device_dir(target)
        if dev is None:
            raise Refused(errno.ENODEV)
        if op == "unbind":
            assert driver is not None
            if self._driver_of(dev) != driver:
                raise Refused(errno.ENODEV)
            self._unbind(meta, target, dev, driver)
        elif op == "bind":
            assert driver is not None
            if not self._matches(meta, target, dev, driver):
                raise Refused(errno.ENODEV)
            if self._driver_of(dev) is not None:
                raise Refused(errno.EBUSY)
            if not can_probe(dev):
                raise Refused(errno.ENODEV)  # pci_device_probe(): a VF with sriov_drivers_autoprobe=0
            code = self._probe(meta, target, dev, driver, silent=silent)
            if code:
                raise Refused(code)
        elif op == "drivers_probe" and self._driver_of(dev) is None and can_probe(dev):
            for cand in self._candidates(meta, target, dev):
                # Probe errors are only logged; drivers_probe itself reports success.
                self._probe(meta, target, dev, cand, silent=silent)
                break
        gpu_kernel.after_change(self.paths, meta, op, target)

    # -- what the SR-IOV part (core.simulated.sriov) uses ----------------------------------------
    def driver_of(self, dev: Path) -> str | None:
        return self._driver_of(dev)

    def group_of(self, dev: Path) -> str | None:
        return self._group_of(dev)

    def candidates(self, meta: dict[str, Any], addr: str, dev: Path) -> list[str]:
        return self._candidates(meta, addr, dev)

    def probe(self, meta: dict[str, Any], addr: str, dev: Path, driver: str) -> int:
        return self._probe(meta, addr, dev, driver)

    def unbind(self, meta: dict[str, Any], addr: str, dev: Path, driver: str) -> None:
        self._unbind(meta, addr, dev, driver)

    @staticmethod
    def log(meta: dict[str, Any], line: str) -> None:
        log_line(meta, line)

def _short(value: str) -> str:
    return value if len(value) <= 64 else f"{value[:40]}... ({len(value)} bytes)"


def _take_fault(meta: dict[str, Any], op: str, shown: str) -> dict[str, Any] | None:
    faults = meta.get("faults")
    if not isinstance(faults, list):
        return None
    for fault in faults:
        match = str(fault.get("match", "*"))
        if match not in ("*", op) and match not in shown:
            continue
        fault["_seen"] = int(fault.get("_seen", 0)) + 1
        if fault["_seen"] < int(fault.get("nth", 1)):
            continue
        fault["count"] = int(fault.get("count", 1)) - 1
        if fault["count"] <= 0:
            faults.remove(fault)
        meta.setdefault("faults_fired", []).append({k: v for k, v in fault.items() if k != "_seen"} | {"op": op})
        return dict(fault)
    return None


