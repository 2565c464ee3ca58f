"""Where the committed test fixtures are. Recorded hosts and real-kernel transcripts are copied from
../shared/lab so that every test but the lab stage runs without ../shared (see tests/fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures"
RECORDED = FIXTURES / "recorded"
LAB_RESULTS = FIXTURES / "lab-results"
SHARED = REPO_ROOT.parent / "shared"
