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
            first_paint = clock.stop()
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
                times.append(c.stop())
            selects = []
            for node in groups[21:31]:
                c = Clock()
                tree.move_cursor(node)
                await pilot.pause()
                selects.append(c.stop())
            # Filter keystrokes: "/" then one character at a time, each until repainted (the first
            # one builds the per-device search text).
            await pilot.press("slash")
            await pilot.pause()
            keys = []
            for ch in "igb":
                c = Clock()
                await pilot.press(ch)
                await pilot.pause()
                keys.append(c.stop())
            members = [len(inventory.members(n.data.group))
                       for n in groups[1:21] if n.data and n.data.group is not None]
        # The same first paint with the inventory already read: the app's own share.
        def read_once(*, names: bool = True, focus: object = None) -> object:
            return inventory

        host.inventory = read_once  # type: ignore[method-assign,assignment]
        app = make_app(host)
        clock = Clock()
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, DevicesScreen) and app.screen.query_one(IommuTree).view is not None):
                await asyncio.sleep(0.002)
            await pilot.pause()
            app_only = clock.stop()
    finally:
        host.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
