"""Run the domain-XML corpus check over a tree of libvirt domain XMLs and print the counts.

    python scripts/libvirt_corpus.py [TREE] [--libvirt] [-v]

TREE defaults to libvirt 9.0's test data at ../src/libvirt-9.0.0/tests (`apt-get source libvirt`
there), else the committed sample tests/libvirt/libvirt_test_data. Every <domain> XML is read, written back,
given a hostdev (one function, a two-function card, an SR-IOV VF as <interface type='hostdev'>)
and has it removed (tests/libvirt/corpus.py says what must hold). --libvirt also asks libvirt
to accept each edit of a domain it accepts as it is: its RelaxNG schema, and its QEMU driver's
defineXML embedded in a child process (tests/libvirt/judge.py; x86 domains; nothing is started).
Exit status 1 when a domain fails a check or libvirt refuses an edit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.libvirt.corpus import domain_files, exercise, run  # noqa: E402
from tests.libvirt.judge import (  # noqa: E402
    NOT_X86,
    JudgeUnavailableError,
    SchemaJudge,
    qemu_judge_missing,
    qemu_verdicts,
)


def judge(files: list[Path]) -> int:
    missing = SchemaJudge.missing() or qemu_judge_missing()
    if missing:
        print(f"libvirt judge skipped: {missing}")
        return 0
    schema = SchemaJudge()
    counts: Counter[str] = Counter()
    cases: dict[str, dict[str, str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8")
        outcome = exercise(path, text)
        if outcome.status != "ok":
            continue
        counts.update(f"refused by the placement: {label}" for label in outcome.refused)
        if not schema.errors(text):
            for label, xml in outcome.edited.items():
                counts["schema: valid" if not schema.errors(xml) else f"schema: INVALID {label} {path}"] += 1
        cases[str(path)] = {"original": text, **outcome.edited}
    with tempfile.TemporaryDirectory(prefix="vfio-tui-judge-") as tmp:
        try:
            verdicts = qemu_verdicts(cases, Path(tmp))
        except JudgeUnavailableError as exc:
            print(f"libvirt judge skipped: {exc}")
            return 0
    bad = 0
    for name, verdict in verdicts.items():
        if verdict["original"] == NOT_X86:
            counts["QEMU driver: not x86, skipped"] += 1
        elif verdict["original"]:
            counts["QEMU driver: refuses the original, skipped"] += 1
        else:
            counts["QEMU driver: originals accepted"] += 1
            for label, refusal in verdict.items():
                if label != "original":
                    counts[f"QEMU driver: {label} edits accepted" if not refusal else "QEMU driver: edits REFUSED"] += 1
                    if refusal:
                        bad += 1
                        print(f"  REFUSED {name} {label}: {refusal}")
    for key, n in sorted(counts.items()):
        print(f"  {key}: {n}")
    return 1 if bad or any("INVALID" in k for k in counts) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tree", nargs="?", type=Path)
    parser.add_argument("--libvirt", action="store_true", help="also have libvirt judge every edit")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per domain")
    args = parser.parse_args()
    tree = args.tree
    if tree is None:
        full = ROOT.parent / "src" / "libvirt-9.0.0" / "tests"
        tree = full if full.is_dir() else ROOT / "tests" / "libvirt" / "libvirt_test_data"
    t0 = time.monotonic()
    files = domain_files(tree)
    summary = run(files)
    print(f"{tree}: {time.monotonic() - t0:.1f} s")
    print("\n".join(summary.lines()))
    if args.verbose:
        for o in summary.outcomes:
            print(f"  {o.status:7} {o.placement or '-':22} {o.path} {o.reason}")
    rc = 1 if summary.count("failed") else 0
    if args.libvirt:
        t0 = time.monotonic()
        rc |= judge(files)
        print(f"libvirt judge: {time.monotonic() - t0:.1f} s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
