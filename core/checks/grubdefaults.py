"""Provides a lossless reader/editor for /etc/default/grub (a shell fragment grub-mkconfig sources).

The file is shell, so the reader tokenizes it as the shell would: quotes may span lines,
`#` starts a comment only at the start of a word, backslashes escape. It finds every
`NAME=value` assignment with the exact character span of its value, so an edit touches
only those characters and everything else stays byte-for-byte. A file whose quoting does
not close (a half-edited line) is refused with the line where the quote opened.
When a name is assigned twice the shell keeps the last value, so reads and edits use the last.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from vfio_tui.core.checks.textfile import ConfigParseError, LineIndex, line_of

Quoting: TypeAlias = Literal["double", "single", "bare", "empty", "mixed"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_WORD_END = frozenset(" \t\r\n;&|()<>")
"""\r counts as a blank: a file saved with CRLF line ends still reads as the author meant."""
_COMMAND_WORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{", "export",
                            "readonly", "local"})
#: Characters that are safe inside "..." without escaping (no expansion, no quote end).
_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.,:=/+@%-]+")


@dataclass(frozen=True, slots=True)
class ShellAssignment:
    """One `NAME=value` in the file."""

    name: str
    start: int
    """Offset of the name."""
    value_start: int
    value_end: int
    """The value's span in the text (quotes included)."""
    line: int
    quoting: Quoting
    literal: str | None
    """The value after quote removal, or None when it expands something ($VAR, $(...), `...`)."""
    raw: str
    template: str = ""
    """The value after quote removal with expansions kept as written ("${GRUB_CMDLINE_LINUX} quiet")."""
    conditional: str = ""
    """Why this assignment may not run, when it may not: inside `if`/`case`/a loop/a function or
    block, or after `&&`/`||` ("inside if (line 3)"). Empty: it runs whenever the file is sourced."""


@dataclass(frozen=True)
class GrubDefaults:
    """A parsed /etc/default/grub: the text and every assignment in it."""

    text: str
    assignments: tuple[ShellAssignment, ...]

    def last(self, name: str) -> ShellAssignment | None:
        found = [a for a in self.assignments if a.name == name]
        return found[-1] if found else None

    def count(self, name: str) -> int:
        return sum(1 for a in self.assignments if a.name == name)

    def value(self, name: str) -> str | None:
        """The value the shell ends up with (None when unset). $VAR and ${VAR} are expanded from
        earlier assignments in the file; command substitutions stay as written."""
        if self.last(name) is None:
            return None
        return self.evaluate({})[name]

    def evaluate(self, env: dict[str, str]) -> dict[str, str]:
        """The variables after sourcing this file with `env` already set (grub-mkconfig sources
        /etc/default/grub, then /etc/default/grub.d/*.cfg, in one shell)."""
        env = dict(env)
        for a in self.assignments:
            env[a.name] = _VAR_REF.sub(lambda m: env.get(m.group(1) or m.group(2), ""), a.template)
        return env

    def render(self) -> str:
        return self.text


def parse_grub_defaults(text: str) -> GrubDefaults:
    """Parse the file. Raises ConfigParseError (with a line) when quoting does not close."""
    assignments: list[ShellAssignment] = []
    i, n = 0, len(text)
    line = LineIndex(text)
    command_start = True
    blocks: list[tuple[str, int]] = []
    """The compound commands open here (if, case, loops, { }, ( )) with their line: what is inside
    one runs only if its condition (or a call, for a function body) says so."""
    and_or: int | None = None
    """The line of a `&&`/`||` whose right side is being read (None: not after one)."""
    dangling = False
    """A `&&`/`||` with no command after it yet."""
    while i < n:
        c = text[i]
        if c in " \t\r":
            i += 1
            continue
        if text.startswith("\\\n", i):  # a line continuation between words
            if i + 2 >= n:
                raise ConfigParseError("the last line ends with a backslash (continues into nothing)",
                                       line=line_of(text, i))
            i += 2
            continue
        if c in "\n;&|(){":
            if text.startswith(("&&", "||"), i):
                and_or = line(i)
                dangling = True
                i += 2
                command_start = True
                continue
            if c in "\n;" and and_or is not None and not _continues(text, i):
                and_or = None
            if c in "({":
                blocks.append((c, line(i)))
            elif c == ")" and blocks and blocks[-1][0] == "(":
                blocks.pop()  # in a `case`, `pattern)` closes nothing
            command_start = True
            i += 1
            continue
        if c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if command_start:
            m = _NAME.match(text, i)
            if m is not None:
                vstart = m.end()
                vend, quoting, template, expands = _scan_word(text, vstart)
                dangling = False
                assignments.append(ShellAssignment(
                    name=m.group()[:-1], start=i, value_start=vstart, value_end=vend,
                    line=line(i), quoting=quoting, literal=None if expands else template,
                    raw=text[vstart:vend], template=template, conditional=_why_conditional(blocks, and_or)))
                i = vend
                # `A=1 B=2 cmd`: further assignments may follow on the same command.
                continue
        start = i
        i = _scan_word(text, i)[0]
        if i == start:  # a lone special character such as '>'
            i += 1
        word = text[start:i]
        dangling = False
        if command_start and word in _OPENERS:
            blocks.append((word, line(start)))
        elif command_start and word in _CLOSERS and blocks and (
                blocks[-1][0] == _CLOSERS[word] or (word == "done" and blocks[-1][0] in _LOOPS)):
            blocks.pop()
        command_start = word in _COMMAND_WORDS
    if blocks:
        # The shell stops with a syntax error here (grub-mkconfig too), and a line appended to such a
        # file would land inside the open block.
        kind, opened = blocks[-1]
        closer = {"{": "}", "(": ")", "if": "fi", "case": "esac"}.get(kind, "done")
        raise ConfigParseError(f"`{kind}` is opened here and never closed (no `{closer}`)", line=opened)
    if dangling and and_or is not None:
        raise ConfigParseError("the file ends with && or || (the shell expects another command)", line=and_or)
    return GrubDefaults(text, tuple(assignments))


_OPENERS = frozenset({"if", "case", "while", "until", "for", "select"})
_CLOSERS = {"fi": "if", "esac": "case", "done": "while", "}": "{"}
_LOOPS = frozenset({"while", "until", "for", "select"})


def _continues(text: str, i: int) -> bool:
    """Whether the newline or `;` at i ends a line whose last operator was && or || (the list goes on)."""
    j = i - 1
    while j >= 0 and text[j] in " \t\r":
        j -= 1
    return j >= 1 and text[j - 1:j + 1] in ("&&", "||")


def _why_conditional(blocks: list[tuple[str, int]], and_or: int | None) -> str:
    if blocks:
        kind, line = blocks[-1]
        what = {"{": "a { } block or function body", "(": "a ( ) subshell or function"}.get(kind, kind)
        return f"inside {what} (line {line})"
    if and_or is not None:
        return f"after && or || (line {and_or})"
    return ""


def _scan_word(text: str, i: int) -> tuple[int, Quoting, str, bool]:
    """Scan one shell word from i; returns (end, quoting, value with expansions as written, expands)."""
    n = len(text)
    parts: list[str] = []
    kinds: list[str] = []
    expands = False
    while i < n and text[i] not in _WORD_END:
        c = text[i]
        if c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                raise ConfigParseError("a single quote (') is opened here and never closed",
                                       line=line_of(text, i))
            parts.append(text[i + 1:j])
            kinds.append("single")
            i = j + 1
        elif c == '"':
            j, value, exp = _scan_double(text, i)
            parts.append(value)
            kinds.append("double")
            expands = expands or exp
            i = j
        elif c == "\\":
            if i + 1 >= n or (i + 2 >= n and text[i + 1] == "\n"):
                raise ConfigParseError("the last line ends with a backslash (continues into nothing)",
                                       line=line_of(text, i))
            if text[i + 1] != "\n":
                parts.append(text[i + 1])
            i += 2
            kinds.append("bare")
        elif c == "`":
            j = text.find("`", i + 1)
            if j < 0:
                raise ConfigParseError("a backquote (`) is opened here and never closed", line=line_of(text, i))
            expands = True
            kinds.append("bare")
            parts.append(text[i:j + 1])
            i = j + 1
        elif c == "$":
            expands = True
            kinds.append("bare")
            j = _scan_parens(text, i + 1) if text.startswith("$(", i) else i + 1
            parts.append(text[i:j])
            i = j
        else:
            parts.append(c)
            kinds.append("bare")
            i += 1
    end = min(i, n)
    if not kinds:
        return end, "empty", "", False
    distinct = set(kinds)
    quoting: Quoting = kinds[0] if len(distinct) == 1 and len(kinds) == 1 else (  # type: ignore[assignment]
        "bare" if distinct == {"bare"} else "mixed")
    return end, quoting, "".join(parts), expands


def _scan_double(text: str, i: int) -> tuple[int, str, bool]:
    """A "..." string starting at i: (end after the closing quote, value, whether it expands)."""
    n = len(text)
    j = i + 1
    out: list[str] = []
    expands = False
    while j < n:
        c = text[j]
        if c == '"':
            return j + 1, "".join(out), expands
        if c == "\\" and j + 1 < n:
            nxt = text[j + 1]
            if nxt in '"\\$`':
                out.append(nxt)
            elif nxt != "\n":
                out.append(c + nxt)
            j += 2
            continue
        if c == "$":
            expands = True
            if text.startswith("$(", j):
                k = _scan_parens(text, j + 1)
                out.append(text[j:k])
                j = k
                continue
        if c == "`":
            expands = True
            k = text.find("`", j + 1)
            if k < 0:
                break
            out.append(text[j:k + 1])
            j = k + 1
            continue
        out.append(c)
        j += 1
    raise ConfigParseError('a double quote (") is opened here and never closed', line=line_of(text, i))


def _scan_parens(text: str, i: int) -> int:
    """From the '(' of a $( ... ): the offset after its matching ')'."""
    depth = 0
    j = i
    n = len(text)
    while j < n:
        c = text[j]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        elif c in "'\"":
            k = text.find(c, j + 1)
            if k < 0:
                break
            j = k
        j += 1
    raise ConfigParseError("a $( is opened here and never closed", line=line_of(text, i))


def add_kernel_param(doc: GrubDefaults, name: str, param: str) -> str:
    """The file text with `param` appended to the value of `name` (the last assignment).

    Raises:
        ConfigParseError: the value's quoting cannot be edited safely, or `param` needs quoting.
    """
    if not _SAFE_TOKEN.fullmatch(param):
        raise ConfigParseError(f"refusing to add {param!r}: it would need shell quoting")
    text = doc.text
    a = doc.last(name)
    if a is not None and a.conditional:
        # Which branch grub-mkconfig runs depends on a condition vfio-tui does not evaluate: an edit
        # of "the last assignment" could land in the branch that never runs (and report success).
        # An unconditional assignment after it would decide alone, and is edited as usual.
        raise ConfigParseError(conditional_reason(a), line=a.line)
    if a is None:
        from vfio_tui.core.checks.textfile import append_line

        return append_line(text, f'{name}="{param}"')
    if a.quoting == "empty":
        return text[:a.value_start] + f'"{param}"' + text[a.value_end:]
    if a.quoting in ("double", "single"):
        inner = text[a.value_start + 1:a.value_end - 1]
        sep = "" if not inner or inner[-1] in " \t" else " "
        return text[:a.value_end - 1] + sep + param + text[a.value_end - 1:]
    if a.quoting == "bare" and a.literal is not None and _SAFE_TOKEN.fullmatch(a.raw):
        return text[:a.value_start] + f'"{a.raw} {param}"' + text[a.value_end:]
    raise ConfigParseError(f"{name} is written as {a.raw!r}; refusing to guess how to extend it",
                           line=a.line)


def conditional_reason(a: ShellAssignment) -> str:
    """Why an edit of a conditional assignment is refused."""
    return (f"{a.name} is assigned {a.conditional}: which value grub-mkconfig uses depends on that condition,"
            " so vfio-tui does not edit it")


def remove_kernel_param(doc: GrubDefaults, name: str, param: str) -> str:
    """The text with every exact word `param` removed from the assignments of `name` (quoted values only)."""
    text = doc.text
    for a in sorted((x for x in doc.assignments if x.name == name), key=lambda x: -x.start):
        if a.quoting not in ("double", "single"):
            if a.literal is not None and param in a.literal.split():
                raise ConfigParseError(f"{name} is written as {a.raw!r}; refusing to edit it", line=a.line)
            continue
        inner = text[a.value_start + 1:a.value_end - 1]
        new_inner = _drop_word(inner, param)
        if new_inner != inner and inner.startswith(param) and new_inner[:1] in (" ", "\t"):
            new_inner = new_inner.lstrip(" \t")
        text = text[:a.value_start + 1] + new_inner + text[a.value_end - 1:]
    return text


def _drop_word(inner: str, param: str) -> str:
    """`inner` without every blank-separated word equal to `param`, each with the blanks before it.

    Split once, not `re.sub(r"(^|[ \t]+)PARAM(?=$|[ \t])")`: that regex retries its blank run from
    every blank of a long one, 4 s for 16 KiB of blanks (hours for a 1 MB line)."""
    parts = re.split(r"([ \t]+)", inner)  # words at even indexes, the blanks before them at odd ones
    kept: list[str] = []
    for k in range(0, len(parts), 2):
        if parts[k] and parts[k] == param:
            continue
        kept += [parts[k - 1] if k else "", parts[k]]
    return "".join(kept)
