#!/usr/bin/env python3
"""Benchmark of the app on a 4,096-function synthetic host, headless: prints first paint, group
expand time, filter keystroke time and peak RSS (targets: <= 0.5 s, <= 16 ms (one frame),
<= 30 ms, <= 120 MB).

    python bench/tui.py [FUNCTIONS]
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.open_host import materialized_host  # noqa: E402
from core.simulated.synthetic import synthetic_snapshot  # noqa: E402
from tui.app import make_app  # noqa: E402
from tui.screens.devices import DevicesScreen  # noqa: E402
from tui.widgets.iommu_tree import IommuTree  # noqa: E402


async def measure(functions: int) -> None:
    t0 = time.perf_counter()
    host = materialized_host(synthetic_snapshot(functions), "snapshot", "bench")
    t_host = time.perf_counter() - t0
    try:
        t_inv0 = time.perf_counter()
        inventory = host.inventory()
        t_inventory = time.perf_counter() - t_inv0
        app = make_app(host)
        start = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while True:
                screen = app.screen
                if isinstance(screen, DevicesScreen) and screen.query_one(IommuTree).view is not None:
                    break
                if time.perf_counter() - start > 120 or app._exit_renderables:
                    raise SystemExit("the app did not show the tree")
                await asyncio.sleep(0.005)
            await pilot.pause()
            first_paint = time.perf_counter() - start
            tree = screen.query_one(IommuTree)
            groups = list(tree.root.children)
            idle = []
            for _ in range(10):
                t = time.perf_counter()
                await pilot.pause()
                idle.append(time.perf_counter() - t)
            times = []
            for node in groups[1:21]:
                t = time.perf_counter()
                node.expand()
                await pilot.pause()
                times.append(time.perf_counter() - t)
            selects = []
            for node in groups[21:31]:
                t = time.perf_counter()
                tree.move_cursor(node)
                await pilot.pause()
                selects.append(time.perf_counter() - t)
            # Filter keystrokes: "/" then one character at a time, each until repainted (the first
            # one builds the per-device search text).
            await pilot.press("slash")
            await pilot.pause()
            keys = []
            for ch in "igb":
                t = time.perf_counter()
                await pilot.press(ch)
                await pilot.pause()
                keys.append(time.perf_counter() - t)
            members = [len(inventory.members(n.data.group))
                       for n in groups[1:21] if n.data and n.data.group is not None]
        # The same first paint with the inventory already read: the app's own share.
        host.inventory = lambda: inventory  # type: ignore[method-assign]
        app = make_app(host)
        start = time.perf_counter()
        async with app.run_test(size=(120, 40)) as pilot:
            while not (isinstance(app.screen, DevicesScreen) and app.screen.query_one(IommuTree).view is not None):
                await asyncio.sleep(0.002)
            await pilot.pause()
            app_only = time.perf_counter() - start
    finally:
        host.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"host: {len(inventory.devices)} functions, {len(inventory.groups)} groups "
          f"(materialized in {t_host:.2f} s; core inventory read {t_inventory:.2f} s)")
    print(f"first paint (app start -> tree on screen, includes the inventory read): {first_paint:.3f} s"
          f"  [target <= 0.5 s]; the app's own share (inventory already read): {app_only:.3f} s")
    print(f"group expand ({len(times)} groups of ~{statistics.median(members):.0f} functions, until repainted): "
          f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms  [target <= 16 ms]")
    print(f"filter keystroke (until repainted): {', '.join(f'{k * 1000:.1f}' for k in keys)} ms"
          "  [target <= 30 ms]")
    print(f"move the cursor to a group (tree + detail panel repainted): median "
          f"{statistics.median(selects) * 1000:.1f} ms; an idle repaint cycle: {statistics.median(idle) * 1000:.1f} ms")
    print(f"peak RSS: {rss_mb:.0f} MB  [target <= 120 MB]")


if __name__ == "__main__":
    asyncio.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 4096))
