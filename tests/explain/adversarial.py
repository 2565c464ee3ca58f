"""Hostile inputs built from the patterns themselves: near-matches that make a backtracking regex explode.

For a pattern and a text it matches (a real message), every prefix of that text is a near-match: it
enters the pattern and fails later. Repeating a prefix, or following it with a long run of the
character that comes next in the text, is what drives a regex with an unbounded `.*`, `\\w+` or
`[^)]*` to quadratic (or worse) time. tests/explain/test_bounded.py runs every pattern on such lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tests.explain.explain_messages import REAL_MESSAGES
from vfio_tui.core.explain.catalog import load_catalog
from vfio_tui.core.explain.normalize import normalize_line

#: Texts for the catalog patterns that no message in explain_messages.py exercises (from the sources).
EXTRA_SAMPLES = (
    "vfio-pci 0000:02:00.0: Device is currently in use, task \"qemu-system-x86\" (1234) blocked until released by user",
    "internal error: Device 0000:03:00.0 is behind a switch lacking ACS and cannot be assigned",
    "internal error: Active 0000:02:00.1 devices on bus with 0000:02:00.0, not doing bus reset",
    "WARN (IOMMU appears to be disabled in kernel. Add intel_iommu=on to kernel cmdline arguments)",
    "vfio-pci 0000:02:00.0: Please ensure all devices within the iommu_group are bound to their vfio bus driver.",
    "vfio: DMA mapping failed, unable to continue",
)


def real_lines() -> list[str]:
    lines = [normalize_line(ln) for msgs in REAL_MESSAGES.values() for text, _ in msgs for ln in text.splitlines()]
    return lines + list(EXTRA_SAMPLES)


def catalog_patterns() -> list[tuple[str, re.Pattern[str], str]]:
    """(label, pattern, the text of a real message it matches) for every catalog regex."""
    lines = real_lines()
    out = []
    for entry in load_catalog():
        for i, rx in enumerate(entry.patterns):
            sample = next((m.group(0) for ln in lines if (m := rx.search(ln))), None)
            assert sample, f"{entry.id} pattern {i} matches no sample text: add one to EXTRA_SAMPLES"
            out.append((f"{entry.id}/{i}", rx, sample))
    return out


def cut_points(sample: str, most: int = 24) -> list[int]:
    """Prefix lengths worth trying: every change of character class (where a quantifier starts or ends)."""

    def kind(c: str) -> str:
        return "a" if c.isalpha() else "0" if c.isdigit() else " " if c.isspace() else c

    points = {len(sample)} | {i for i in range(1, len(sample)) if kind(sample[i]) != kind(sample[i - 1])}
    points |= {i + 1 for i in list(points) if i < len(sample)}
    ordered = sorted(points)
    step = max(1, len(ordered) // most)
    return [*ordered[::step][:most], len(sample)]


def near_miss_lines(sample: str, size: int) -> Iterator[tuple[str, str]]:
    """(description, line of `size` characters) built from the sample's own prefixes."""
    for k in cut_points(sample):
        prefix = sample[:k]
        nxt = sample[k] if k < len(sample) else " "
        yield f"{prefix!r} repeated", (prefix * (size // len(prefix) + 1))[:size]
        yield f"{prefix!r} + {nxt!r}*", prefix + nxt * (size - len(prefix))
        for filler in ("a", "0", " ", ":"):
            if filler != nxt:
                yield f"{prefix!r} + {filler!r}*", prefix + filler * (size - len(prefix))
        unit = prefix + nxt * 40 + " "
        yield f"({prefix!r} + {nxt!r}*40) repeated", (unit * (size // len(unit) + 1))[:size]


def tag(i: int) -> str:
    """A short distinct word per line, so that no two hostile lines are the same (no cache helps)."""
    out = ""
    while True:
        out += "bcdfghjkmnpqrstvwxz"[i % 19]
        i //= 19
        if not i:
            return out


def hostile_log(sample: str, size: int) -> bytes:
    """`size` bytes of distinct lines, each a run of near-matches of `sample` (short, long, over-long lines)."""
    units = [sample[:k] for k in cut_points(sample)]
    lengths = (120, 1000, 5000, 20000, 70000)
    out: list[str] = []
    total = i = 0
    while total < size:
        unit = units[i % len(units)] + " "
        width = lengths[i % len(lengths)]
        line = (unit * (width // len(unit) + 1))[:width] + " " + tag(i) + "\n"
        out.append(line)
        total += len(line)
        i += 1
    return "".join(out).encode()[:size]


def one_long_line(sample: str, size: int = 64 << 10) -> bytes:
    """One line (no newline) of every prefix of the sample in turn."""
    units = "".join(sample[:k] + " " for k in cut_points(sample))
    return (units * (size // len(units) + 1)).encode()[:size]
