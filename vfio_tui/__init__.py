"""vfio-tui: pass PCI devices through to libvirt/QEMU VMs with VFIO.

The installed distribution has this one top-level package: `vfio_tui.core` (the pure-Python host
model, binding, libvirt, checks and explain; no Textual) and `vfio_tui.tui` (the Textual app and the
command line). In the source checkout they are the top-level folders `core/` and `tui/`, reached
through the symlinks `vfio_tui/core` and `vfio_tui/tui`; always import them as `vfio_tui.core…` and
`vfio_tui.tui…` (scripts/namespace_imports.py converts old `core…`/`tui…` imports).
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Lazy: `import vfio_tui` (every command, the remote collector) does not pay for importlib.metadata.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("vfio-tui")
        except PackageNotFoundError:  # a checkout that is not installed, or the collector on a remote host
            from vfio_tui.core import __version__

            return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
