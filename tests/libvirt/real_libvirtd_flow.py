"""Run inside private_libvirtd.sh (real libvirtd + QEMU, this machine has no IOMMU).

Writes WORKDIR/core.json (core API: define a domain with a hostdev, start it) and
WORKDIR/cli.json + cli.rc (the CLI: attach --start on a simulated host, real libvirtd).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from vfio_tui.core.host import HostOptions
from vfio_tui.core.libvirt import hostdev_xml, open_hypervisor, start_domain
from vfio_tui.core.open_host import open_host

ADDR = "0000:0b:00.0"


def domain_xml(name: str, hostdev: str = "") -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    {hostdev}
    <memballoon model='none'/>
  </devices>
</domain>
"""


def main() -> int:
    work, sim_root = Path(sys.argv[1]), sys.argv[2]
    out: dict[str, object] = {}
    with open_hypervisor("qemu:///system") as hv, open_host(HostOptions()) as host:
        out["driver"] = hv.driver
        t0 = time.perf_counter()
        hv.define(domain_xml("vfiotui-core", hostdev_xml([ADDR])))
        out["define_seconds"] = time.perf_counter() - t0
        result = start_domain(hv, "vfiotui-core", host)
        out["ok"] = result.ok
        out["start_seconds"] = result.seconds
        out["record"] = result.record.to_json() if result.record else None
        out["record_text"] = result.record.format_text() if result.record else ""
        # the CLI run would rightly refuse 0000:0b:00.0 while another VM holds it
        hv.lookup("vfiotui-core").undefine()
        hv.define(domain_xml("vfiotui-cli"))
    (work / "core.json").write_text(json.dumps(out, indent=2))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vfio_tui", "attach", ADDR, "vfiotui-cli", "--root", sim_root,
                           "--connect", "qemu:///system", "--start", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    (work / "cli.json").write_text(proc.stdout)
    (work / "cli.stderr").write_text(proc.stderr)
    (work / "cli.rc").write_text(f"{proc.returncode} {time.perf_counter() - t0:.3f}")
    with open_hypervisor("qemu:///system") as hv:
        hv.lookup("vfiotui-cli").undefine()
    return 0


if __name__ == "__main__":
    sys.exit(main())
