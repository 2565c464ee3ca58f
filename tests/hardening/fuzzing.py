"""Hypothesis settings for the parser fuzzing: 10,000 examples per parser in CI (CI=true), a few hundred
locally; no hypothesis deadline (a loaded CI machine makes them flaky) — a hang is caught by `bounded`
instead, which fails an example that takes longer than it could on any input of its size."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from hypothesis import HealthCheck, settings

CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10000" if CI else "300"))
settings.register_profile("hardening-fuzz", max_examples=EXAMPLES, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck), print_blob=True)
FUZZ = settings.get_profile("hardening-fuzz")
SLOWEST = 2.0
"""Seconds one example may take (inputs are at most a few KiB: anything near this is a hang)."""
COUNTS: Counter[str] = Counter()
"""Examples run per parser, printed by the report test."""

F = TypeVar("F", bound=Callable[..., object])


@contextmanager
def bounded(parser: str) -> Iterator[None]:
    """Count one example of `parser` and fail it when it takes too long."""
    COUNTS[parser] += 1
    t0 = time.perf_counter()
    yield
    took = time.perf_counter() - t0
    assert took < SLOWEST, f"{parser}: one example took {took:.2f} s"
