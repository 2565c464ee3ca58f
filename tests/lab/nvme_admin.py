"""The NVMe admin commands the SR-IOV lab test needs, sent through the kernel's NVMe passthrough ioctl
(lab guest only; what nvme-cli's `list-secondary` and `virt-mgmt` send).

An NVMe VF is a secondary controller: it has no queues or interrupts of its own until the primary
(the PF) hands it flexible resources and brings it online (NVMe 2.0 Virtualization Management,
opcode 0x1C; QEMU 7.2 hw/nvme/ctrl.c nvme_virt_mngmt()). QEMU's PF starts with every flexible
resource allocated to itself (nvme_init_state(): vqrfap = vqfrt); an allocation to the primary takes
effect at its next function-level reset (nvme_ctrl_reset(NVME_RESET_FUNCTION) → nvme_activate_virt_res()),
and a secondary goes online only once its VF exists (nvme_virt_set_state()).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import struct
from dataclasses import dataclass

# include/uapi/linux/nvme_ioctl.h: struct nvme_passthru_cmd (72 bytes), NVME_IOCTL_ADMIN_CMD _IOWR('N', 0x41, ...)
_CMD = struct.Struct("<BBHIIIQQII6III")
NVME_IOCTL_ADMIN_CMD = 0xC0484E41
OP_IDENTIFY = 0x06
OP_VIRT_MGMT = 0x1C
CNS_SECONDARY_LIST = 0x15
ACT_PRIMARY_FLEXIBLE, ACT_SECONDARY_OFFLINE, ACT_SECONDARY_ASSIGN, ACT_SECONDARY_ONLINE = 1, 7, 8, 9
RT_VQ, RT_VI = 0, 1


class NvmeAdminError(Exception):
    pass


def admin(dev: str, opcode: int, cdw10: int, cdw11: int = 0, data_len: int = 0) -> bytes:
    """Send one admin command; the data it returned (data_len bytes). NvmeAdminError on an NVMe status."""
    buf = ctypes.create_string_buffer(data_len) if data_len else None
    addr = ctypes.addressof(buf) if buf is not None else 0
    cmd = bytearray(_CMD.pack(opcode, 0, 0, 0, 0, 0, 0, addr, 0, data_len, cdw10, cdw11, 0, 0, 0, 0, 0, 0))
    fd = os.open(dev, os.O_RDWR)
    try:
        status = fcntl.ioctl(fd, NVME_IOCTL_ADMIN_CMD, cmd)
    finally:
        os.close(fd)
    if status:
        raise NvmeAdminError(f"{dev}: admin opcode {opcode:#x} cdw10 {cdw10:#x}: NVMe status {status:#x}")
    return bytes(buf.raw) if buf is not None else b""


@dataclass(frozen=True)
class Secondary:
    scid: int
    online: bool
    vfn: int
    nvq: int
    nvi: int


def secondaries(dev: str) -> list[Secondary]:
    """Identify CNS 15h, the Secondary Controller List: NUMID, then 32-byte entries from byte 32."""
    data = admin(dev, OP_IDENTIFY, CNS_SECONDARY_LIST, data_len=4096)
    out = []
    for i in range(data[0]):
        e = data[32 + 32 * i:64 + 32 * i]
        scid, _pcid, scs = struct.unpack_from("<HHB", e, 0)
        vfn, nvq, nvi = struct.unpack_from("<HHH", e, 8)
        out.append(Secondary(scid, bool(scs & 1), vfn, nvq, nvi))
    return out


def virt_mgmt(dev: str, act: int, cntlid: int, rt: int = RT_VQ, nr: int = 0) -> None:
    admin(dev, OP_VIRT_MGMT, act | (rt << 8) | (cntlid << 16), nr)
