"""Provides collector_source(): one Python program, sent to a host on stdin (`python3 -`), that carries
core.remote.collect and every core module it imports (found by reading their imports) in memory,
compressed, and runs collect.main(). Nothing is written on the host; nothing but the standard
library is needed there (Python >= 3.11, as for vfio-tui).
"""

from __future__ import annotations

import ast
import base64
import functools
import json
import threading
import zlib
from pathlib import Path
from typing import Final

ENTRY: Final = "vfio_tui.core.remote.collect"
_PACKAGE: Final = "vfio_tui"
_CORE: Final = "vfio_tui.core"
_CORE_DIR: Final = Path(__file__).resolve().parent.parent
"""core/ of the checkout (vfio_tui/core is a symlink to it) or vfio_tui/core of the installed wheel."""

# Runs on the host: a meta-path finder that serves the carried modules (packages included) from
# memory, then the collector's main(). Written for any CPython >= 3.11, stdlib only.
_BOOT: Final = '''\
import base64, importlib.abc, importlib.util, json, sys, zlib
_SRC = json.loads(zlib.decompress(base64.b64decode(_PAYLOAD)))
class _Carried(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name not in _SRC:
            return None
        pkg = _SRC[name][0]
        spec = importlib.util.spec_from_loader(name, self, is_package=pkg)
        if pkg:
            spec.submodule_search_locations = []
        return spec
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        pkg, src = _SRC[module.__name__]
        exec(compile(src, "<vfio-tui collector: " + module.__name__ + ">", "exec"), module.__dict__)
sys.meta_path.insert(0, _Carried())
sys.dont_write_bytecode = True
from vfio_tui.core.remote.collect import main
sys.exit(main(sys.argv[1:]))
'''


def _module_file(name: str) -> tuple[Path, bool] | None:
    """The source of a carried module: vfio_tui.core.x, vfio_tui.core or the vfio_tui package itself."""
    if name == _PACKAGE:
        # vfio_tui/__init__.py beside core/ (the wheel) or in the checkout's vfio_tui/ beside core/
        for init in (_CORE_DIR.parent / "__init__.py", _CORE_DIR.parent / _PACKAGE / "__init__.py"):
            if init.is_file():
                return init, True
        return None
    if name != _CORE and not name.startswith(_CORE + "."):
        return None
    base = _CORE_DIR.joinpath(*name.split(".")[2:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def _in_core(module: str) -> bool:
    return module == _CORE or module.startswith(_CORE + ".")


def _core_imports(source: str) -> set[str]:
    """The core modules a module imports, anywhere in it except under `if TYPE_CHECKING:`."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names if _in_core(a.name))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.level == 0 and node.module and _in_core(node.module):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names
                             if _module_file(f"{node.module}.{a.name}") is not None)

    Visitor().visit(ast.parse(source))
    return found


def carried_modules(entry: str = ENTRY) -> dict[str, tuple[bool, str]]:
    """{module: (is a package, source)} for `entry`, its core imports and their parent packages."""
    out: dict[str, tuple[bool, str]] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        found = _module_file(name)
        if found is None:
            raise RuntimeError(f"the collector imports {name}, which is not a module of core")
        path, is_pkg = found
        source = path.read_text()
        out[name] = (is_pkg, source)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_core_imports(source))
    return out


_BUILDING = threading.Lock()


def collector_source() -> str:
    """The program for `python3 -` (about 20 kB; built once per process)."""
    # `fleet` asks from one thread per host: one builds it, the others wait. CPython 3.11's ast.parse()
    # is not thread-safe (two at once: "SystemError: AST constructor recursion depth mismatch").
    with _BUILDING:
        return _collector_source()


@functools.cache
def _collector_source() -> str:
    modules = {name: [pkg, src] for name, (pkg, src) in sorted(carried_modules().items())}
    payload = base64.b64encode(zlib.compress(json.dumps(modules).encode(), 9)).decode()
    return f"# vfio-tui read-only collector (core modules carried in memory)\n_PAYLOAD = {payload!r}\n{_BOOT}"
