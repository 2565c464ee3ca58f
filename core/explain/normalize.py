"""Provides normalize_line(), join_wrapped() and safe_text(): logs as people paste them, made matchable.

Applied once per candidate line, before any pattern runs: terminal escape sequences (CSI incl. the
8-bit C1 form U+009B, OSC, other ESC sequences) are removed; typographic quotes and dashes that web
pages and chat tools substitute (’ “ ” – — …) become ASCII; NBSP and zero-width characters become a
space or nothing; CRLF ends are dropped; remaining C0/C1 controls become spaces (so nothing that came
from a log can drive a terminal or Textual markup); a journald JSON export record or a KubeVirt /
virt-launcher JSON line is replaced by its message fields, and `journalctl -o verbose`'s
"MESSAGE=" prefix is dropped. Every step is idempotent (tests/explain/test_normalize.py).
"""

from __future__ import annotations

import itertools
import json
import re

#: ESC/CSI/OSC sequences: ESC [ ... final, the 8-bit CSI U+009B ... final, ESC ] ... BEL/ST, ESC + one
#: char. Bounded repetitions keep this linear on hostile input (a lone ESC followed by 1 MB of digits).
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]{0,64}[ -/]{0,16}[@-~]?"
    r"|\][^\x07\x1b\x9c]{0,4096}(?:\x07|\x1b\\|\x9c)?"
    r"|[PX^_][^\x1b\x9c]{0,4096}(?:\x1b\\|\x9c)?"
    r"|[ -/]{0,4}[0-~]?)"
    r"|\x9b[0-?]{0,64}[ -/]{0,16}[@-~]?"
)
#: C0/C1 controls (but tab), line/paragraph separators, and the bidirectional overrides/isolates that can
#: make a terminal show text in another order than it is ("Trojan source").
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TYPO = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u2009": " ", "\u200a": " ", "\u3000": " ", "\t": " ",
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
    "\u2026": "...", "\ufffc": " ",
})
#: JSON fields that carry the text of a record: journald (MESSAGE), KubeVirt/virt-launcher and
#: Go loggers (msg, reason, error, err), Incus/LXD (err), cloud log exports (message, log).
_JSON_TEXT = ("MESSAGE", "msg", "message", "log", "reason", "error", "err")
_JSON_MAX = 256 << 10
#: Go-quoted errors inside a log line (KubeVirt's "LibvirtError(... Message='...\\nPlease ensure...')")
_QUOTED_ESCAPES = re.compile(r'(?<!\\)\\{1,8}(?:n|")')
_SPACES = re.compile(r" {2,}+")
_VERBOSE = re.compile(r"^\s{2,64}MESSAGE=")
_RECORD_START = re.compile(
    r"^\s{0,64}(?:\[\s{0,12}\d{1,12}\.\d{1,9}\]|\[\w{3} \w{3} [ \d]\d [\d:]{8} \d{4}\]|\d{4}-\d\d-\d\d[T ]|"
    r"\w{3} [ \d]\d [\d:]{8} |"
    r"\d{2}:\d{2}:\d{2}|error:|warning:|ERROR|WARN|INFO|DEBUG|TASK |kvm:|qemu-|libvirt|virsh|\{|<\d>|"
    r"type=\w{1,32} msg=|Traceback|  File \"|\w[\w.-]{0,64}(?:\[\d{1,10}\])?: |[\w.]{1,64}Error: |#|\$ |"
    r"\w{1,64} \d{1,10}: )"
)


def safe_text(text: str) -> str:
    """Text from a log made inert for a terminal or markup: escape sequences removed, controls → space."""
    if text.isascii() and text.isprintable():
        return text
    return _CONTROLS.sub(" ", _ESCAPES.sub("", text))


def safe_multiline(text: str) -> str:
    """Like safe_text() for a whole log: its line breaks are kept (CRLF becomes LF)."""
    text = text.replace("\r\n", "\n")
    return _CONTROLS_BUT_NEWLINE.sub(" ", _ESCAPES.sub("", text))


def _from_json(line: str) -> str | None:
    """The message fields of a JSON log record, or None when the line is not one."""
    at = line.find("{")
    if at < 0 or at > 200 or len(line) > _JSON_MAX or not line.rstrip().endswith("}"):
        return None
    try:
        obj = json.loads(line[at:])
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested deeper than the parser's stack
        return None
    if not isinstance(obj, dict):
        return None
    parts: list[str] = []
    for key in _JSON_TEXT:
        value = obj.get(key)
        if isinstance(value, list) and value and all(isinstance(b, int) and 0 <= b < 256 for b in value):
            value = bytes(value).decode("utf-8", errors="replace")  # journald: non-UTF-8 MESSAGE as bytes
        if isinstance(value, str) and value and value not in parts:
            parts.append(value)
    if not parts:
        return None
    prefix = line[:at].strip()
    return (prefix + " " if prefix else "") + ": ".join(parts)


def normalize_line(line: str) -> str:
    """One physical line → the text patterns are matched against (see the module docstring).

    Idempotent: unwrapping a JSON record or a Go-quoted string can reveal another one, so the steps are
    repeated (at most MAX_PASSES times) while they change a line that still holds such a structure.
    """
    out = _normalize_once(line)
    passes = 1
    while out != line and passes < MAX_PASSES and ("{" in out or "\\" in out or "MESSAGE=" in out):
        line, out = out, _normalize_once(out)
        passes += 1
    return out


MAX_PASSES = 4


def _normalize_once(line: str) -> str:
    if "\x1b" in line or "\x9b" in line:
        line = _ESCAPES.sub("", line)
    if not line.isascii():
        line = line.translate(_TYPO)
    line = line.rstrip("\r\n")
    if not line.isprintable():  # before JSON: a raw control inside a JSON string makes it invalid JSON
        line = _CONTROLS.sub(" ", line)
    if "{" in line and ('"MESSAGE"' in line or '"msg"' in line or '"message"' in line or '"log"' in line):
        unwrapped = _from_json(line)
        if unwrapped is not None:
            line = normalize_line(unwrapped)  # the message itself may carry escapes or typography
    if "\\" in line and ("\\n" in line or '\\"' in line):
        line = _QUOTED_ESCAPES.sub(lambda m: " " if m.group(0).endswith("n") else '"', line)
    if line.startswith("  ") and _VERBOSE.match(line):
        line = _VERBOSE.sub("", line, count=1)
    if "  " in line:  # web pages collapse runs of spaces; so do we (formats are collapsed the same way)
        line = _SPACES.sub(" ", line)
    return line


def is_record_start(line: str) -> bool:
    """Does this physical line begin a new log record (a timestamp, a program prefix, a JSON object)?"""
    return bool(_RECORD_START.match(line))


def join_wrapped(lines: list[str]) -> str:
    """Physical lines of one wrapped record → one line.

    A terminal or `fold` cuts at a fixed column, possibly inside a word (joined without a space when
    the line is exactly 80/100/120... columns); a browser or e-mail client wraps at a space (joined with one).
    """
    out = lines[0].rstrip()
    for prev, line in itertools.pairwise(lines):
        cut_mid_word = len(prev) in (79, 80, 100, 120, 132, 160) and prev[-1:].strip() and line[:1].strip()
        out += ("" if cut_mid_word else " ") + line.strip()
    return out
