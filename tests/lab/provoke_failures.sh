#!/bin/bash
# Runs INSIDE the lab guest (as root): provokes VFIO passthrough failures on purpose and saves
# what the real kernel, QEMU and libvirt print, for tests/fixtures/explain/real_logs.toml.
#   provoke_failures.sh [OUT_DIR]          (default /out/provoke)
# Started by tests/lab/provoke.py (on this machine), which boots the guest with the topology
# it writes (the built-in one plus an SR-IOV NVMe, a device with a BAR too big to assign and
# an e1000e whose ROM is not a ROM), a VT-d WITHOUT interrupt remapping, kernel parameters the
# guest kernel complains about (an obsolete one, ACS redirect on a device without ACS, a mistyped
# resource_alignment), and an HMP monitor on the L1 QEMU (pcie_aer_inject_error, by request through
# OUT_DIR/aer-request; case aer now uses the guest kernel's own aer_inject instead).
#
# Every case gets OUT_DIR/NN-name/: what.txt (what was provoked), transcript.txt (each command
# and its whole output, as run), dmesg.txt (the kernel lines printed during the case),
# qemu-DOMAIN.log (libvirt's per-domain QEMU log) and libvirtd.txt (libvirtd's error/warning
# lines during the case). Nothing is filtered or rewritten: these files are the raw material.
# Each case puts the devices back where they were (raw sysfs), so the next starts clean.
set -u
OUT=${1:-/out/provoke}
mkdir -p "$OUT"
. /lab/lib.sh
. /lab/lib-libvirt.sh
LV_D=/tmp/lab-libvirt
VIRSH=(virsh -c qemu:///system)
QEMU=(qemu-system-x86_64 -accel tcg -machine pc -nodefaults -display none -monitor none -serial none -S -m 128)
T0=$(now)
stamp() { printf '[provoke +%6.1fs] %s\n' "$(elapsed "$T0")" "$*"; }

# ---------------------------------------------------------------------------------- devices
LONE=0000:01:00.0        # e1000e alone behind a root port
MF0=0000:02:00.0         # e1000e + xhci, one group
BRIDGE=0000:03:00.0      # pcie-pci-bridge (driverless) + 04:01.0 rtl8139 + 04:02.0 e1000
BR1=0000:04:01.0 BR2=0000:04:02.0
SW1=0000:07:00.0         # e1000e behind a switch downstream port (the port shares the group)
BADROM=0000:08:00.0      # e1000e whose ROM BAR holds a file that is not an option ROM
RC0=0000:00:07.0         # e1000 on the root bus (no reset method)
PF=                      # the SR-IOV NVMe (1b36:0010), found below
BIGBAR=                  # pci-testdev (1b36:0005) with a 1 TiB BAR the kernel could not assign
for d in /sys/bus/pci/devices/*; do
    case "$(cat "$d/vendor"):$(cat "$d/device")" in
        0x1b36:0x0010) [ -z "$PF" ] && PF=$(basename "$d") ;;
        0x1b36:0x0005) BIGBAR=$(basename "$d") ;;
    esac
done
grp() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
drv() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && basename "$l"; }
vfio_up() {  # vfio-pci loaded, with the workaround for this VT-d without interrupt remapping
    modprobe vfio_iommu_type1
    modprobe vfio-pci "$@"
    echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
}
wait_pid() {  # PID SECONDS: wait for a child, but not forever
    local i
    for i in $(seq 1 "$2"); do kill -0 "$1" 2>/dev/null || break; sleep 1; done
    kill -0 "$1" 2>/dev/null && stamp "pid $1 still running after $2 s"
    return 0
}
nodedev() { local a=${1//[:.]/_}; echo "pci_$a"; }

# raw sysfs, as the lab tests do: to vfio-pci with driver_override, and back
to_vfio() {
    local a=$1
    echo vfio-pci > "/sys/bus/pci/devices/$a/driver_override"
    [ -e "/sys/bus/pci/devices/$a/driver" ] && echo "$a" > "/sys/bus/pci/devices/$a/driver/unbind"
    echo "$a" > /sys/bus/pci/drivers_probe
}
give_back() {
    local a=$1
    [ -e "/sys/bus/pci/devices/$a" ] || return 0
    echo > "/sys/bus/pci/devices/$a/driver_override"
    if [ "$(drv "$a")" = vfio-pci ]; then echo "$a" > /sys/bus/pci/drivers/vfio-pci/unbind; fi
    [ -e "/sys/bus/pci/devices/$a/driver" ] || echo "$a" > /sys/bus/pci/drivers_probe
}
BASELINE=$OUT/bindings-before.txt
bindings() { for d in /sys/bus/pci/devices/*; do printf '%s %s %s\n' "$(basename "$d")" "$(drv "$(basename "$d")")" "$(cat "$d/driver_override")"; done; }

# ---------------------------------------------------------------------------------- cases
# PROVOKE_CASES="name ...": run only these cases (default: all); directories are numbered in run order
want() { [ -z "${PROVOKE_CASES:-}" ] || [[ " $PROVOKE_CASES " == *" $1 "* ]]; }
N=0 D= DMESG0=0 LVLOG0=0 DOMS=()
LVLOG=$LV_D/libvirtd-debug.log
case_begin() {
    N=$((N + 1))
    D=$OUT/$(printf '%02d' "$N")-$1
    mkdir -p "$D"
    printf '%s\n' "$2" > "$D/what.txt"
    DMESG0=$(dmesg | wc -l)
    LVLOG0=$(stat -c %s "$LVLOG" 2>/dev/null || echo 0)
    DOMS=()
    stamp "case $N $1: $2"
}
case_end() {
    local dom
    dmesg | tail -n +"$((DMESG0 + 1))" > "$D/dmesg.txt"
    for dom in "${DOMS[@]}"; do
        [ -f "/var/log/libvirt/qemu/$dom.log" ] && cp "/var/log/libvirt/qemu/$dom.log" "$D/qemu-$dom.log"
        "${VIRSH[@]}" destroy "$dom" >/dev/null 2>&1
        "${VIRSH[@]}" undefine "$dom" >/dev/null 2>&1
    done
    [ -f "$LVLOG" ] && tail -c +"$((LVLOG0 + 1))" "$LVLOG" | grep -E ': (error|warning) : ' > "$D/libvirtd.txt"
    bindings > "$D/bindings-after.txt"
    stamp "case $N done"
}
# rec CMD...: run it (bounded), append "$ CMD", its output and its status to the transcript
rec() {
    local out rc
    out=$(timeout --kill-after=5 "${REC_TIMEOUT:-120}" "$@" 2>&1)
    rc=$?
    printf '$ %s\n%s\n[rc=%s]\n\n' "$*" "$out" "$rc" >> "$D/transcript.txt"
    printf '  rc=%s %s\n' "$rc" "$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-240)"
    return $rc
}
# sh_rec 'shell text': the same for a shell command line (redirections, as a user types them)
sh_rec() { rec bash -c "$1"; }

hostdev() {  # ADDR MANAGED [INNER XML]
    local a=$1 dom=${1%%:*} rest=${1#*:}
    local bus=${rest%%:*} sf=${rest#*:}
    printf "<hostdev mode='subsystem' type='pci' managed='%s'><source><address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source>%s</hostdev>\n" \
        "$2" "$dom" "$bus" "${sf%%.*}" "${sf#*.}" "${3:-}"
}
dom_xml() {  # NAME DEVICES_XML [TOP_XML]
    cat <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='pty'><target port='0'/></serial>
    <memballoon model='none'/>
    $2
  </devices>
  ${3:-}
</domain>
EOF
}
define() {  # NAME DEVICES_XML [TOP_XML]: define the domain (recorded), remember it for case_end
    dom_xml "$@" > "/tmp/$1.xml"
    DOMS+=("$1")
    cp "/tmp/$1.xml" "$D/$1.xml"
    rec "${VIRSH[@]}" define "/tmp/$1.xml"
}
start() { rec "${VIRSH[@]}" start "$1"; }
running() { [ "$("${VIRSH[@]}" domstate "$1" 2>/dev/null)" = running ]; }
# a QEMU started by hand (no libvirt), bounded; its stderr is what a user sees
qemu_rec() { REC_TIMEOUT=${QEMU_TIMEOUT:-25} rec "${QEMU[@]}" "$@"; }

stamp "kernel $(uname -r); $(qemu-system-x86_64 --version | head -1); $(libvirtd --version)"
{ uname -a; cat /proc/cmdline; qemu-system-x86_64 --version | head -1; libvirtd --version; virsh --version
  echo "PF=$PF BIGBAR=$BIGBAR"; } > "$OUT/versions.txt"
modprobe vfio-pci
modprobe nvme 2>/dev/null
bindings > "$BASELINE"
LV_UP=0
if lv_start > "$OUT/libvirtd-start.txt" 2>&1; then LV_UP=1; fi
stamp "libvirtd up=$LV_UP"
stop_all() {
    local d
    for d in $("${VIRSH[@]}" list --name 2>/dev/null); do "${VIRSH[@]}" destroy "$d" >/dev/null 2>&1; done
    [ "$LV_UP" = 1 ] && lv_stop
    [ -n "${SESSION_PID:-}" ] && kill_pids "$SESSION_PID"
    bindings > "$OUT/bindings-after.txt"
    diff "$BASELINE" "$OUT/bindings-after.txt" > "$OUT/bindings-diff.txt" && echo "bindings restored" >> "$OUT/bindings-diff.txt"
    stamp "done"
}
trap stop_all EXIT

# With allow_unsafe_interrupts=N this VT-d refuses every container; the cases after the first set it to Y
# (vfio_up), as a user of such a host would.
allow_unsafe() { echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts; }

# ================================================================ no interrupt remapping (K01/E07)
if want no-intremap; then
    case_begin no-intremap "managed hostdev started on a VT-d without interrupt remapping (intel-iommu,intremap=off); allow_unsafe_interrupts=N (the default)"
    rec cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
    define p-noir "$(hostdev $LONE yes)"
    start p-noir
    case_end
fi
allow_unsafe

# ================================================================ a domain that holds 01:00.0
if want in-use || want unbind-held; then
    case_begin unsafe-interrupts "the same domain after echo Y > allow_unsafe_interrupts (the workaround): the start works; then it stays running for the next cases"
    rec cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts
    define p-run "$(hostdev $LONE yes)"
    start p-run
    sleep 5
    DOMS=()   # keep p-run running for the next cases
    case_end
    cp /var/log/libvirt/qemu/p-run.log "$D/qemu-p-run.log" 2>/dev/null
fi
if want in-use && running p-run; then
    case_begin in-use "01:00.0 is held by the running domain p-run: a second domain, a bare QEMU, nodedev-detach/reset, save and QMP migrate"
    define p-second "$(hostdev $LONE yes)"
    start p-second
    qemu_rec -device "vfio-pci,host=$LONE"
    rec "${VIRSH[@]}" nodedev-detach "$(nodedev $LONE)"
    rec "${VIRSH[@]}" nodedev-reattach "$(nodedev $LONE)"
    rec "${VIRSH[@]}" nodedev-reset "$(nodedev $LONE)"
    rec "${VIRSH[@]}" save p-run /tmp/p-run.save
    rec "${VIRSH[@]}" qemu-monitor-command p-run '{"execute":"migrate","arguments":{"uri":"exec:cat > /dev/null"}}'
    rec "${VIRSH[@]}" managedsave p-run
    case_end
fi
if want unbind-held; then
    case_begin unbind-held "echo 01:00.0 > vfio-pci/unbind while p-run (QEMU) holds it: the kernel relays the request to QEMU, which asks the firmware-only guest to unplug; nobody acknowledges; the writer is interrupted after 25 s; then p-run is destroyed"
    DOMS=(p-run)
    running p-run || start p-run
    ( timeout 25 bash -c "echo $LONE > /sys/bus/pci/drivers/vfio-pci/unbind"; echo "unbind writer exit $?" > /tmp/unbind-rc ) &
    UNB=$!
    sleep 35
    rec cat /tmp/unbind-rc
    rec "${VIRSH[@]}" domstate p-run --reason
    rec "${VIRSH[@]}" destroy p-run
    wait_pid "$UNB" 60
    sleep 3
    rec cat /tmp/unbind-rc
    rec readlink /sys/bus/pci/devices/$LONE/driver
    case_end
fi
"${VIRSH[@]}" destroy p-run >/dev/null 2>&1; "${VIRSH[@]}" undefine p-run >/dev/null 2>&1
give_back $LONE

# ================================================================ QEMU by hand: bad -device options
if want qemu-options; then
    to_vfio $SW1
    case_begin qemu-options "vfio-pci options QEMU rejects, QEMU started by hand (07:00.0 on vfio-pci)"
    qemu_rec -device "vfio-pci,host=$SW1,id=a" -device "vfio-pci,host=$SW1,id=b"
    qemu_rec -device vfio-pci
    qemu_rec -device "vfio-pci,host=$SW1,x-pci-vendor-id=0xffff"
    qemu_rec -device "vfio-pci,host=$SW1,addr=0x1"
    qemu_rec -device "vfio-pci,host=$SW1,x-balloon-allowed=on"
    case_end
    give_back $SW1
fi

if want no-req-channel; then
    to_vfio $SW1
    case_begin no-req-channel "07:00.0 held by a hand-started QEMU with x-req=off (no device request channel), then echo > vfio-pci/unbind"
    "${QEMU[@]}" -device "vfio-pci,host=$SW1,x-req=off" > "$D/qemu-hand.txt" 2>&1 &
    QP=$!
    sleep 12
    ( timeout 15 bash -c "echo $SW1 > /sys/bus/pci/drivers/vfio-pci/unbind"; echo "unbind writer exit $?" > /tmp/unbind-rc ) &
    UNB=$!
    sleep 20
    kill_pids $QP
    wait_pid "$UNB" 60
    sleep 2
    rec cat /tmp/unbind-rc
    case_end
    give_back $SW1
fi

if want qemu-commandline; then
    case_begin qemu-commandline "07:00.0 on vfio-pci passed with <qemu:commandline> -device vfio-pci instead of a <hostdev> (libvirt's namespace and cgroup do not know it)"
    to_vfio $SW1
    define p-cmdline "" "<qemu:commandline><qemu:arg value='-device'/><qemu:arg value='vfio-pci,host=$SW1'/></qemu:commandline>"
    start p-cmdline
    case_end
    give_back $SW1
fi

# ================================================================ devices QEMU cannot open
if want bridge-device; then
    case_begin bridge-device "group $(grp $BR1) viable (04:01.0 and 04:02.0 on vfio-pci, the bridge 03:00.0 driverless); QEMU started by hand with host=03:00.0 (the bridge)"
    to_vfio $BR1; to_vfio $BR2
    qemu_rec -device "vfio-pci,host=$BRIDGE"
    case_end
    give_back $BR1; give_back $BR2
fi

if want bar-unassigned && [ -n "$BIGBAR" ]; then
    case_begin bar-unassigned "$BIGBAR (pci-testdev, membar=1T): the kernel could not assign its 1 TiB BAR at boot; managed hostdev started"
    rec bash -c "dmesg | grep -F '$BIGBAR'"
    define p-bigbar "$(hostdev $BIGBAR yes)"
    start p-bigbar
    case_end
    give_back $BIGBAR
fi

if want rom-not-a-rom; then
    case_begin rom-not-a-rom "$BADROM's ROM BAR holds a file that is not an option ROM; managed hostdev, the L2 firmware reads the ROM"
    define p-badrom "$(hostdev $BADROM yes)"
    start p-badrom
    sleep 40
    rec "${VIRSH[@]}" domstate p-badrom --reason
    case_end
    give_back $BADROM
fi

if want rom-file; then
    case_begin rom-file "<rom file=...> on the hostdev: a file that does not exist, and an empty file"
    : > /tmp/empty.rom; chmod 644 /tmp/empty.rom
    define p-romfile "$(hostdev $LONE yes "<rom file='/var/lib/libvirt/missing-vbios.rom'/>")"
    start p-romfile
    define p-romempty "$(hostdev $LONE yes "<rom file='/tmp/empty.rom'/>")"
    start p-romempty
    case_end
    give_back $LONE
fi

if want guest-address; then
    case_begin guest-address "<hostdev> given guest address 00:01.0, which the pc machine's PIIX3 occupies"
    define p-addr "$(hostdev $LONE yes "<address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>")"
    start p-addr
    case_end
    give_back $LONE
fi

if want hard-limit; then
    case_begin hard-limit "<memtune><hard_limit> 64 MiB below the 128 MiB of guest RAM: QEMU cannot pin the guest's memory"
    define p-memlock "$(hostdev $LONE yes)" "<memtune><hard_limit unit='MiB'>64</hard_limit></memtune>"
    start p-memlock
    case_end
    give_back $LONE
fi

# ================================================================ modules
if want no-type1; then
    case_begin no-type1 "vfio_iommu_type1 unloaded (vfio and vfio-pci loaded); managed hostdev started"
    rec rmmod vfio_iommu_type1
    define p-notype1 "$(hostdev $LONE yes)"
    start p-notype1
    case_end
    vfio_up
    give_back $LONE
fi

if want vfio-pci-prohibited; then
    case_begin vfio-pci-prohibited "vfio-pci unloaded and blacklisted in /etc/modprobe.d (vfio loaded, /dev/vfio/vfio present); managed hostdev started"
    rec rmmod vfio_pci
    echo "blacklist vfio_pci" > /etc/modprobe.d/zz-lab-provoke.conf
    rec cat /etc/modprobe.d/zz-lab-provoke.conf
    define p-blacklist "$(hostdev $LONE yes)"
    start p-blacklist
    case_end
    give_back $LONE
    rm -f /etc/modprobe.d/zz-lab-provoke.conf
    vfio_up
fi

if want vfio-pci-install-false; then
    case_begin vfio-pci-install-false "vfio-pci unloaded and 'install vfio_pci /bin/false' in /etc/modprobe.d; managed hostdev started"
    rec rmmod vfio_pci
    echo "install vfio_pci /bin/false" > /etc/modprobe.d/zz-lab-provoke.conf
    rec cat /etc/modprobe.d/zz-lab-provoke.conf
    define p-nomodule "$(hostdev $LONE yes)"
    start p-nomodule
    case_end
    rm -f /etc/modprobe.d/zz-lab-provoke.conf
    vfio_up
    give_back $LONE
fi

# ================================================================ libvirt refusals
if want nodedev-reset; then
    case_begin nodedev-reset "virsh nodedev-reset of devices on their host drivers: 04:01.0 (shares bus 04 with 04:02.0) and 00:07.0 (root bus, no reset method)"
    rec "${VIRSH[@]}" nodedev-reset "$(nodedev $BR1)"
    rec "${VIRSH[@]}" nodedev-reset "$(nodedev $RC0)"
    rec cat "/sys/bus/pci/devices/$RC0/reset_method"
    case_end
fi

if want hostdev-xml; then
    case_begin hostdev-xml "<hostdev> variants this libvirt/QEMU refuse: <driver name='kvm'/>, <driver name='xen'/>, a USB device that is not there, a SCSI adapter that is not there, an mdev UUID that does not exist"
    define p-kvm "$(hostdev $LONE yes "<driver name='kvm'/>")"
    start p-kvm
    define p-xen "$(hostdev $LONE yes "<driver name='xen'/>")"
    start p-xen
    define p-usb "<hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>"
    start p-usb
    define p-scsi "<controller type='scsi' model='virtio-scsi'/><hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host7'/><address bus='0' target='0' unit='0'/></source></hostdev>"
    start p-scsi
    define p-mdev "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>"
    start p-mdev
    case_end
    give_back $LONE
fi

# libvirt's own sysfs writes, made to fail with read-only bind mounts (in the guest only): the lines are
# libvirt's, the errno (EROFS) is the lab's.
ro_over() { mount --bind /tmp/ro-attr "$1" && mount -o remount,bind,ro "$1"; }
if want sysfs-readonly; then
    case_begin sysfs-readonly "libvirt's own sysfs writes failing: e1000e's unbind, then drivers_probe, then 01:00.0's driver_override made read-only (bind mounts in the guest); managed hostdev started each time"
    printf '' > /tmp/ro-attr; chmod 444 /tmp/ro-attr
    ro_over /sys/bus/pci/drivers/e1000e/unbind
    define p-unbind "$(hostdev $LONE yes)"
    start p-unbind
    umount /sys/bus/pci/drivers/e1000e/unbind
    give_back $LONE
    ro_over /sys/bus/pci/drivers_probe
    define p-probe "$(hostdev $LONE yes)"
    start p-probe
    umount /sys/bus/pci/drivers_probe
    give_back $LONE
    ro_over /sys/bus/pci/devices/$LONE/driver_override
    define p-override "$(hostdev $LONE yes)"
    start p-override
    umount /sys/bus/pci/devices/$LONE/driver_override
    case_end
    give_back $LONE
fi

if want reattach-readonly; then
    case_begin reattach-readonly "a managed hostdev domain runs; drivers_probe is made read-only (bind mount in the guest) before virsh destroy, so libvirt cannot give 01:00.0 back to e1000e"
    define p-reattach "$(hostdev $LONE yes)"
    start p-reattach
    printf '' > /tmp/ro-attr; chmod 444 /tmp/ro-attr
    ro_over /sys/bus/pci/drivers_probe
    rec "${VIRSH[@]}" destroy p-reattach
    umount /sys/bus/pci/drivers_probe
    rec readlink /sys/bus/pci/devices/$LONE/driver
    case_end
    give_back $LONE
fi

if want group-type; then
    case_begin group-type "echo identity > /sys/kernel/iommu_groups/N/type for a group whose device is bound (01:00.0) and for a group of two devices (02:00.x)"
    sh_rec "echo identity > /sys/kernel/iommu_groups/$(grp $LONE)/type"
    sh_rec "echo identity > /sys/kernel/iommu_groups/$(grp $MF0)/type"
    case_end
fi

# ================================================================ SR-IOV (QEMU's NVMe with sriov_max_vfs=2)
S=/sys/bus/pci/devices/$PF
if want sriov-nvme && [ -n "$PF" ]; then
    case_begin sriov-nvme "SR-IOV on $PF (nvme driver): enable 2 VFs, ask for 1 more while 2 are on, then take the PF to vfio-pci with its VFs enabled"
    rec cat $S/sriov_totalvfs
    sh_rec "echo 0 > $S/sriov_drivers_autoprobe"
    sh_rec "echo 2 > $S/sriov_numvfs"
    sh_rec "echo 1 > $S/sriov_numvfs"
    sh_rec "echo 3 > $S/sriov_numvfs"
    sh_rec "echo vfio-pci > $S/driver_override; echo $PF > $S/driver/unbind; echo $PF > /sys/bus/pci/drivers_probe"
    rec readlink $S/driver
    rec cat $S/sriov_numvfs
    sh_rec "echo 0 > $S/sriov_numvfs"
    sh_rec "echo > $S/driver_override; echo $PF > /sys/bus/pci/drivers_probe"
    rec readlink $S/driver
    sh_rec "echo 0 > $S/sriov_numvfs"
    case_end
    give_back $PF
fi

if want sriov-vfio && [ -n "$PF" ]; then
    case_begin sriov-vfio "SR-IOV through vfio-pci (enable_sriov=1): PF on vfio-pci, 2 VFs; a VF opened by QEMU (by hand, then through libvirt) without a VF token"
    for a in $(bindings | awk '$2 == "vfio-pci" {print $1}'); do give_back "$a"; done
    rec rmmod vfio_pci
    rec modprobe vfio-pci enable_sriov=1
    to_vfio $PF
    rec readlink $S/driver
    sh_rec "echo 0 > $S/sriov_drivers_autoprobe"
    sh_rec "echo 2 > $S/sriov_numvfs"
    VF1=$(basename "$(readlink $S/virtfn0)")
    if [ -n "$VF1" ] && [ "$VF1" != . ]; then
        to_vfio "$VF1"
        rec readlink /sys/bus/pci/devices/$VF1/driver
        qemu_rec -device "vfio-pci,host=$VF1"
        define p-vf "$(hostdev "$VF1" yes)"
        start p-vf
        give_back "$VF1"
    fi
    sh_rec "echo 0 > $S/sriov_numvfs"
    sh_rec "echo 1 > $S/sriov_drivers_autoprobe"
    case_end
    give_back $PF
    for a in $(bindings | awk '$2 == "vfio-pci" {print $1}'); do give_back "$a"; done
    rmmod vfio_pci
    vfio_up
fi

# ================================================================ an uncorrectable AER error while QEMU owns the device
# The kernel's own AER software injector (aer_inject, CONFIG_PCIEAER_INJECT): the error goes through the
# real AER recovery path, which calls vfio-pci's error handler, which signals QEMU.
# one struct aer_error_inj (drivers/pci/pcie/aer_inject.c) written to /dev/aer_inject: argv BDF UNCOR_STATUS
AER_INJECT='
import struct, sys
dom, bus, rest = sys.argv[1].split(":")
dev, fn = rest.split(".")
data = struct.pack("<BBBxIIIIIII", int(bus, 16), int(dev, 16), int(fn, 16), int(sys.argv[2], 0), 0, 0, 0, 0, 0,
                   int(dom, 16))
with open("/dev/aer_inject", "wb", buffering=0) as f:
    f.write(data)
'
if want aer; then
    case_begin aer "PCIe AER: uncorrectable errors injected into 01:00.0 with the kernel's aer_inject (a poisoned TLP, non-fatal; then a data link protocol error, fatal) while the domain p-aer owns it"
    rec modprobe aer_inject
    define p-aer "$(hostdev $LONE yes)"
    start p-aer
    sleep 10
    for unc in 0x1000 0x10; do
        running p-aer || break
        rec python3 -c "$AER_INJECT" $LONE $unc
        sleep 15
        rec "${VIRSH[@]}" domstate p-aer --reason
    done
    case_end
    give_back $LONE
fi

# ================================================================ an unprivileged libvirt (qemu:///session)
if want session; then
    case_begin session "qemu:///session as an ordinary user: a managed hostdev (libvirt must write sysfs), then managed='no' with 07:00.0 already on vfio-pci (libvirt must raise the memlock limit, QEMU must open /dev/vfio/N)"
    id provoker >/dev/null 2>&1 || useradd -m -s /bin/bash provoker
    PUID=$(id -u provoker)
    mkdir -p /run/user/$PUID && chown provoker: /run/user/$PUID && chmod 700 /run/user/$PUID
    U=(runuser -u provoker -- env HOME=/home/provoker XDG_RUNTIME_DIR=/run/user/$PUID)
    "${U[@]}" libvirtd --timeout=600 -d
    for _ in $(seq 1 120); do "${U[@]}" virsh -c qemu:///session version >/dev/null 2>&1 && break; sleep 1; done
    SESSION_PID=$(cat /run/user/$PUID/libvirt/libvirtd.pid 2>/dev/null)
    rec "${U[@]}" bash -c 'ulimit -l; ulimit -Hl'
    dom_xml s-managed "$(hostdev $SW1 yes)" > /tmp/s-managed.xml
    dom_xml s-unmanaged "$(hostdev $SW1 no)" > /tmp/s-unmanaged.xml
    chmod 644 /tmp/s-*.xml
    cp /tmp/s-*.xml "$D/"
    rec "${U[@]}" virsh -c qemu:///session define /tmp/s-managed.xml
    rec "${U[@]}" virsh -c qemu:///session start s-managed
    to_vfio $SW1
    rec "${U[@]}" virsh -c qemu:///session define /tmp/s-unmanaged.xml
    rec "${U[@]}" virsh -c qemu:///session start s-unmanaged
    cp /home/provoker/.cache/libvirt/qemu/log/s-*.log "$D/" 2>/dev/null
    "${U[@]}" virsh -c qemu:///session destroy s-unmanaged >/dev/null 2>&1
    case_end
    give_back $SW1
    [ -n "${SESSION_PID:-}" ] && kill_pids "$SESSION_PID"
    SESSION_PID=
fi

# whatever a case left on vfio-pci goes back
for a in $(bindings | awk '$2 == "vfio-pci" {print $1}'); do give_back "$a"; done
