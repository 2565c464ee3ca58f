"""Provoke VFIO passthrough failures on the real-kernel lab and keep what was printed.

    flock /tmp/vfio-tui-lab.lock <venv>/bin/python tests/lab/provoke.py [--out DIR] [--timeout S] [--cases "a b"]

Boots ../shared/lab's guest (03-boot-guest.sh cmd) with:
  - the built-in topology plus an NVMe with SR-IOV (QEMU 7.2 sriov_max_vfs=2), a pci-testdev with a
    1 TiB BAR the guest cannot assign, and the switch's second e1000e with a ROM that is not an
    option ROM (0xff bytes, as an unprogrammed flash reads);
  - an intel-iommu WITHOUT interrupt remapping (LAB_IOMMU_DEVICE);
  - kernel parameters the guest kernel warns about (LAB_CMDLINE);
  - an HMP monitor on a unix socket, through which this script injects a PCIe AER error into the
    guest's 01:00.0 when the guest asks (OUT/provoke/aer-request), answering in aer-done;
and runs tests/lab/provoke_failures.sh in it. The raw results (one directory per case: what was
provoked, the transcript, the kernel lines, libvirt's QEMU log, libvirtd's errors) are copied to
--out (default build/provoke/). Run it through the lab lock: the lab takes both cores for ~15 min.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
LAB_DIR = Path(os.environ.get("VFIO_TUI_LAB_DIR") or CHECKOUT.parent / "shared" / "lab")

IOMMU = "intel-iommu,intremap=off,caching-mode=on"
# an obsolete IOMMU option, ACS redirect for a device without ACS, a mistyped resource_alignment (the
# function is missing). Not pcie_ports=native: pciehp then finds QEMU's root port slots empty, powers
# them off, and every device behind them reads as all-ones (libvirt: "Unknown PCI header type '127'").
CMDLINE = "intel_iommu=strict pci=disable_acs_redir=0000:00:07.0 pci=resource_alignment=12@0000:00:07"

TOPOLOGY = """\
# the built-in topology of 03-boot-guest.sh (same ids, buses and addresses) ...
-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1
-device e1000e,id=nic_alone,bus=rp1,addr=0x0,romfile=
-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x3,chassis=2,slot=2
-device e1000e,id=mf_f0,bus=rp2,addr=0x0.0x0,multifunction=on,romfile=
-device qemu-xhci,id=mf_f1,bus=rp2,addr=0x0.0x1
-device pcie-root-port,id=rp3,bus=pcie.0,addr=0x4,chassis=3,slot=3
-device pcie-pci-bridge,id=pcibr,bus=rp3,addr=0x0
-device rtl8139,id=br_nic1,bus=pcibr,addr=0x1,romfile=
-device e1000,id=br_nic2,bus=pcibr,addr=0x2,romfile=
-device pcie-root-port,id=rp4,bus=pcie.0,addr=0x5,chassis=4,slot=4
-device x3130-upstream,id=swup,bus=rp4,addr=0x0
-device xio3130-downstream,id=swdn1,bus=swup,addr=0x0,chassis=5,slot=5
-device xio3130-downstream,id=swdn2,bus=swup,addr=0x1,chassis=6,slot=6
-device e1000e,id=sw_nic1,bus=swdn1,addr=0x0,romfile=
# ... except that this one has a ROM BAR holding a file that is not an option ROM
-device e1000e,id=sw_nic2,bus=swdn2,addr=0x0,romfile={rom}
-device pci-bridge,id=legbr,bus=pcie.0,addr=0x6,chassis_nr=7
-device rtl8139,id=legbr_nic,bus=legbr,addr=0x1,romfile=
-device e1000,id=rc_f0,bus=pcie.0,addr=0x7.0x0,multifunction=on,romfile=
-device rtl8139,id=rc_f1,bus=pcie.0,addr=0x7.0x1,romfile=
# an NVMe controller with SR-IOV (2 VFs), alone behind a root port
-device pcie-root-port,id=rp5,bus=pcie.0,addr=0x8,chassis=8,slot=8
-device nvme-subsys,id=nvsub0,nqn=lab-sriov
-device nvme,id=nvme_pf,serial=labsriov0,subsys=nvsub0,bus=rp5,addr=0x0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2
# a device whose 1 TiB 64-bit BAR does not fit the guest's 40-bit physical address space
-device pcie-root-port,id=rp6,bus=pcie.0,addr=0x9,chassis=9,slot=9
-device pci-testdev,id=bigbar,bus=rp6,addr=0x0,membar=1T
# the L1 QEMU's human monitor, for pcie_aer_inject_error
-chardev socket,id=l1mon,path={sock},server=on,wait=off
-mon chardev=l1mon,mode=readline
"""


def hmp(sock_path: Path, command: str) -> str:
    """Send one HMP command to the lab QEMU's monitor and return what it printed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock_path))
        time.sleep(0.5)
        out = b""
        try:
            out += s.recv(65536)
        except TimeoutError:
            pass
        s.sendall(command.encode() + b"\n")
        time.sleep(2)
        try:
            out += s.recv(65536)
        except TimeoutError:
            pass
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out.decode(errors="replace"))


def aer_watcher(out: Path, sock_path: Path, stop: threading.Event) -> None:
    """Answer the guest's aer-request (\"DEVICE_ID ERROR\") with one pcie_aer_inject_error."""
    request, done = out / "provoke" / "aer-request", out / "provoke" / "aer-done"
    while not stop.wait(1):
        if request.is_file() and not done.exists():
            words = request.read_text().split()
            if len(words) != 2 or not all(w.replace("_", "").isalnum() for w in words):
                done.write_text(f"refused request {words!r}\n")
                continue
            command = f"pcie_aer_inject_error {words[0]} {words[1]}"
            try:
                reply = hmp(sock_path, command)
            except OSError as exc:
                reply = f"monitor error: {exc}"
            done.write_text(f"(this machine) HMP> {command}\n{reply}\n")
            print(f"[provoke] injected: {command}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CHECKOUT / "build" / "provoke")
    parser.add_argument("--timeout", type=int, default=1500)
    parser.add_argument("--cases", default="", help="only these cases of provoke_failures.sh (space-separated names)")
    args = parser.parse_args()
    boot = LAB_DIR / "03-boot-guest.sh"
    if not boot.is_file():
        print(f"[provoke] no lab at {LAB_DIR}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="vfio-tui-provoke."))
    try:
        rom, sock = work / "not-a-rom.bin", work / "l1-mon.sock"
        rom.write_bytes(b"\xff" * 8192)
        devices = work / "devices.txt"
        devices.write_text(TOPOLOGY.format(rom=rom, sock=sock))
        env = dict(os.environ, LAB_WORK=str(work), LAB_DEVICES_FILE=str(devices), LAB_IOMMU_DEVICE=IOMMU,
                   LAB_CMDLINE=CMDLINE,
                   LAB_GUEST_CMD=f"PROVOKE_CASES={shlex.quote(args.cases)} bash {CHECKOUT}/tests/lab/provoke_failures.sh"
                                 " /out/provoke")
        out = work / "out-cmd"
        stop = threading.Event()
        watcher = threading.Thread(target=aer_watcher, args=(out, sock, stop), daemon=True)
        watcher.start()
        rc = subprocess.run(["timeout", "--kill-after=20", str(args.timeout + 60), "bash", str(boot), "cmd",
                             str(args.timeout)], env=env, check=False).returncode
        stop.set()
        watcher.join(timeout=5)
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        if out.is_dir():
            shutil.copytree(out, args.out, dirs_exist_ok=True)
        for name in ("boot-cmd.log", "devices.txt"):
            if (work / name).is_file():
                shutil.copy(work / name, args.out / name)
        print(f"[provoke] guest rc={rc}; results in {args.out}", flush=True)
        return rc
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
