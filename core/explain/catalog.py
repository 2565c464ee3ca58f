"""Provides load_catalog(): the cause catalog, read from the TOML files shipped beside this module.

Adding a cause is adding a [[cause]] table to catalog/*.toml plus a real message text in
tests/explain/real_messages.py; nothing in the code changes.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from vfio_tui.core.errors import HostDataError
from vfio_tui.core.explain.model import CauseEntry, Variant

_SEVERITIES = ("error", "warning", "info")


def _text(raw: Any, where: str, name: str, default: str | None = None) -> str:
    if raw is None and default is not None:
        return default
    if not isinstance(raw, str):
        raise HostDataError(f"catalog {where}: '{name}' must be a string")
    return raw.strip()


def _compile(rx: Any, where: str) -> re.Pattern[str]:
    if not isinstance(rx, str):
        raise HostDataError(f"catalog {where}: a pattern must be a string")
    try:
        return re.compile(rx)
    except re.error as exc:
        raise HostDataError(f"catalog {where}: bad regex {rx!r}: {exc}") from None


def _prose(text: str) -> str:
    """Explanations are prose: the TOML line wrapping is not part of the text."""
    return " ".join(text.split())


def _variant(raw: Any, where: str) -> Variant:
    if not isinstance(raw, dict) or not isinstance(raw.get("when"), dict):
        raise HostDataError(f"catalog {where}: a variant needs a 'when' table")
    when = tuple((str(k), _compile(v, where)) for k, v in raw["when"].items())
    opt = {k: (v.strip() if isinstance(v, str) else None) for k, v in raw.items() if k != "when"}
    explanation = opt.get("explanation")
    return Variant(when=when, title=opt.get("title"), explanation=_prose(explanation) if explanation else None,
                   fix=opt.get("fix"), check=opt.get("check"))


def parse_entry(raw: dict[str, Any], where: str) -> CauseEntry:
    """One [[cause]] table → CauseEntry (HostDataError on a malformed entry)."""
    cid = _text(raw.get("id"), where, "id")
    where = f"{where} {cid}"
    severity = raw.get("severity", "error")
    if severity not in _SEVERITIES:
        raise HostDataError(f"catalog {where}: severity must be one of {_SEVERITIES}")
    # a cause known only through source messages (inventory/mapping.toml) needs no patterns of its own
    keywords = raw.get("keywords", [])
    patterns = raw.get("patterns", [])
    if not isinstance(keywords, list) or any(k != str(k).lower() for k in keywords):
        raise HostDataError(f"catalog {where}: 'keywords' must be a list of lowercase strings")
    if not isinstance(patterns, list) or bool(keywords) != bool(patterns):
        raise HostDataError(f"catalog {where}: 'patterns' must be a list, given together with 'keywords'")
    check = raw.get("check") or None
    return CauseEntry(
        id=cid,
        title=_text(raw.get("title"), where, "title"),
        severity=severity,
        priority=int(raw.get("priority", 50)),
        keywords=tuple(str(k) for k in keywords),
        patterns=tuple(_compile(p, where) for p in patterns),
        explanation=_prose(_text(raw.get("explanation"), where, "explanation")),
        fix=_text(raw.get("fix"), where, "fix"),
        source=_text(raw.get("source"), where, "source"),
        check=str(check) if check else None,
        seed=_prose(_text(raw.get("seed"), where, "seed", "")),
        wrapper=bool(raw.get("wrapper", False)),
        standalone=bool(raw.get("standalone", True)),
        variants=tuple(_variant(v, where) for v in raw.get("variant", [])),
        could_be=tuple(str(c) for c in raw.get("could_be", [])),
        needs_vfio_context=bool(raw.get("needs_vfio_context", False)),
    )


@lru_cache(maxsize=1)
def load_catalog() -> tuple[CauseEntry, ...]:
    """Every cause of the shipped catalog, in file order."""
    entries: list[CauseEntry] = []
    folder = resources.files("vfio_tui.core.explain") / "catalog"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        try:
            data = tomllib.loads(item.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise HostDataError(f"catalog {item.name}: {exc}") from None
        for raw in data.get("cause", []):
            entries.append(parse_entry(raw, item.name))
    ids = [e.id for e in entries]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise HostDataError(f"catalog: duplicate cause ids {sorted(dupes)}")
    return tuple(entries)
