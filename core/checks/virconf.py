"""Provides a lossless reader/editor for libvirt's qemu.conf (the virConf format).

The grammar follows libvirt's own parser (src/util/virconf.c virConfParse()): statements
`name = value`, separated by newlines or ';'; `#` comments; values are numbers, '...' or
"..." strings (no escapes, no newlines), \"\"\"...\"\"\" strings, and [ lists ]. libvirt's
virConfGetValue() returns the FIRST entry of a name, so a duplicated key is decided by its
first occurrence. (One leniency: `#` comments inside a list are accepted.)
Every entry keeps its exact span, so edits change only those characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from vfio_tui.core.checks.textfile import ConfigParseError, LineIndex, line_of

Scalar: TypeAlias = int | str


@dataclass(frozen=True, slots=True)
class ConfItem:
    """One element of a list value, with its span."""

    value: Scalar
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class ConfEntry:
    """One `name = value` statement."""

    name: str
    start: int
    value_start: int
    value_end: int
    line: int
    value: Scalar | tuple[ConfItem, ...]

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, tuple)

    def scalars(self) -> list[Scalar]:
        """The value as a list of scalars (a scalar value gives a one-element list)."""
        if isinstance(self.value, tuple):
            return [i.value for i in self.value]
        return [self.value]


@dataclass(frozen=True)
class VirConf:
    """A parsed qemu.conf."""

    text: str
    entries: tuple[ConfEntry, ...]

    def get(self, name: str) -> ConfEntry | None:
        """The entry libvirt uses (the first one with this name)."""
        for e in self.entries:
            if e.name == name:
                return e
        return None

    def all(self, name: str) -> list[ConfEntry]:
        return [e for e in self.entries if e.name == name]

    def render(self) -> str:
        return self.text


class _Parser:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0
        self.n = len(text)
        self.line = LineIndex(text)

    def error(self, what: str) -> ConfigParseError:
        return ConfigParseError(what, line=line_of(self.t, min(self.i, self.n)))

    def peek(self) -> str:
        return self.t[self.i] if self.i < self.n else ""

    def skip_blanks(self) -> None:
        while self.i < self.n and self.t[self.i] in " \t":
            self.i += 1

    def skip_blanks_eol(self, comments: bool = False) -> None:
        while self.i < self.n:
            c = self.t[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif comments and c == "#":
                self.skip_comment()
            else:
                break

    def skip_comment(self) -> None:
        while self.i < self.n and self.t[self.i] not in "\r\n":
            self.i += 1

    def parse(self) -> VirConf:
        entries: list[ConfEntry] = []
        while self.i < self.n:
            self.skip_blanks_eol()
            if self.i >= self.n:
                break
            if self.peek() == "#":
                self.skip_comment()
            else:
                entries.append(self.statement())
            self.separator()
        return VirConf(self.t, tuple(entries))

    def separator(self) -> None:
        self.skip_blanks()
        if self.i >= self.n:
            return
        c = self.peek()
        if c in "\r\n":
            self.skip_blanks_eol()
        elif c == ";":
            self.i += 1
            self.skip_blanks_eol()
        else:
            raise self.error(f"expecting a separator (newline or ;), found {c!r}")

    def statement(self) -> ConfEntry:
        start = self.i
        if not (self.peek().isascii() and self.peek().isalpha()):
            raise self.error(f"expecting a setting name, found {self.peek()!r}")
        while self.i < self.n and self.t[self.i].isascii() and (self.t[self.i].isalnum() or self.t[self.i] == "_"):
            self.i += 1
        name = self.t[start:self.i]
        self.skip_blanks()
        if self.peek() != "=":
            raise self.error(f"expecting '=' after {name}")
        self.i += 1
        self.skip_blanks()
        vstart = self.i
        value = self.value(top=True)
        vend = self.i
        self.skip_blanks()
        if self.peek() == "#":
            self.skip_comment()
        return ConfEntry(name, start, vstart, vend, self.line(start), value)

    def value(self, top: bool) -> Scalar | tuple[ConfItem, ...]:
        if self.i >= self.n:
            raise self.error("expecting a value")
        c = self.peek()
        if c in "'\"":
            return self.string()
        if c == "[" and top:
            return self.list_value()
        if c.isascii() and (c.isdigit() or c in "+-"):
            return self.number()
        raise self.error(f"expecting a value, found {c!r}")

    def string(self) -> str:
        t = self.t
        if t.startswith('"""', self.i) and self.i + 6 < self.n:
            end = t.find('"""', self.i + 3)
            if end < 0:
                raise self.error('a """ string is never closed')
            value = t[self.i + 3:end]
            self.i = end + 3
            return value
        q = t[self.i]
        j = self.i + 1
        while j < self.n and t[j] != q and t[j] not in "\r\n":
            j += 1
        if j >= self.n or t[j] != q:
            raise self.error(f"a string opened with {q} is not closed on its line")
        value = t[self.i + 1:j]
        self.i = j + 1
        return value

    def number(self) -> int:
        j = self.i
        if self.t[j] in "+-":
            j += 1
        k = j
        while k < self.n and self.t[k].isascii() and self.t[k].isdigit():
            k += 1
        if k == j:
            raise self.error("a number without digits")
        if k - j > 19:  # libvirt reads a long long (virConfParseLong: strtoll); int() refuses > 4300 digits
            raise self.error("a number too large for libvirt (more than 19 digits)")
        value = int(self.t[self.i:k])
        self.i = k
        return value

    def list_value(self) -> tuple[ConfItem, ...]:
        self.i += 1
        items: list[ConfItem] = []
        self.skip_blanks_eol(comments=True)
        if self.peek() not in ("]", ""):
            items.append(self.item())
            self.skip_blanks_eol(comments=True)
        while self.i < self.n and self.peek() != "]":
            if self.peek() != ",":
                raise self.error("expecting ',' between list elements")
            self.i += 1
            self.skip_blanks_eol(comments=True)
            if self.peek() == "]":
                break
            items.append(self.item())
            self.skip_blanks_eol(comments=True)
        if self.peek() != "]":
            raise self.error("a list is not closed with ]")
        self.i += 1
        return tuple(items)

    def item(self) -> ConfItem:
        start = self.i
        v = self.value(top=False)
        assert not isinstance(v, tuple)
        return ConfItem(v, start, self.i)


def parse_virconf(text: str) -> VirConf:
    """Parse qemu.conf text. Raises ConfigParseError (with a line) where libvirt would fail too."""
    return _Parser(text).parse()


def comment_out(conf: VirConf, name: str, reason: str) -> str:
    """The text with every `name = ...` statement commented out, a `# reason` line above each."""
    text = conf.text
    for e in sorted(conf.all(name), key=lambda x: -x.start):
        line_start = max(text.rfind("\n", 0, e.start), text.rfind("\r", 0, e.start)) + 1
        if text[line_start:e.start].strip(" \t"):
            raise ConfigParseError(f"{name} shares its line with another statement; edit it by hand", line=e.line)
        eol = re.compile(r"[\r\n]").search(text, e.value_end)
        line_end = eol.start() if eol else len(text)
        rest = text[e.value_end:line_end].strip(" \t\r")
        if rest and not rest.startswith("#"):
            raise ConfigParseError(f"{name} shares its line with another statement; edit it by hand", line=e.line)
        block = text[line_start:line_end]
        # libvirt ends a comment at \r as well as \n: every physical line gets its own '#'.
        pieces = re.split(r"(\r\n|\r|\n)", block)
        commented = "".join(p if k % 2 else "#" + p for k, p in enumerate(pieces))
        indent = text[line_start:e.start]
        text = text[:line_start] + f"{indent}# {reason}\n" + commented + text[line_end:]
    return text


def remove_list_items(conf: VirConf, name: str, values: set[str]) -> str:
    """The text with the given string elements removed from the list `name` (its effective, first entry)."""
    text = conf.text
    while True:
        entry = parse_virconf(text).get(name)
        if entry is None or not isinstance(entry.value, tuple):
            return text
        items = entry.value
        idx = next((k for k, it in enumerate(items) if isinstance(it.value, str) and it.value in values), None)
        if idx is None:
            return text
        it = items[idx]
        if idx > 0:
            lo, hi = items[idx - 1].end, it.end
        elif len(items) > 1:
            lo, hi = it.start, items[1].start
        else:
            lo, hi = it.start, it.end
            j = hi
            while j < len(text) and text[j] in " \t\r\n":
                j += 1
            if j < len(text) and text[j] == ",":
                hi = j + 1
        if "#" in text[lo:it.start] or "#" in text[it.end:hi]:
            raise ConfigParseError(f"a comment sits next to {it.value!r} in {name}; edit it by hand",
                                   line=line_of(text, it.start))
        text = text[:lo] + text[hi:]
