"""The lab guest as a second host: a real Linux kernel with VT-d, reached over SSH.

    <venv>/bin/python tests/lab/fleet_lab.py [--timeout S]

Boots the lab guest (../shared/lab/03-boot-guest.sh, task cmd) with a small topology plus a virtio
NIC on QEMU user networking whose port 22 is forwarded to a private port on 127.0.0.1
(`-netdev user,hostfwd=...` through LAB_DEVICES_FILE); the guest runs sshd with a generated host key
and this run's user key, and finds this checkout's vfio-tui on its PATH (the guest mounts this
machine's root, so the same venv runs there). Next to it, the test sshd of tests/remote serves a
sim-host tree as the first host. Then, from here, as a user would:
  hosts add (both) -> fleet --json shows both (the guest: its real kernel, dmar0, its groups)
  -> inventory --on lab equals vfio-tui inventory run in the guest, and the collector's
  -> bind a guest NIC (its whole group) --on lab --yes -> restore ADDR --on lab (undo): back on its driver.
Nothing touches this machine's /sys or its ssh setup; scratch in a temp dir, removed at the end;
results in build/lab/fleet-lab.json. Prints "fleet lab skipped: why" and exits 0 when the lab cannot
run here (or another QEMU is running: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(CHECKOUT)]  # the lab's modules import each other by name, as the guest runs them

from run_lab import BOOT, why_not_runnable  # noqa: E402

from tests.remote.sshd import TestSshd, free_port  # noqa: E402

# A small topology: an endpoint alone behind a root port, a multifunction device (one group), and
# the virtio NIC the SSH session comes in on (the guard must refuse its group).
DEVICES = """\
-device pcie-root-port,id=rp1,bus=pcie.0,addr=0x2,chassis=1,slot=1
-device e1000e,id=nic_alone,bus=rp1,addr=0x0,romfile=
-device pcie-root-port,id=rp2,bus=pcie.0,addr=0x3,chassis=2,slot=2
-device e1000e,id=mf_f0,bus=rp2,addr=0x0.0x0,multifunction=on,romfile=
-device qemu-xhci,id=mf_f1,bus=rp2,addr=0x0.0x1
-netdev user,id=vtnet,hostfwd=tcp:127.0.0.1:{port}-:22
-device virtio-net-pci,netdev=vtnet,bus=pcie.0,addr=0x8,romfile=
"""

GUEST = """\
set -x
modprobe virtio_net
for i in $(seq 1 30); do
  dev=$(for d in /sys/class/net/*; do
          [ "$(basename "$(readlink -f "$d/device/driver" 2>/dev/null)")" = virtio_net ] && basename "$d"; done | head -1)
  [ -n "$dev" ] && break; sleep 1
done
ip link set "$dev" up && ip addr add 10.0.2.15/24 dev "$dev" && ip route add default via 10.0.2.2
mkdir -p /run/sshd && chmod 755 /run/sshd
/usr/sbin/sshd -D -e -f {work}/guest_sshd_config > /out/sshd.log 2>&1 &
touch /out/sshd-ready
for i in $(seq 1 {wait}); do [ -e /out/done ] && break; sleep 1; done
"""


def qemu_running() -> bool:
    """A QEMU process (by its name: `pgrep -f qemu-system` would also match a shell waiting for one)."""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith("qemu-system"):
                return True
        except OSError:
            continue
    return False


def say(text: str) -> None:
    print(f"[fleet-lab] {text}", flush=True)


class Check:
    def __init__(self) -> None:
        self.results: list[dict[str, Any]] = []

    def __call__(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append({"check": name, "ok": ok, "detail": detail[:2000]})
        say(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail[:300]}" if detail and not ok else ""))
        return ok


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)


def prepare(work: Path, port: int) -> dict[str, str]:
    keys = work / "keys"
    keys.mkdir()
    _keygen(keys / "hostkey")
    _keygen(keys / "userkey")
    bin_dir = work / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "vfio-tui"
    wrapper.write_text("#!/bin/sh\n"
                       f"export PYTHONPATH={CHECKOUT} PYTHONDONTWRITEBYTECODE=1\n"
                       f"exec {sys.executable} -m vfio_tui \"$@\"\n")
    wrapper.chmod(0o755)
    path = f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    (work / "authorized_keys").write_text(f'environment="PATH={path}" {(keys / "userkey.pub").read_text()}')
    (work / "guest_sshd_config").write_text("\n".join([
        "Port 22", "ListenAddress 0.0.0.0", f"HostKey {keys}/hostkey", f"AuthorizedKeysFile {work}/authorized_keys",
        "PidFile none", "StrictModes no", "UsePAM no", "UseDNS no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "PermitUserEnvironment yes",
        "MaxStartups 50", "MaxSessions 50", ""]))
    (work / "known_hosts").write_text(f"[127.0.0.1]:{port} {(keys / 'hostkey.pub').read_text()}")
    (work / "lab_ssh_config").write_text("\n".join([
        "Host lab", "  HostName 127.0.0.1", f"  Port {port}", "  User root", f"  IdentityFile {keys}/userkey",
        "  IdentitiesOnly yes", f"  UserKnownHostsFile {work}/known_hosts", "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes", "  ConnectTimeout 20", ""]))
    (work / "devices").write_text(DEVICES.format(port=port))
    return {}


def run(args: argparse.Namespace) -> int:
    why = why_not_runnable()
    if why is None and qemu_running():
        why = "another QEMU is running (the machine is shared: one lab run at a time)"
    if why is None and not Path("/usr/sbin/sshd").exists():
        why = "no /usr/sbin/sshd (openssh-server, dev.sh TEST_PACKAGES)"
    if why is not None:
        say(f"fleet lab skipped: {why}")
        return 0
    check = Check()
    work = Path(tempfile.mkdtemp(prefix="vt-fl-"))
    port = free_port()
    prepare(work, port)
    lab_work = work / "lab"
    lab_work.mkdir()
    out = lab_work / "out-cmd"
    env = dict(os.environ, LAB_WORK=str(lab_work), LAB_DEVICES_FILE=str(work / "devices"),
               LAB_GUEST_CMD=GUEST.format(work=work, wait=args.timeout))
    boot = subprocess.Popen(["timeout", "--kill-after=20", str(args.timeout + 120), "bash", str(BOOT), "cmd",
                             str(args.timeout + 60)], env=env, cwd=CHECKOUT, start_new_session=True,
                            stdout=(work / "boot.out").open("wb"), stderr=subprocess.STDOUT)
    started = time.monotonic()
    try:
        _exercise(check, work, out, boot, args.timeout, started)
    except Exception as exc:  # noqa: BLE001 - recorded as a failed check; QEMU is stopped below
        check("the run itself", False, f"{type(exc).__name__}: {exc}")
    return finish(check, work, boot, out, started)


def _exercise(check: Check, work: Path, out: Path, boot: subprocess.Popen[bytes], timeout: int,
              started: float) -> None:
    with TestSshd() as sshd:
        cli_env = {**os.environ, **sshd.env, "PYTHONPATH": str(CHECKOUT)}
        # Both hosts through one ssh config: the test sshd's aliases and the guest's.
        merged = sshd.dir / "ssh_config"
        merged.write_text((work / "lab_ssh_config").read_text() + merged.read_text())

        def cli(*words: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "vfio_tui", *words], capture_output=True, text=True,
                                  cwd=CHECKOUT, env=cli_env, timeout=timeout, check=False)

        tree = sshd.dir / "host-tree"
        cli("sim-host", str(tree))
        check("hosts add tree (sim-host tree behind the test sshd)",
              cli("hosts", "add", "tree", "vt-installed", "--remote-root", str(tree)).returncode == 0)
        deadline = time.monotonic() + timeout
        while not (out / "sshd-ready").exists() and time.monotonic() < deadline and boot.poll() is None:
            time.sleep(2)
        say(f"guest sshd started after {time.monotonic() - started:.0f} s")
        added = None
        while time.monotonic() < deadline and boot.poll() is None:
            added = cli("hosts", "add", "lab", "lab", "--replace")
            if added.returncode == 0:
                break
            time.sleep(5)
        if not check("hosts add lab (the guest, real kernel, over hostfwd)",
                     added is not None and added.returncode == 0,
                     (added.stdout + added.stderr) if added is not None else "the guest never came up"):
            return
        assert added is not None
        say(added.stdout.strip())
        fleet = cli("fleet", "--json")
        data = json.loads(fleet.stdout) if fleet.stdout.startswith("{") else {}
        hosts = {h["name"]: h for h in data.get("hosts", [])}
        lab = hosts.get("lab", {})
        check("fleet shows both hosts", fleet.returncode == 0 and set(hosts) == {"tree", "lab"},
              fleet.stdout[-1000:] + fleet.stderr[-1000:])
        check("the guest's real kernel, IOMMU and groups",
              lab.get("ok") is True and str(lab.get("kernel", "")).startswith("6.1.")
              and lab.get("iommu", {}).get("enabled") is True and lab.get("groups", 0) >= 5,
              json.dumps(lab)[:1500])
        remote = cli("inventory", "--on", "lab", "--json")
        # Through the same shared connection as vfio-tui's own reads: the guest then sees the same SSH
        # session (a new connection would be another session, another port, in the host-use facts).
        control = f"ControlPath={sshd.dir}/run/vfio-tui-ssh/%C"
        there = subprocess.run(["ssh", "-F", str(merged), "-o", "BatchMode=yes", "-o", control, "lab", "vfio-tui",
                                "inventory", "--json"],
                               capture_output=True, text=True, timeout=600, check=False)
        same = _without_host(remote.stdout) == _without_host(there.stdout) and remote.returncode == 0
        check("inventory --on lab equals vfio-tui inventory run on the guest", same,
              remote.stderr[-500:] + there.stderr[-500:] + _first_difference(remote.stdout, there.stdout))
        cli("hosts", "add", "lab-collector", "lab", "--collector")
        collected = cli("inventory", "--on", "lab-collector", "--json")
        check("the collector (python3 -) reads the real kernel as vfio-tui does",
              _without_host(collected.stdout) == _without_host(remote.stdout), collected.stderr[-800:])
        nic = _alone_nic(remote.stdout)
        check("a guest NIC alone in its group", nic is not None, remote.stdout[:500])
        if nic is not None:
            bound = cli("bind", nic, "--on", "lab", "--yes")
            after = _driver(cli("inventory", "--on", "lab", "--json").stdout, nic)
            check(f"bind {nic} --on lab --yes: on vfio-pci in the guest", bound.returncode == 0 and
                  after == "vfio-pci", bound.stdout[-800:] + bound.stderr[-800:] + f" driver={after}")
            restored = cli("restore", nic, "--on", "lab")
            back = _driver(cli("inventory", "--on", "lab", "--json").stdout, nic)
            check(f"restore --on lab: {nic} back on e1000e", restored.returncode == 0 and back == "e1000e",
                  restored.stdout[-800:] + restored.stderr[-800:] + f" driver={back}")
        ssh_nic = cli("bind", "00:08.0", "--on", "lab", "--dry-run")
        check("the NIC of the SSH session is refused on the guest", ssh_nic.returncode == 3,
              ssh_nic.stdout[-800:] + ssh_nic.stderr[-400:])


def _without_host(text: str) -> Any:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict):
        data.pop("host", None)
    return data


def _first_difference(a: str, b: str) -> str:
    left, right = _without_host(a) or {}, _without_host(b) or {}
    for key in sorted(set(left) | set(right)):
        if left.get(key) != right.get(key):
            if key == "groups":
                for ga, gb in zip(left[key], right[key], strict=False):
                    if ga != gb:
                        return f" first different group: {json.dumps(ga)[:700]} vs {json.dumps(gb)[:700]}"
            return f" first different key {key}: {str(left.get(key))[:300]} vs {str(right.get(key))[:300]}"
    return ""


def _alone_nic(text: str) -> str | None:
    data = _without_host(text) or {}
    for g in data.get("groups", []):
        devs = [d for d in g["devices"] if not d["is_bridge"]]
        if len(devs) == 1 and devs[0]["driver"] == "e1000e" and g["verdict"] == "bindable":
            return str(devs[0]["address"])
    return None


def _driver(text: str, address: str) -> str | None:
    data = _without_host(text) or {}
    for g in data.get("groups", []):
        for d in g["devices"]:
            if d["address"] == address:
                return str(d["driver"])
    return None


def finish(check: Check, work: Path, boot: subprocess.Popen[bytes], out: Path, started: float) -> int:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "done").touch()
        boot.wait(timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(boot.pid, signal.SIGTERM)  # the boot script's trap kills QEMU by its pidfile
        boot.wait(timeout=60)
    try:
        log = (work / "boot.out").read_text(errors="replace")
    except OSError:
        log = ""
    result = {"seconds": round(time.monotonic() - started, 1), "checks": check.results,
              "ok": bool(check.results) and all(r["ok"] for r in check.results), "boot_log_tail": log[-3000:]}
    dest = CHECKOUT / "build" / "lab"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "fleet-lab.json").write_text(json.dumps(result, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    say(f"{sum(r['ok'] for r in check.results)}/{len(check.results)} checks passed in {result['seconds']} s"
        f" (build/lab/fleet-lab.json)")
    return 0 if result["ok"] else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--timeout", type=int, default=900, help="seconds the guest may take (default 900)")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
