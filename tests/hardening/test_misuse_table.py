"""The misuse table: every subcommand × bad inputs × environments → one line, a documented exit code,
never a traceback, never a hang; every hint names the host in use. Prints the table and its counts
(run with -s to see them)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

from tests.hardening.inproc import hinted_commands
from tests.hardening.misuse import ANY, DOCUMENTED, Case, cases
from tests.hardening.misuse_envs import ENVS, Env, Workspace
from vfio_tui.tui.cli.registry import COMMANDS

CATEGORIES = ("missing-args", "extra-args", "bad-option", "bad-address", "unknown-vm", "bad-run", "file", "valid",
              "write")


def judge(case: Case, env: Env, r: dict[str, Any]) -> str:
    """"" when the case behaved as promised, else why not."""
    if r["code"] is None and not r["hang"]:
        return "the worker died: " + str(r["escaped"] or r["err"])[-300:]
    if r["hang"]:
        return "hung (no answer within the time limit)"
    if r["escaped"]:
        return "escaped main(): " + str(r["escaped"]).strip().splitlines()[-1]
    text = r["out"] + r["err"]
    if "Traceback (most recent call last)" in text:
        return "printed a traceback"
    if "internal error" in r["err"]:
        return f"exit {r['code']}: " + _first(r["err"], "internal error")
    if r["code"] not in DOCUMENTED:
        return f"undocumented exit {r['code']}"
    expect = ANY if not env.as_nobody and ("unreadable" in case.detail or "unwritable" in case.detail) else case.expect
    if r["code"] not in expect:
        return f"exit {r['code']}, expected {sorted(expect)}: " + str(r["err"].strip()[-200:] or r["out"][:200])
    if "out of memory" in r["err"]:
        return "read an endless or huge input into memory: " + _first(r["err"], "error:")
    if r["code"] == 2:
        errors = [line for line in r["err"].splitlines() if line.startswith("vfio-tui") and "error:" in line]
        if len(errors) != 1 or "usage:" in r["err"]:
            return f"not one error line: {r['err'][:300]!r}"
    if "--root" in r["argv"] and "--json" not in r["argv"]:
        root = r["argv"][r["argv"].index("--root") + 1]
        # A diff shows a file's content as it is (the persist files' own header names commands): not hints.
        said = "\n".join(line for line in text.splitlines() if not line.startswith(("+", "-", "@@")))
        for hint in hinted_commands(said):
            if f"--root {root}" not in hint:
                return f"a hint without the host: {hint!r}"
    return ""


def _first(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), text[:200])[:300]


@pytest.fixture(scope="module")
def table() -> dict[str, list[tuple[Case, dict[str, Any], str]]]:
    all_cases = list(cases())
    out: dict[str, list[tuple[Case, dict[str, Any], str]]] = {}
    for env in ENVS:
        mine = [c for c in all_cases if not c.envs or env.name in c.envs]
        ws = Workspace(env)
        try:
            results = ws.run(mine)
        finally:
            ws.close()
        out[env.name] = [(c, results[f"{i}|{c.ident}"], judge(c, env, results[f"{i}|{c.ident}"]))
                         for i, c in enumerate(mine)]
    return out


@pytest.mark.slow
def test_misuse_table(table: dict[str, list[tuple[Case, dict[str, Any], str]]],
                      capsys: pytest.CaptureFixture[str]) -> None:
    cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    failures: list[str] = []
    owned: list[str] = []
    per_env: dict[str, Counter[str]] = defaultdict(Counter)
    for env_name, rows in table.items():
        for case, r, why in rows:
            verdict = "ok" if not why else ("theirs" if case.owner else "FAIL")
            cells[(case.command, case.category)][verdict] += 1
            per_env[env_name][verdict] += 1
            line = f"[{env_name}] {case.command} {case.category} {case.detail}: {why}"
            if verdict == "FAIL":
                failures.append(line + f"\n      argv: {r['argv'][:8]}")
            elif verdict == "theirs":
                owned.append(line + f" (owner: {case.owner})")
    n_cases = max(len(rows) for rows in table.values())
    with capsys.disabled():
        print(f"\nmisuse table: {n_cases} distinct inputs × {len(table)} environments = "
              f"{sum(sum(c.values()) for c in per_env.values())} runs")
        print(f"{'command':<12}" + "".join(f"{c[:11]:>12}" for c in CATEGORIES))
        for command in COMMANDS:
            row = ""
            for cat in CATEGORIES:
                c = cells.get((command, cat))
                shown = f"{c['ok']}/{sum(c.values())}" if c else "-"
                row += f"{shown:>12}"
            print(f"{command:<12}{row}")
        for env_name, c in per_env.items():
            print(f"  {env_name:<12} ok {c['ok']}, another engineer's {c['theirs']}, failed {c['FAIL']}")
        for line in owned:
            print(f"  xfail {line}")
        for line in failures[:60]:
            print(f"  FAIL {line}")
    assert not failures, f"{len(failures)} misuse cases broke their promise (first: {failures[0]})"
