"""Where one in-process bind + verify + restore spends its time, measured without a profiler.

cProfile charges every Python call, so it inflates the engine's many small calls against the
kernel's few long writes. Here the named functions are wrapped with a clock (a few microseconds a
call) and the round runs as bench_bind.py times it. Times are inclusive: an entry contains the
entries it calls (plan_bind contains inventory, which contains the guard's facts).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: (module, attribute): a function, or Class.method. Patched wherever the same object is bound.
TARGETS: tuple[tuple[str, str], ...] = (
    ("vfio_tui.tui.cli", "build_parser"),
    ("vfio_tui.tui.cli", "command_parser"),
    ("vfio_tui.core.open_host", "open_host"),
    ("vfio_tui.core.libvirt.for_host", "domain_facts_for"),
    ("vfio_tui.tui.cli", "_notice_interrupted"),
    ("vfio_tui.core.passthrough.records", "interrupted_work"),
    ("vfio_tui.tui.cli.cmd_bind", "_print_plan"),
    ("vfio_tui.core.binding.persist", "persistence_left"),
    ("vfio_tui.tui.cli.safe_output", "guarded_output"),
    ("vfio_tui.tui.cli.output", "hints_for"),
    ("vfio_tui.tui.cli.output", "hangups_interrupt"),
    ("vfio_tui.core.binding.plan", "plan_bind"),
    ("vfio_tui.core.binding.plan", "vfio_pci_loadable"),
    ("vfio_tui.core.host", "Host.inventory"),
    ("vfio_tui.core.sysfs_reader", "read_inventory"),
    ("vfio_tui.core.verdict", "with_verdicts"),
    ("vfio_tui.core.sriovinfo.read", "with_sriov"),
    ("vfio_tui.core.usage_live", "gather_live_extras"),
    ("vfio_tui.core.usage", "uses_from_extras"),
    ("vfio_tui.core.usage_live", "_live_blocks"),
    ("vfio_tui.core.usage_live", "PsutilFacts.mounts"),
    ("vfio_tui.core.usage_live", "PsutilFacts.addresses"),
    ("vfio_tui.core.usage_live", "PsutilFacts.up"),
    ("vfio_tui.core.usage_net", "established_tcp"),
    ("vfio_tui.core.usage_net", "net_devices"),
    ("vfio_tui.core.usage_net", "default_routes"),
    ("vfio_tui.core.usage_live", "_has_virtio"),
    ("vfio_tui.core.usage_net", "net_lowers"),
    ("vfio_tui.core.usage_net", "net_stacks"),
    ("vfio_tui.core.private_state", "HeldDir.read_private"),
    ("vfio_tui.core.private_state", "HeldDir.replace_private"),
    ("vfio_tui.core.usage_net", "if_up"),
    ("vfio_tui.core.usage_live", "_class_entries"),
    ("vfio_tui.core.usage_net", "class_device_pci"),
    ("vfio_tui.core.usage_net", "read_text"),
    ("vfio_tui.core.usage", "carriers"),
    ("vfio_tui.core.binding.journal", "Journal.step"),
    ("vfio_tui.core.binding.journal", "Journal.create"),
    ("vfio_tui.core.virtio_mounts", "read_mounts"),
    ("vfio_tui.core.virtio_mounts", "virtio_mount_tags"),
    ("vfio_tui.core.binding.apply", "apply_plan"),
    ("vfio_tui.core.binding.apply", "check_interrupted"),
    ("vfio_tui.core.binding.journal", "load_journals"),
    ("vfio_tui.core.binding.journal", "Journal.save"),
    ("vfio_tui.core.lock", "writer_lock"),
    ("vfio_tui.core.lock", "ensure_state_dir"),
    ("vfio_tui.core.kernel", "LiveKernel.write"),
    ("vfio_tui.core.safepath", "walk_to"),
    ("vfio_tui.core.binding.state", "verify_group"),
    ("vfio_tui.core.binding.state", "driver_of"),
    ("vfio_tui.core.binding.state", "override_of"),
    ("vfio_tui.core.binding.state", "is_bridge_at"),
    ("vfio_tui.core.binding.state", "group_members"),
    ("vfio_tui.core.binding.journal", "Journal.mark"),
    ("vfio_tui.core.binding.journal", "Journal.drop_devices"),
    ("vfio_tui.core.private_state", "private_dirs_and_lock"),
    ("vfio_tui.core.binding.persist", "persisted_addresses"),
    ("vfio_tui.core.binding.state", "return_devices"),
    ("vfio_tui.core.binding.restore", "restore"),
    ("vfio_tui.core.binding.restore", "holders_of"),
    ("vfio_tui.core.holders", "_group_of"),
    ("vfio_tui.core.holders", "_cdev_nodes"),
    ("vfio_tui.core.holders", "group_node_unopened"),
    ("vfio_tui.core.holders", "open_by"),
)

_CONTEXTS = frozenset({"open_host", "writer_lock", "guarded_output", "hints_for", "hangups_interrupt"})


class _Clock:
    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, name: str, seconds: float) -> None:
        self.total[name] = self.total.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1


def _timed(fn: Callable[..., Any], name: str, clock: _Clock) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        clock.add(name, time.perf_counter() - t0)
        if name in _CONTEXTS:
            return _TimedContext(result, name, clock)
        return result

    return wrapper


class _TimedContext:
    """A context manager's entry and exit are where a lock or a host's opening spends its time."""

    def __init__(self, inner: Any, name: str, clock: _Clock) -> None:
        self.inner, self.name, self.clock = inner, name, clock

    def __enter__(self) -> Any:
        t0 = time.perf_counter()
        value = self.inner.__enter__()
        self.clock.add(self.name + " enter", time.perf_counter() - t0)
        return value

    def __exit__(self, *exc: Any) -> Any:
        t0 = time.perf_counter()
        value = self.inner.__exit__(*exc)
        self.clock.add(self.name + " exit", time.perf_counter() - t0)
        return value


@contextmanager
def _patched(clock: _Clock) -> Iterator[list[str]]:
    import importlib

    undo: list[tuple[object, str, object]] = []
    missing: list[str] = []
    try:
        for modname, attr in TARGETS:
            try:
                mod = importlib.import_module(modname)
            except ImportError:
                missing.append(f"{modname} (no such module)")
                continue
            owner: object = mod
            name = attr
            if "." in attr:
                cls_name, name = attr.split(".", 1)
                owner = getattr(mod, cls_name, None)
            original = getattr(owner, name, None) if owner is not None else None
            if original is None:
                missing.append(f"{modname}.{attr}")
                continue
            wrapped = _timed(original, attr, clock)
            holders = [owner] if "." in attr else [m for m in list(sys.modules.values())
                                                   if getattr(m, "__name__", "").startswith("vfio_tui")
                                                   and getattr(m, name, None) is original]
            for holder in holders:
                undo.append((holder, name, original))
                setattr(holder, name, wrapped)
        yield missing
    finally:
        for holder, name, original in reversed(undo):
            setattr(holder, name, original)


def phase_report(round_fn: Callable[[], None], total_fn: Callable[[], None], rounds: int = 3) -> str:
    """Run `round_fn` `rounds` times with the clocks in, and once per round `total_fn` alone."""
    import gc

    clock = _Clock()
    walls = []
    started: list[float] = []

    def gc_clock(phase: str, info: dict[str, int]) -> None:  # the collector's own pauses, by generation
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            clock.add(f"gc generation {info.get('generation')}", time.perf_counter() - started.pop())

    gc.callbacks.append(gc_clock)
    try:
        with _patched(clock) as missing:
            for _ in range(rounds):
                t0 = time.perf_counter()
                round_fn()
                walls.append(time.perf_counter() - t0)
    finally:
        gc.callbacks.remove(gc_clock)
    bare = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        total_fn()
        bare.append(time.perf_counter() - t0)
    lines = [f"one round: {sum(walls) / rounds * 1000:.1f} ms with the clocks in,"
             f" {sum(bare) / rounds * 1000:.1f} ms without (mean of {rounds});"
             " per round, inclusive, in call order:"]
    for name in clock.total:
        lines.append(f"  {clock.total[name] / rounds * 1000:8.1f} ms  {clock.calls[name] / rounds:5.1f} calls  {name}")
    if missing:
        lines.append("not found (renamed?): " + ", ".join(missing))
    return "\n".join(lines) + "\n"


def write_cost(path: str, rounds: int = 20) -> str:
    """What the engine's write adds to the kernel's: `rounds` writes of "\\n" to `path` (a driver_override
    that is empty: nothing changes) through LiveKernel.write (a thread with a timeout) and directly."""
    import os
    from pathlib import Path

    from vfio_tui.core.hostpaths import HostPaths
    from vfio_tui.core.kernel import LiveKernel

    kernel = LiveKernel(HostPaths(Path("/")))

    def direct() -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"\n")
        finally:
            os.close(fd)

    timing = {}
    for name, fn in (("direct", direct), ("LiveKernel.write", lambda: kernel.write(Path(path), "\n"))):
        t0 = time.perf_counter()
        for _ in range(rounds):
            fn()
        timing[name] = (time.perf_counter() - t0) / rounds * 1000
    return (f"a no-op write to {path}: direct {timing['direct']:.2f} ms, LiveKernel.write"
            f" {timing['LiveKernel.write']:.2f} ms (mean of {rounds})\n")
