#!/usr/bin/env python3
"""Print the explain inventory's coverage: messages per source, mapped to a cause / context / benign, unmapped,
and how many of the mapped ones explain recognises when instantiated as printed (tests/explain/instantiate.py).

    .venv/bin/python scripts/explain_coverage.py [--failures]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "explain")]

from instantiate import instantiate  # noqa: E402

from vfio_tui.core.explain import explain_text, load_catalog  # noqa: E402
from vfio_tui.core.explain.scan import GATES  # noqa: E402
from vfio_tui.core.explain.sources import FAILURE, mappings  # noqa: E402

VFIO_CONTEXT = "-device vfio-pci,host=0000:02:00.0,id=hostdev0\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--failures", action="store_true", help="list the messages that are not recognised")
    args = parser.parse_args()
    causes = {e.id: e for e in load_catalog()}
    table: dict[str, Counter[str]] = {}
    problems: list[str] = []
    for m in mappings():
        row = table.setdefault(m.message.project, Counter())
        fail = m.message.severity in FAILURE
        row["messages"] += 1
        row["failure"] += fail
        row[m.kind + (" (failure)" if fail else "")] += 1
        if m.kind == "cause" and fail and not causes[m.cause or ""].wrapper:
            row["specific (failure)"] += 1
        if m.kind != "cause":
            continue
        line = instantiate(m.message)
        entry = causes[m.cause or ""]
        if m.requires and not any(r in line.lower() for r in m.requires.split("|")):
            row["recognised"] += 1  # only recognised next to a VFIO path: precision, see the test
            continue
        if m.message.project == "libvirt" and not any(g.decode() in line.lower() for g in GATES):
            line = "error: Failed to start domain 'vm1'\n" + line  # virsh prints the reason on the next line
        text = (VFIO_CONTEXT + line) if (entry.wrapper or not entry.standalone) else line
        if not entry.standalone:
            text += "\nvfio 0000:02:00.0: group 13 is not viable\n"
        ids = [f.cause_id for f in explain_text(text).findings]
        if not any(g.decode() in line.lower() for g in GATES):
            why = "no gate"
        elif m.cause not in ids:
            why = f"got {ids}"
        else:
            row["recognised"] += 1
            continue
        problems.append(f"{m.message.id} [{m.cause}] {why}: {line[:150]!r}")
    cols = ["messages", "failure", "specific (failure)", "cause", "cause (failure)", "context", "context (failure)",
            "benign", "benign (failure)", "unmapped (failure)", "recognised"]
    print(f"{'source':14}" + "".join(f"{c[:18]:>19}" for c in cols))
    total: Counter[str] = Counter()
    for project, row in sorted(table.items()):
        total.update(row)
        print(f"{project:14}" + "".join(f"{row[c]:>19}" for c in cols))
    print(f"{'total':14}" + "".join(f"{total[c]:>19}" for c in cols))
    fail = total["failure"]
    print(f"\nfailure-severity messages: {fail}; mapped to a specific cause: {total['specific (failure)']} "
          f"({100 * total['specific (failure)'] / fail:.1f} %); unmapped: {total['unmapped (failure)']}")
    mapped = total["cause"] + total["cause (failure)"]
    print(f"mapped to a cause: {mapped}; recognised when instantiated: {total['recognised']} "
          f"({100 * total['recognised'] / max(1, mapped):.1f} %)")
    if args.failures:
        print("\n".join(problems))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
