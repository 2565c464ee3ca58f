"""Provides build_index(): word -> the catalog keywords and source messages whose text holds it, so that a
candidate line is tried only against the few causes and messages that could be in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vfio_tui.core.explain.model import CauseEntry
from vfio_tui.core.explain.sources import MessageMatcher

WORDS = re.compile(r"[a-z0-9]{3,}+")


@dataclass(frozen=True)
class IndexItem:
    entry: CauseEntry | None
    keyword: str
    message: MessageMatcher | None = None


@dataclass(frozen=True)
class Index:
    by_word: dict[str, tuple[IndexItem, ...]]
    causes: dict[str, CauseEntry]


def _rarest(words: list[str], freq: dict[str, int]) -> str:
    return min(words, key=lambda w: (freq.get(w, 0), -len(w)))


@lru_cache(maxsize=4)
def build_index(catalog: tuple[CauseEntry, ...], messages: tuple[MessageMatcher, ...]) -> Index:
    """Word → the catalog keywords and source messages that contain it (each under its rarest word)."""
    freq: dict[str, int] = {}
    kw_words = {k: WORDS.findall(k) for e in catalog for k in e.keywords}
    msg_words = [m.matcher.words() for m in messages]
    for words in [*kw_words.values(), *msg_words]:
        for w in set(words):
            freq[w] = freq.get(w, 0) + 1
    by_word: dict[str, list[IndexItem]] = {}
    for entry in catalog:
        for k in entry.keywords:
            words = kw_words[k]
            if not words:
                raise ValueError(f"catalog {entry.id}: keyword {k!r} has no word of 3+ letters to index")
            # under every word: pasted 2015 texts glue words together ("setupcontainer for group19")
            for w in set(words):
                by_word.setdefault(w, []).append(IndexItem(entry, k))
    causes = {e.id: e for e in catalog}
    for mm, words in zip(messages, msg_words, strict=True):
        target = causes.get(mm.mapping.cause or "") if mm.mapping.kind == "cause" else None
        if mm.mapping.kind == "cause" and target is None:
            raise ValueError(f"mapping: {mm.mapping.message.id} names unknown cause {mm.mapping.cause}")
        by_word.setdefault(_rarest(words, freq), []).append(IndexItem(target, "", mm))
    return Index({w: tuple(items) for w, items in by_word.items()}, causes)
