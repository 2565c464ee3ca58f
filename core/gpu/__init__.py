"""GPUs: what a host does with them (facts, inventory), how to take them from it (plan), their ROMs.

The class codes live here, where importing them costs nothing: open_host asks whether a host has a GPU
at all before it loads the GPU modules."""

from __future__ import annotations

from typing import Final

#: Display-class devices (base class 03: VGA, XGA, 3D controller, other display).
DISPLAY_CLASS: Final = "03"
#: HD audio (0403): a GPU's HDMI/DP audio function.
AUDIO_CLASS: Final = "0403"
