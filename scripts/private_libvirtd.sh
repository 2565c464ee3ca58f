#!/bin/bash
# Run a command next to a private libvirtd + virtlogd, inside the namespaces this script is
# started in (unshare --mount --net --pid --fork --mount-proc --propagation private), modeled on
# ../shared/lab/04-host-libvirt.sh: /etc/libvirt and /var/{lib,cache,log}/libvirt are private
# copies under WORKDIR, /run is a tmpfs, the host's cgroups are hidden, the network namespace is
# empty. The daemons are stopped by their pidfiles; the PID namespace ends with this script, so
# nothing can outlive it.
#   private_libvirtd.sh WORKDIR COMMAND [ARGS...]
set -u
W=$1; shift
[ "$$" = 1 ] || { echo "private_libvirtd.sh: must be PID 1 of a new PID namespace" >&2; exit 90; }

private_dir() {  # replace $1 by a private copy (changes are discarded with WORKDIR)
    local src=$1 dst=$W/root$1
    mkdir -p "$dst"
    [ -d "$src" ] && cp -a "$src/." "$dst/"
    mkdir -p "$src"
    mount --bind "$dst" "$src"
}
mount -t tmpfs -o mode=755 tmpfs /run || exit 91
for d in /etc/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do private_dir "$d" || exit 92; done
rm -f /etc/libvirt/qemu/networks/autostart/* 2>/dev/null
# libvirt reads /proc/mounts for cgroups; hide the host's (an over-mount is not enough)
umount -R -l /sys/fs/cgroup 2>/dev/null
mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
ip link set lo up 2>/dev/null
mkdir -p /run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu

stop_daemons() {
    local f p i
    for f in "$W/libvirtd.pid" "$W/virtlogd.pid"; do
        [ -s "$f" ] || continue
        p=$(cat "$f")
        if grep -qE 'libvirtd|virtlogd' "/proc/$p/comm" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null
        fi
        rm -f "$f"
    done
}
trap stop_daemons EXIT

export LIBVIRT_LOG_OUTPUTS="3:file:$W/libvirtd.log"
virtlogd -d -p "$W/virtlogd.pid" || exit 93
libvirtd -d -p "$W/libvirtd.pid" || exit 94
unset LIBVIRT_LOG_OUTPUTS
t0=$(date +%s.%N)
for i in $(seq 1 240); do
    [ -S /run/libvirt/libvirt-sock ] && virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.5
done
[ -S /run/libvirt/libvirt-sock ] || { echo "libvirtd did not come up" >&2; tail -20 "$W/libvirtd.log" >&2; exit 95; }
echo "libvirtd up after $(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo '?') s" >&2
"$@"
