"""What the explain scanner looks for in a log before it reads a line (core/explain/scan.py): the gate
words every recognised message contains, the pieces of them it searches, and the context lines it keeps.
"""

from __future__ import annotations

#: The prefilter, searched in the lowercased block: every message the catalog and the mapped source
#: inventory can recognise contains one of them (tests/explain/test_inventory.py proves it for each).
#: Each gate costs one pass over every block (the bulk of explain's time on a big log), so a gate is only
#: here when some message has no other. "mdev" never was the only one; "monitor" and "hostdev" were only for
#: two libvirt texts that virsh prints on the line after "Failed to start domain" (see FOLLOW). "oom-kill"
#: is the only word of the kernel's memory-cgroup OOM report that kills QEMU under a too small <hard_limit>
#: (K02; nothing else in that failure names VFIO, PCI or IOMMU).
GATES: tuple[bytes, ...] = (
    b"vfio", b"iommu", b"dmar", b"amd-vi", b"pci", b"locked memory", b"write error", b"start domain",
    b"starting domain", b"start failed", b"(xen)", b"0000:", b"oom-kill",
    # The GPU steps (catalog/gpu.toml): NVIDIA's driver, module unloads, libvirt hooks, the display manager,
    # firmware framebuffers.
    b"nvrm", b"is in use", b"hook script", b"job for", b"framebuffer",
    # libvirt's "Cannot set interface MAC to ... for ifname PF vf N" (catalog/sriov.toml SR5) names no PCI device
    b"cannot set interface",
)
#: virsh prints a failed start as "error: Failed to start domain 'NAME'" and libvirt's reason on the next
#: line, which may have no gate of its own ("error: internal error: Multiple USB devices for ..."): the
#: line after such a line is a candidate too.
FOLLOW: bytes = b"start domain"

#: What phase 1 searches for each gate: a piece of it of at most 5 bytes. CPython's bytes.find switches to
#: its two-way search for needles of 6 bytes or more in a long haystack, about twice the time per pass on
#: log text (bench/explain.py: 19 passes over 50 MB went from ~320 ms to ~230 ms). A piece matches
#: wherever its gate does, so no candidate line is lost; a piece matching elsewhere only adds a candidate
#: that the matcher then finds nothing in. Each piece is the fastest specific one (measured on
#: journal/dmesg text).
SEARCHED: dict[bytes, bytes] = {
    b"amd-vi": b"amd-v", b"locked memory": b"locke", b"write error": b"ite e", b"start domain": b"t dom",
    b"starting domain": b"g dom", b"start failed": b"t fai", b"oom-kill": b"oom-k", b"is in use": b" in u",
    b"hook script": b"hook ", b"job for": b"job f", b"framebuffer": b"ebuff", b"cannot set interface": b"canno",
}
NEEDLES: tuple[bytes, ...] = tuple(SEARCHED.get(gate, gate) for gate in GATES)
FOLLOW_NEEDLE = SEARCHED.get(FOLLOW, FOLLOW)
FOLLOW_AT = FOLLOW.index(FOLLOW_NEEDLE)

#: Lines worth remembering for the checks even when no cause matches them
#: (the QEMU command line, interrupt-remapping status, the libvirt URI).
CONTEXT_KEYWORDS: tuple[str, ...] = ("guest=", "qemu:///", "dmar-ir", "interrupt remapping", "irq remapping",
                                     "intremap")
