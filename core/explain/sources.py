"""Provides the message inventory from the sources and its mapping to causes.

core/explain/inventory/{linux,libvirt,qemu,xen}.json are extracted from the real trees by
scripts/explain_inventory.py (format string, file, function, call, severity, versions);
wrappers.json is curated by hand (virsh, virt-manager, Proxmox, KubeVirt, Incus/LXD, xl) with the
same fields. mapping.toml maps every message, by ordered rules, to a cause of the catalog, to
"context" (a line that supports a cause but is not one) or to "benign" (never a finding), each
with a reason. A message a cause claims is recognised in logs by a FormatMatcher built from its
format string, so mapping a message is all it takes for explain to know it.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from vfio_tui.core.errors import HostDataError
from vfio_tui.core.explain.fmtmatch import MIN_LITERAL, FormatMatcher

Kind = Literal["cause", "context", "benign", "unmapped"]
FAILURE = ("error", "warning")
"""Severities that count as failure messages in the coverage numbers."""


@dataclass(frozen=True)
class Message:
    """One message of the inventory, with its provenance."""

    id: str
    project: str
    file: str
    function: str
    call: str
    format: str
    severity: str
    kind: str
    versions: tuple[str, ...]

    @property
    def errno_tail(self) -> bool:
        return self.kind == "errno"


@dataclass(frozen=True)
class Rule:
    target: str
    """A cause id, "context", or "benign"."""
    reason: str
    format: re.Pattern[str] | None
    project: str | None
    file: str | None
    function: re.Pattern[str] | None
    severity: tuple[str, ...]
    requires: str | None
    supports: str | None


@dataclass(frozen=True)
class Mapping:
    message: Message
    kind: Kind
    cause: str | None
    """The cause id (kind "cause"), or the cause a context line supports."""
    reason: str
    requires: str | None = None
    """A lowercase literal the line must also contain (a VFIO prefix for short generic formats)."""


@dataclass(frozen=True)
class MessageMatcher:
    """A mapped message as the scanner uses it."""

    matcher: FormatMatcher
    mapping: Mapping


def _files() -> list[Any]:
    folder = resources.files("vfio_tui.core.explain") / "inventory"
    return sorted((p for p in folder.iterdir() if p.name.endswith(".json")), key=lambda p: p.name)


@lru_cache(maxsize=1)
def load_inventory() -> tuple[Message, ...]:
    """Every message of the committed inventory."""
    out: list[Message] = []
    for item in _files():
        try:
            doc = json.loads(item.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise HostDataError(f"inventory {item.name}: {exc}") from None
        for raw in doc.get("messages", []):
            out.append(Message(
                id=str(raw["id"]), project=str(raw["project"]), file=str(raw["file"]),
                function=str(raw.get("function", "")), call=str(raw.get("call", "")), format=str(raw["format"]),
                severity=str(raw.get("severity", "error")), kind=str(raw.get("kind", "plain")),
                versions=tuple(str(v) for v in raw.get("versions", [])),
            ))
    return tuple(out)


def _rule(raw: dict[str, Any], where: str) -> Rule:
    try:
        target = str(raw["map"])
        reason = str(raw["reason"])
        fmt = re.compile(raw["format"]) if "format" in raw else None
        func = re.compile(raw["function"]) if "function" in raw else None
    except (KeyError, re.error) as exc:
        raise HostDataError(f"mapping {where}: {exc}") from None
    sev = raw.get("severity", [])
    return Rule(target, reason, fmt, raw.get("project"), raw.get("file"), func,
                tuple([sev] if isinstance(sev, str) else sev), raw.get("requires"), raw.get("supports"))


@lru_cache(maxsize=1)
def load_rules() -> tuple[Rule, ...]:
    text = (resources.files("vfio_tui.core.explain") / "inventory" / "mapping.toml").read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise HostDataError(f"mapping.toml: {exc}") from None
    return tuple(_rule(r, f"rule {i}") for i, r in enumerate(data.get("rule", []), 1))


def _applies(rule: Rule, msg: Message) -> bool:
    if rule.project and rule.project != msg.project:
        return False
    if rule.file and not fnmatch.fnmatch(msg.file, rule.file):
        return False
    if rule.function and not rule.function.search(msg.function):
        return False
    if rule.severity and msg.severity not in rule.severity:
        return False
    return not (rule.format and not rule.format.search(msg.format))


def map_message(msg: Message, rules: tuple[Rule, ...] | None = None) -> Mapping:
    """The first rule that applies decides; without one a failure message is "unmapped"."""
    for rule in rules if rules is not None else load_rules():
        if not _applies(rule, msg):
            continue
        if rule.target not in ("context", "benign") and not rule.severity and msg.severity not in FAILURE:
            continue  # an info/debug line is a cause only where a rule says so explicitly
        if rule.target in ("context", "benign"):
            return Mapping(msg, rule.target, rule.supports, rule.reason, rule.requires)  # type: ignore[arg-type]
        matcher = FormatMatcher(msg.format, errno_tail=msg.errno_tail)
        if matcher.literal < MIN_LITERAL and not rule.requires:
            return Mapping(msg, "unmapped", None, f"too generic to recognise alone ({matcher.literal} literal "
                           f"characters) and the rule gives no 'requires'")
        return Mapping(msg, "cause", rule.target, rule.reason, rule.requires)
    if msg.severity not in FAILURE:
        return Mapping(msg, "benign", None, f"{msg.severity} message: printed on healthy hosts too")
    return Mapping(msg, "unmapped", None, "no rule")


@lru_cache(maxsize=1)
def mappings() -> tuple[Mapping, ...]:
    rules = load_rules()
    return tuple(map_message(m, rules) for m in load_inventory())


@lru_cache(maxsize=1)
def message_matchers() -> tuple[MessageMatcher, ...]:
    """Matchers for every message mapped to a cause or to context."""
    out: list[MessageMatcher] = []
    for mp in mappings():
        if mp.kind not in ("cause", "context"):
            continue
        matcher = FormatMatcher(mp.message.format, errno_tail=mp.message.errno_tail)
        if mp.kind == "context" and matcher.literal < MIN_LITERAL and not mp.requires:
            continue
        if not matcher.words():
            continue
        out.append(MessageMatcher(matcher, mp))
    return tuple(out)
