#!/usr/bin/env python3
"""Benchmark of the app on a 4,096-function synthetic host, headless: prints first paint, group
expand time, filter keystroke time and peak RSS (targets: <= 0.5 s, <= 16 ms (one frame),
<= 30 ms, <= 120 MB).

    python bench/tui.py [FUNCTIONS] [--json]

With --json the last line is one JSON object (bench/report.py reads it for bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vfio_tui.core.open_host import materialized_host  # noqa: E402
from vfio_tui.core.simulated.synthetic import synthetic_snapshot  # noqa: E402
from vfio_tui.tui.app import make_app  # noqa: E402
from vfio_tui.tui.screens.devices import DevicesScreen  # noqa: E402
from vfio_tui.tui.widgets.iommu_tree import IommuTree  # noqa: E402


class Clock:
    """Wall time and this process's CPU time (all threads) since start: on the shared build machine
    the wall time of a repaint is mostly waiting for a core, the CPU time is what the app spent."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


class Repaints:
    """When the app wrote each screen update to its (headless) terminal, what it repainted, and the CPU
    time then.

    `pilot.pause()` itself sleeps at least 20 ms (Textual's wait_for_idle) and then forces a repaint, so
    "until pause() returns" would time the test harness: an action is timed until the first screen update
    that repainted the widget it changes (Textual paints at most one frame per 1/60 s, so a change shows at
    the next frame boundary after the work is done)."""

    def __init__(self, app: object) -> None:
        self.log: list[tuple[float, float, frozenset[str]]] = []
        self.first_tree: tuple[float, float] | None = None
        original = app._display  # type: ignore[attr-defined]

        def display(screen: object, renderable: object) -> None:
            dirty = frozenset(type(w).__name__ for w in getattr(screen, "_dirty_widgets", ()))
            original(screen, renderable)
            now = (time.perf_counter(), time.process_time())
            self.log.append((*now, dirty))
            if os.environ.get("BENCH_TUI_TRACE"):
                print(f"  repaint at {now[0] * 1000 % 100000:.1f} {sorted(dirty)}", file=sys.stderr)
            if self.first_tree is None and isinstance(screen, DevicesScreen):
                trees = screen.query(IommuTree)
                if trees and trees.first().view is not None:
                    self.first_tree = now

        app._display = display  # type: ignore[attr-defined]

    def since(self, clock: Clock, widget: str = "IommuTree") -> tuple[float, float]:
        """The action's latency (wall, CPU): until the first repaint of `widget` after `clock` started, or
        (an action that left that widget as it was: a filter keystroke that matches the same devices)
        until the last repaint it caused before the harness forced one."""
        after = [entry for entry in self.log if entry[0] >= clock.wall]
        for wall, cpu, dirty in after:
            if widget in dirty or "DevicesScreen" in dirty:
                return wall - clock.wall, cpu - clock.cpu
        if len(after) > 1:
            wall, cpu, _ = after[-2]
            return wall - clock.wall, cpu - clock.cpu
        raise SystemExit(f"the action did not repaint the {widget}")


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, the high-water mark of its own memory map. (getrusage's ru_maxrss
    starts at the RSS of the process that spawned it, as Linux's execve() keeps the old map's peak: run by
    bench/report.py after its in-process reads, it said 186 MB for an app of 100 MB.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ms(pairs: list[tuple[float, float]]) -> str:
    wall = statistics.median(p[0] for p in pairs) * 1000
    cpu = statistics.median(p[1] for p in pairs) * 1000
    return f"median {wall:.1f} ms (CPU {cpu:.1f} ms), max {max(p[0] for p in pairs) * 1000:.1f} ms"


async def measure(functions: int) -> dict[str, float]:
    t0 = time.perf_counter()
    host = materialized_host(synthetic_snapshot(functions), "snapshot", "bench")
    t_host = time.perf_counter() - t0
    try:
        t_inv0 = time.perf_counter()
        inventory = host.inventory()
        t_inventory = time.perf_counter() - t_inv0
        app = make_app(host)
        repaints = Repaints(app)
        start = time.perf_counter()
        clock = Clock()
        async with app.run_test(size=(120, 40)) as pilot:
            while True:
                screen = app.screen
                if isinstance(screen, DevicesScreen) and screen.query_one(IommuTree).view is not None:
                    break
                if time.perf_counter() - start > 120 or app._exit_renderables:
                    raise SystemExit("the app did not show the tree")
                await asyncio.sleep(0.005)
            await pilot.pause()
            if repaints.first_tree is None:
                raise SystemExit("the tree was never painted")
            first_paint = repaints.first_tree[0] - clock.wall, repaints.first_tree[1] - clock.cpu
            await app.workers.wait_for_complete()
            tree = screen.query_one(IommuTree)
            groups = list(tree.root.children)
            idle = []
            for _ in range(10):
                c = Clock()
                await pilot.pause()
                idle.append(c.stop())
            times = []
            for node in groups[1:21]:
                c = Clock()
                node.expand()
                await pilot.pause()
                times.append(repaints.since(c))

            selects = []
            for node in groups[21:31]:
                c = Clock()
                tree.move_cursor(node)
                await pilot.pause()
                selects.append(repaints.since(c))
            # Filter keystrokes: "/" then one character at a time, each until repainted (the first
            # one builds the per-device search text).
            await pilot.press("slash")
            await pilot.pause()
            keys = []
            for ch in "igb":
                if os.environ.get("BENCH_TUI_TRACE"):
                    print(f"key {ch} at {time.perf_counter() * 1000 % 100000:.1f}", file=sys.stderr)
                c = Clock()
                await pilot.press(ch)
                await pilot.pause()
                keys.append(repaints.since(c))
            members = [len(inventory.members(n.data.group))
                       for n in groups[1:21] if n.data and n.data.group is not None]
        # The same first paint with the inventory already read: the app's own share.
        def read_once(*, names: bool = True, focus: object = None) -> object:
            return inventory

        host.inventory = read_once  # type: ignore[method-assign,assignment]
        app = make_app(host)
        repaints = Repaints(app)
        clock = Clock()
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, DevicesScreen) and app.screen.query_one(IommuTree).view is not None):
                await asyncio.sleep(0.002)
            await pilot.pause()
            assert repaints.first_tree is not None
            app_only = repaints.first_tree[0] - clock.wall, repaints.first_tree[1] - clock.cpu
    finally:
        host.close()
    rss_mb = peak_rss_mb()
    print(f"host: {len(inventory.devices)} functions, {len(inventory.groups)} groups "
          f"(materialized in {t_host:.2f} s; core inventory read {t_inventory:.2f} s)")
    print(f"first paint (app start -> tree on screen, includes the inventory read): {first_paint[0]:.3f} s"
          f" (CPU {first_paint[1]:.3f} s)  [target <= 0.5 s]; the app's own share (inventory already read):"
          f" {app_only[0]:.3f} s (CPU {app_only[1]:.3f} s)")
    print(f"group expand ({len(times)} groups of ~{statistics.median(members):.0f} functions, until repainted): "
          f"{ms(times)}  [target <= 16 ms]")
    print(f"filter keystroke (until repainted): {', '.join(f'{w * 1000:.1f} (CPU {c * 1000:.1f})' for w, c in keys)}"
          " ms  [target <= 30 ms]")
    print(f"move the cursor to a group (tree + detail panel repainted): {ms(selects)}; an idle repaint cycle:"
          f" {ms(idle)}")
    print(f"peak RSS: {rss_mb:.0f} MB  [target <= 120 MB]")
    return {"functions": len(inventory.devices), "first_paint_s": first_paint[0], "first_paint_cpu_s": first_paint[1],
            "app_only_s": app_only[0], "group_open_ms": statistics.median(p[0] for p in times) * 1000,
            "group_open_cpu_ms": statistics.median(p[1] for p in times) * 1000,
            "filter_key_ms": statistics.median(w for w, _ in keys) * 1000,
            "filter_key_cpu_ms": statistics.median(c for _, c in keys) * 1000, "peak_rss_mb": rss_mb}


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if a != "--json"]
    result = asyncio.run(measure(int(argv[0]) if argv else 4096))
    if "--json" in sys.argv[1:]:
        print(json.dumps(result))
