"""Provides lossless readers/editors for the line-based files the fixes touch:
/etc/kernel/cmdline (systemd-boot, kernel-install, Proxmox), /etc/modules-load.d/*.conf
and /etc/modprobe.d/*.conf. Every edit changes only the lines it must.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vfio_tui.core.checks.textfile import ConfigParseError, append_line

_SAFE_PARAM = re.compile(r"[A-Za-z0-9_.,:=/+@%-]+")


# --- /etc/kernel/cmdline ------------------------------------------------------------------------

def kernel_cmdline_words(text: str) -> list[str]:
    """The parameters in /etc/kernel/cmdline (kernel-install joins every line; no comments, no quoting)."""
    return text.split()


def kernel_cmdline_add(text: str, param: str) -> str:
    """Append `param` to the command line. Proxmox reads a single line: more than one is refused."""
    if not _SAFE_PARAM.fullmatch(param):
        raise ConfigParseError(f"refusing to add {param!r}: it would need quoting")
    lines = text.splitlines(keepends=True)
    filled = [k for k, ln in enumerate(lines) if ln.strip()]
    if not filled:
        return append_line("", param) if not text.strip() else text
    if len(filled) > 1:
        raise ConfigParseError(f"the command line is spread over {len(filled)} lines; proxmox-boot-tool and"
                               " kernel-install expect one line", line=filled[1] + 1)
    k = filled[0]
    body = lines[k].rstrip("\r\n")
    ending = lines[k][len(body):]
    stripped = body.rstrip(" \t")
    lines[k] = stripped + " " + param + body[len(stripped):] + ending
    return "".join(lines)


# --- modules-load.d -----------------------------------------------------------------------------

def modules_load_names(text: str) -> list[str]:
    """Module names in a modules-load.d file (one a line; '#' and ';' start comments)."""
    out = []
    for ln in text.splitlines():
        s = ln.strip()
        if s and s[0] not in "#;":
            out.append(s.replace("-", "_"))
    return out


def modules_load_add(text: str | None, modules: list[str], header: str) -> str:
    """The file with the missing modules appended (a new file starts with `header` comment lines)."""
    present = set(modules_load_names(text or ""))
    new = text if text is not None else "".join(f"# {h}\n" for h in header.splitlines())
    for m in modules:
        if m.replace("-", "_") not in present:
            new = append_line(new, m)
            present.add(m.replace("-", "_"))
    return new


# --- modprobe.d ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ModprobeLine:
    """One command in a modprobe.d file (continuation lines joined)."""

    line: int
    command: str
    words: tuple[str, ...]
    start: int
    end: int
    """Span of the physical lines, without the final newline."""

    @property
    def module(self) -> str | None:
        return self.words[0].replace("-", "_") if self.words else None


def parse_modprobe(text: str) -> list[ModprobeLine]:
    """Commands of a modprobe.d file (man modprobe.d: '#' comments, backslash continues a line)."""
    out: list[ModprobeLine] = []
    pos = 0
    lineno = 1
    physical = text.split("\n")
    k = 0
    while k < len(physical):
        start, first_line = pos, lineno
        joined = physical[k]
        end = pos + len(physical[k])
        while joined.rstrip("\r").endswith("\\") and k + 1 < len(physical):
            joined = joined.rstrip("\r")[:-1] + " "
            pos = end + 1
            k += 1
            lineno += 1
            joined += physical[k]
            end = pos + len(physical[k])
        words = joined.split()
        if words and not words[0].startswith("#"):
            out.append(ModprobeLine(first_line, words[0], tuple(words[1:]), start, end))
        pos = end + 1
        lineno += 1
        k += 1
    return out


def modprobe_options(text: str, module: str) -> dict[str, tuple[str, int]]:
    """`options MODULE k=v` settings: {param: (value, line)} (the last one wins, as in modprobe)."""
    module = module.replace("-", "_")
    found: dict[str, tuple[str, int]] = {}
    for cmd in parse_modprobe(text):
        if cmd.command == "options" and cmd.module == module:
            for w in cmd.words[1:]:
                key, _, value = w.partition("=")
                found[key.replace("-", "_")] = (value, cmd.line)
    return found


def modprobe_drop_option(text: str, module: str, param: str, reason: str) -> str:
    """The text without `param` in `options MODULE ...` lines; a line left with no option is commented out."""
    module = module.replace("-", "_")
    for cmd in sorted(parse_modprobe(text), key=lambda c: -c.start):
        if cmd.command != "options" or cmd.module != module:
            continue
        keep = [w for w in cmd.words[1:] if w.partition("=")[0].replace("-", "_") != param]
        if len(keep) == len(cmd.words) - 1:
            continue
        block = text[cmd.start:cmd.end]
        if keep:
            if "\\" in block:
                raise ConfigParseError("the options line continues over several lines; edit it by hand",
                                       line=cmd.line)
            indent = block[:len(block) - len(block.lstrip(" \t"))]
            ending = "\r" if block.endswith("\r") else ""
            replacement = f"{indent}options {cmd.words[0]} {' '.join(keep)}{ending}"
        else:
            replacement = f"# {reason}\n" + "\n".join("#" + ln for ln in block.split("\n"))
        text = text[:cmd.start] + replacement + text[cmd.end:]
    return text
