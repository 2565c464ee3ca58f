"""A package's public names, imported from their modules on first use (PEP 562).

Every command imports a little of `binding` or `passthrough` (a lock check, a run record); their
package `__init__` re-exporting everything pulled the whole engine (libvirt, lxml, the planner)
into `vfio-tui inventory` and `--version`. Issue 15's start-up budget is 100-200 ms.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module `__getattr__` of `package`: NAME comes from `package.where[NAME]`, once."""

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module if "." in module else f"{package}.{module}"), name)
        namespace[name] = value  # a plain attribute from now on (a test's monkeypatch sees it too)
        return value

    return getattr_
