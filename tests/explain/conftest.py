"""Hypothesis profiles for the explain fuzz tests (tests/explain/test_fuzz.py, test_normalize.py).

With CI=true every fuzz test runs 10,000 examples (a few minutes in all); locally a few hundred.
Each example also has a deadline: explain and the normalizer must stay fast on any input, not only
finish. The profiles are applied per test (`settings(settings.get_profile(...))`), so the other
hypothesis tests of the suite keep their own sizes.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

CI = os.environ.get("CI") == "true"
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

settings.register_profile("explain-fuzz", max_examples=10_000 if CI else 300, deadline=timedelta(seconds=2),
                          suppress_health_check=_QUIET, print_blob=True)
"""explain_text on any text, bytes or list of lines."""
settings.register_profile("explain-normalize", max_examples=10_000 if CI else 1_000,
                          deadline=timedelta(milliseconds=500), suppress_health_check=_QUIET, print_blob=True)
"""The normalizer on any line."""
