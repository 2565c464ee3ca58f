"""vfio-tui core: the host model, the simulated kernel, binding, libvirt, checks and explain.

Pure Python. Nothing here imports Textual, and libvirt is imported only inside the
functions that talk to a hypervisor, so `import core` stays fast and headless.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
