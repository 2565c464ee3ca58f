#!/usr/bin/env python3
"""Moves every reference to the old top-level packages `core` and `tui` under the `vfio_tui` package.

The source keeps `core/` and `tui/` at the top of the checkout; `vfio_tui/core` and `vfio_tui/tui` are
symlinks to them, and the wheel installs only `vfio_tui` (with vfio_tui.core and vfio_tui.tui). Code
must therefore always say `vfio_tui.core…` / `vfio_tui.tui…`: a module imported under both names
would exist twice (two classes of the same name, failing isinstance checks).

    python3 scripts/namespace_imports.py           # convert, in place, every file `git ls-files` lists
                                                   # (and untracked, not ignored ones); then ruff's isort
    python3 scripts/namespace_imports.py --check   # exit 1 and list what still needs converting
    python3 scripts/namespace_imports.py FILE...   # only these files

It works on the checkout it is in (found with git), from any directory. It is idempotent and deterministic: run it
again after merging a branch that still uses the old names. What it converts:

  * Python imports: `from core.x import y` -> `from vfio_tui.core.x import y`; `import core.x as y`
    -> `import vfio_tui.core.x as y`; `import core.x` -> `import vfio_tui.core.x`, and the uses of the
    bound name `core` in that scope (`core.x.f()`) -> `vfio_tui.core.x.f()`.
  * module names in string literals, when the string is a dotted name whose first two parts are a module
    of this checkout: "core.libvirt.demo", "core.usage.gather_live_extras" (monkeypatch), f"tui.cli.cmd_{n}"
    -> "vfio_tui.core.libvirt.demo", …; import_module/run_module/find_spec("tui") -> ("vfio_tui.tui").
  * `-m tui` (shell lines, docs, f-strings, comments) and `"-m", "tui"` (argv lists) -> `-m vfio_tui`;
    `-m tui.cli.web_child` -> `-m vfio_tui.tui.cli.web_child`.
  * Python code inside strings (`python -c "from core.host import …"`) and in Markdown/shell files:
    `from core…`/`import core.x as y` lines -> under vfio_tui.

A file with the comment line `# namespace_imports: skip-file` is skipped. What it cannot convert safely
(an unaliased `import core.x` inside a string, a module-level `import core`
in a file that also binds the name `core` to something else) is reported and makes --check fail.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

OLD = ("core", "tui")
NEW = "vfio_tui"
SELF = Path(__file__).resolve()
TEXT_SUFFIXES = {".md", ".sh", ".txt", ".rst", ".cfg", ".ini"}
"""Non-Python files whose text is converted (plus extensionless files with a shell or Python shebang)."""
SKIP_PARTS = {"__snapshots__", "vfio_tui"}
"""tests/tui/__snapshots__: generated SVGs; vfio_tui/: the symlinks themselves and the namespace package."""

SKIP_MARK = "# namespace_imports: " + "skip-file"
"""A file with this line is left alone (tests/core/test_namespace.py: its samples are the old names)."""

_OLD = "|".join(OLD)
_DASH_M = re.compile(rf"""(?<![\w-])(-m\s+)(?P<mod>{_OLD})(?P<rest>(?:\.\w+)*)(?![\w-])""")
"""`-m tui`, `-m tui.cli.web_child` (shell, docs, comments, f-strings)."""
_DASH_M_LIST = re.compile(rf"""(["']-m["'],\s*)(["'])(?P<mod>{_OLD})(?P<rest>(?:\.\w+)*)\2""")
"""`"-m", "tui"` in an argv list."""
_CODE_FROM = re.compile(rf"""(?<![\w.])(from\s+)(?P<mod>{_OLD})(?=[.\s])""")
_CODE_IMPORT_AS = re.compile(rf"""(?<![\w.])(import\s+)(?P<mod>{_OLD})(?P<rest>(?:\.\w+)*\s+as\s+\w+)""")
_CODE_IMPORT_BARE = re.compile(rf"""(?<![\w.])import\s+(?:\w+\s*,\s*)*(?:{_OLD})\b(?!\s+as\b)""")
_MD_IMPORT_LINE = re.compile(rf"""^(\s*)(from|import)\s+({_OLD})\b""")
_DOTTED = re.compile(rf"""^(?:{_OLD})(?:\.\w+)+$""")
_PACKAGE_FILE = re.compile(rf"""\b{NEW}\.(?:{_OLD})\.__(?:file|path)__\b""")
"""`vfio_tui.tui.__file__`: the folder above it is vfio_tui/ in the wheel but the checkout here."""
_IMPORTERS = {"import_module", "run_module", "find_spec", "files", "resolve_name"}


@dataclass
class Result:
    text: str
    manual: list[str] = field(default_factory=list)


def _is_module(root: Path, dotted: str) -> bool:
    """True when the first two parts of `dotted` (core.x, tui.cli) are a module or package of the checkout."""
    parts = dotted.split(".")
    if len(parts) < 2 or parts[0] not in OLD or not parts[1].isidentifier():
        return False
    base = root / parts[0] / parts[1]
    return base.with_suffix(".py").is_file() or base.is_dir()


def _new_module(mod: str, rest: str) -> str:
    """tui -> vfio_tui (the package's __main__ is vfio_tui's), tui.cli.x -> vfio_tui.tui.cli.x."""
    return NEW if (mod == "tui" and not rest) else f"{NEW}.{mod}{rest}"


def convert_code_text(text: str) -> str:
    """Python source inside a string or a Markdown/shell file: from/import lines and `-m tui`."""
    text = _DASH_M.sub(lambda m: m.group(1) + _new_module(m["mod"], m["rest"]), text)
    text = _CODE_FROM.sub(lambda m: f"{m.group(1)}{NEW}.{m['mod']}", text)
    return _CODE_IMPORT_AS.sub(lambda m: f"{m.group(1)}{NEW}.{m['mod']}{m['rest']}", text)


class _Edits:
    def __init__(self, source: str) -> None:
        self.source = source
        self.data = source.encode()
        self.line_starts = [0]
        for line in self.data.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.edits: dict[tuple[int, int], str] = {}

    def offset(self, lineno: int, col: int) -> int:
        return self.line_starts[lineno - 1] + col

    def segment(self, node: ast.expr) -> tuple[int, int, str]:
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = self.offset(node.lineno, node.col_offset)
        end = self.offset(node.end_lineno, node.end_col_offset)
        return start, end, self.data[start:end].decode()

    def insert(self, at: int, text: str) -> None:
        self.edits[(at, at)] = text

    def replace(self, start: int, end: int, text: str) -> None:
        if self.data[start:end].decode() != text:
            self.edits[(start, end)] = text

    def apply(self) -> str:
        out = self.data
        last = None
        for (start, end), text in sorted(self.edits.items(), reverse=True):
            if last is not None and end > last:
                raise RuntimeError(f"overlapping edits at byte {start}")
            out = out[:start] + text.encode() + out[end:]
            last = start
        return out.decode()


def _scope_of(tree: ast.Module, target: ast.AST) -> ast.AST:
    """The innermost function (or the module) whose body holds `target`."""
    best: ast.AST = tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.walk(node):
                if child is target and (best is tree or _contains(best, node)):
                    best = node
    return best


def _contains(outer: ast.AST, inner: ast.AST) -> bool:
    return any(n is inner for n in ast.walk(outer))


def _binds(scope: ast.AST, name: str, imports: set[int]) -> bool:
    """True when `name` is bound in `scope` other than by the imports being converted."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return True
        if isinstance(node, ast.alias) and id(node) not in imports and (node.asname or node.name).split(".")[0] == name:
            return True
    return False


def convert_python(source: str, root: Path, where: str) -> Result:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        return Result(source, [f"{where}: not Python 3.11 syntax ({e.msg}, line {e.lineno}); convert by hand"])
    ed = _Edits(source)
    manual: list[str] = []
    bare: dict[str, list[tuple[ast.AST, ast.alias]]] = {}
    fstring_parts: set[int] = set()
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
        if isinstance(node, ast.JoinedStr):
            fstring_parts.update(id(v) for v in node.values)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in OLD:
            start = ed.offset(node.lineno, node.col_offset)
            m = re.match(rb"from\s+", ed.data[start:])
            if m is None:
                manual.append(f"{where}:{node.lineno}: unusual `from` statement; convert by hand")
                continue
            ed.insert(start + m.end(), f"{NEW}.")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] not in OLD:
                    continue
                ed.insert(ed.offset(a.lineno, a.col_offset), f"{NEW}.")
                if a.asname is None:
                    scope = _scope_of(tree, node)
                    bare.setdefault(a.name.split(".")[0], []).append((scope, a))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in fstring_parts:
            _convert_string_constant(node, ed, root, parents, where, manual)
        elif isinstance(node, ast.JoinedStr):
            start, end, seg = ed.segment(node)
            m = re.match(rf"""[rRfFuUbB]*(?:'''|\"\"\"|'|")(?P<mod>{_OLD})(?P<rest>(?:\.\w+)*\.?)(?=\{{)""", seg)
            if m and _is_module(root, m["mod"] + m["rest"] + "x") and m["rest"].count(".") >= 1:
                ed.insert(start + m.start("mod"), f"{NEW}.")
            new = _DASH_M.sub(lambda m: m.group(1) + _new_module(m["mod"], m["rest"]), seg)
            if new != seg and not (m and _is_module(root, m["mod"] + m["rest"] + "x")):
                ed.replace(start, end, new)
    # The names bound by `import core.x`: their uses in the same scope become vfio_tui.core.x.
    for name, found in bare.items():
        imports = {id(a) for _, a in found}
        for scope in {id(s): s for s, _ in found}.values():
            if _binds(scope, name, imports):
                manual.append(f"{where}: `import {name}…` in a scope that also binds `{name}`; convert by hand")
                continue
            for node in ast.walk(scope):
                if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                    ed.insert(ed.offset(node.lineno, node.col_offset), f"{NEW}.")
    text = ed.apply()
    for n, line in enumerate(text.splitlines(), 1):
        if _PACKAGE_FILE.search(line):
            manual.append(f"{where}:{n}: a path from vfio_tui.core/vfio_tui.tui's __file__ is one level off in the"
                          " wheel (vfio_tui/tui/) and through the checkout's symlink; start from vfio_tui.__file__")
    # Comments and docstrings: `python -m tui` (the argv lists and strings are converted above).
    lines = []
    for line in text.splitlines(keepends=True):
        if "-m" in line:
            line = _DASH_M_LIST.sub(lambda m: f"{m.group(1)}{m.group(2)}{_new_module(m['mod'], m['rest'])}{m.group(2)}",
                                    line)
            if "#" in line or "`" in line or "python" in line:
                line = _DASH_M.sub(lambda m: m.group(1) + _new_module(m["mod"], m["rest"]), line)
        lines.append(line)
    return Result("".join(lines), manual)


def _convert_string_constant(node: ast.Constant, ed: _Edits, root: Path, parents: dict[int, ast.AST], where: str,
                             manual: list[str]) -> None:
    value: str = node.value
    start, end, seg = ed.segment(node)
    if _DOTTED.match(value) and _is_module(root, value):
        i = seg.find(value)
        if i >= 0:
            ed.insert(start + i, f"{NEW}.")
        return
    if value in OLD:
        parent = parents.get(id(node))
        if isinstance(parent, ast.Call) and parent.args and parent.args[0] is node:
            func = parent.func
            fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if fname == "run_module":  # runpy.run_module("tui") ran tui/__main__.py: now vfio_tui's
                ed.replace(start, end, seg.replace(value, _new_module(value, ""), 1))
            elif fname in _IMPORTERS:
                ed.replace(start, end, seg.replace(value, f"{NEW}.{value}", 1))
        return
    if not any(k in value for k in ("import", "-m")):
        return
    if isinstance(parents.get(id(node)), ast.Expr):  # a docstring: prose, only `python -m tui` changes
        new = _DASH_M.sub(lambda m: m.group(1) + _new_module(m["mod"], m["rest"]), seg)
        if new != seg:
            ed.replace(start, end, new)
        return
    new = convert_code_text(seg)
    if new != seg:
        ed.replace(start, end, new)
    if _CODE_IMPORT_BARE.search(convert_code_text(value)):
        manual.append(f"{where}:{node.lineno}: code in a string does `import core…`/`import tui…` without `as`;"
                      " write it as `import vfio_tui.core.x as x` or `from vfio_tui.core import x`")


def convert_text(text: str, where: str) -> Result:
    """Markdown, shell: `-m tui` anywhere; from/import lines (code blocks, heredocs)."""
    out = []
    manual = []
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        if _MD_IMPORT_LINE.match(line) or "-m" in line:
            line = convert_code_text(line)
        if _CODE_IMPORT_BARE.match(line.lstrip()):
            manual.append(f"{where}:{n}: `import core…`/`import tui…` without `as`; convert by hand")
        out.append(line)
    return Result("".join(out), manual)


def _is_text_target(path: Path, root: Path) -> str | None:
    """'py', 'text' or None (not converted)."""
    rel = path.relative_to(root) if path.is_absolute() else path
    if path.is_symlink() or not path.is_file() or SKIP_PARTS & set(rel.parts) or path.resolve() == SELF:
        return None
    if path.suffix == ".py":
        return "py"
    if path.suffix in TEXT_SUFFIXES:
        return "text"
    if path.suffix == "":
        try:
            first = path.open("rb").readline(200)
        except OSError:
            return None
        if first.startswith(b"#!") and b"python" in first:
            return "py"
        if first.startswith(b"#!") and (b"sh" in first):
            return "text"
    return None


def convert_file(path: Path, root: Path) -> Result | None:
    kind = _is_text_target(path, root)
    if kind is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None
    if SKIP_MARK in text:
        return None
    where = str(path.relative_to(root)) if path.is_absolute() else str(path)
    return convert_python(text, root, where) if kind == "py" else convert_text(text, where)


def repo_files(root: Path) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout.decode()
    return sorted({root / p for p in out.split("\0") if p})


def _ruff() -> str | None:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.is_file() else shutil.which("ruff")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything needs converting")
    parser.add_argument("--no-isort", action="store_true", help="do not run `ruff check --select I --fix` afterwards")
    parser.add_argument("files", nargs="*", type=Path, help="only these files (default: the whole checkout)")
    args = parser.parse_args(argv)
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=SELF.parent, capture_output=True, text=True,
                         check=True)
    root = Path(top.stdout.strip())  # the checkout this script is in, wherever it is run from
    files = [p.resolve() for p in args.files] if args.files else repo_files(root)
    changed: list[Path] = []
    manual: list[str] = []
    for path in files:
        res = convert_file(path, root)
        if res is None:
            continue
        manual += res.manual
        if res.text != path.read_text(encoding="utf-8"):
            changed.append(path)
            if not args.check:
                path.write_text(res.text, encoding="utf-8")
    rel = [str(p.relative_to(root)) for p in changed]
    if args.check:
        for r in rel:
            print(f"needs converting: {r}")
    else:
        for r in rel:
            print(f"converted: {r}")
        py = [r for r in rel if r.endswith(".py")]
        ruff = _ruff()
        if py and not args.no_isort:
            if ruff is None:
                print("ruff not found: run `ruff check --select I --fix` on the converted files (import order)")
            else:
                subprocess.run([ruff, "check", "--quiet", "--select", "I", "--fix", *py], cwd=root, check=False)
    for m in manual:
        print(f"by hand: {m}")
    return 1 if (args.check and changed) or manual else 0


if __name__ == "__main__":
    sys.exit(main())
