"""Real message texts for the GPU causes (core/explain/catalog/gpu.toml), with where each was taken from."""

from __future__ import annotations

GPU_MESSAGES: dict[str, list[tuple[str, str]]] = {
    "G01": [("[  612.118540] NVRM: Attempting to remove device 0000:01:00.0 with non-zero usage count!",
             "QaidVoid/Complete-Single-GPU-Passthrough#44 (dmesg quoted in the issue), bus id filled")],
    "G02": [("modprobe: FATAL: Module nvidia_drm is in use.",
             "kmod modprobe -r on a module with a reference count (BigAnteater/KVM-GPU-Passthrough#40)"),
            ("rmmod: ERROR: Module nvidia is in use by: nvidia_uvm nvidia_modeset",
             "kmod tools/rmmod.c (format string, values filled)")],
    "G03": [("error: Failed to start domain 'win11'\nerror: Hook script execution failed: internal error: Child "
             "process (LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin /etc/libvirt/hooks/qemu win11 "
             "prepare begin -) unexpected exit status 1",
             "libvirt src/util/virhook.c virHookCall() + virCommandWait (format strings, values filled)")],
    "G04": [("Job for gdm.service failed because the control process exited with error code.\nSee \"systemctl status "
             "gdm.service\" and \"journalctl -xeu gdm.service\" for details.",
             "systemctl start after a single-GPU VM stopped (joeknock90/Single-GPU-Passthrough#49)")],
    "G05": [("/etc/libvirt/hooks/qemu.d/win11/prepare/begin/start.sh: line 9: "
             "/sys/bus/platform/drivers/efi-framebuffer/unbind: No such file or directory",
             "bash redirection error on a simpledrm kernel (hook kits' `echo efi-framebuffer.0 > .../unbind`)")],
}
