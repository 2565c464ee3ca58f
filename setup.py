"""The package list for setuptools (everything else is in pyproject.toml).

The wheel installs one top-level package, `vfio_tui`: the checkout's top-level folders `core/` and `tui/`
become `vfio_tui.core` and `vfio_tui.tui` (package-dir mapping), with every subpackage and data folder
under them (core/data, core/explain/catalog, …), found here so that a new one needs no edit.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
DATA_SUFFIXES = {".json", ".xml", ".toml", ".tcss", ".md"}
"""The same patterns as [tool.setuptools.package-data] in pyproject.toml."""


def packages() -> list[str]:
    found = ["vfio_tui"]
    for top in ("core", "tui"):
        for d in sorted([HERE / top, *(HERE / top).rglob("*")]):
            if not d.is_dir() or d.name == "__pycache__" or any(p.startswith(".") for p in d.relative_to(HERE).parts):
                continue
            if (d / "__init__.py").is_file() or any(f.suffix in DATA_SUFFIXES for f in d.iterdir() if f.is_file()):
                found.append(".".join(("vfio_tui", *d.relative_to(HERE).parts)))
    return found


setup(packages=packages(), package_dir={"vfio_tui": "vfio_tui", "vfio_tui.core": "core", "vfio_tui.tui": "tui"})
