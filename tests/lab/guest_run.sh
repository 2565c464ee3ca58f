#!/bin/bash
# Runs INSIDE the lab guest: the LAB_GUEST_CMD of tests/lab/run_lab.py.
#   guest_run.sh CHECKOUT PYTHON PYTEST_TIMEOUT [PYTEST ARGS...]
# Starts a private libvirtd (../shared/lab/lib-libvirt.sh lv_start) when libvirt is installed,
# runs the lab suite (tests/lab, results in /out/lab-results.json and /out/junit.xml) and the
# benchmark of record (tests/lab/bench_bind.py, /out/bench.json), stops libvirtd by its
# pidfile, and exits with pytest's status.
set -u
CHECKOUT=$1 PY=$2 PYTEST_TIMEOUT=$3
shift 3
cd "$CHECKOUT" || exit 2
export VFIO_TUI_LAB=1 LAB_RESULTS=/out/lab-results.json
T0=$(date +%s.%N)
stamp() { printf '[guest +%5.1fs] %s\n' "$(echo "$(date +%s.%N) - $T0" | bc)" "$*"; }

LV_UP=0
if [ "${LAB_NO_LIBVIRT:-0}" != 1 ] && command -v libvirtd >/dev/null && command -v virtlogd >/dev/null; then
    . /lab/lib.sh
    . /lab/lib-libvirt.sh
    LV_D=/tmp/lab-libvirt
    stamp "starting a private libvirtd"
    if lv_start > /out/libvirtd-start.txt 2>&1; then LV_UP=1; fi
    stamp "libvirtd up=$LV_UP: $(tail -1 /out/libvirtd-start.txt)"
fi
stop_libvirt() {
    if [ "$LV_UP" = 1 ]; then
        for d in $(virsh -c qemu:///system list --name 2>/dev/null); do virsh -c qemu:///system destroy "$d" >/dev/null 2>&1; done
        lv_stop
        stamp "libvirtd stopped"
    fi
}
trap stop_libvirt EXIT

stamp "pytest tests/lab"
timeout --kill-after=10 "$PYTEST_TIMEOUT" "$PY" -m pytest tests/lab -p no:cacheprovider \
    -p no:textual-snapshot -p no:syrupy -v -rA \
    --junitxml=/out/junit.xml "$@"
rc=$?
stamp "pytest rc=$rc"
if [ "${LAB_NO_BENCH:-0}" != 1 ]; then
    timeout --kill-after=10 240 "$PY" tests/lab/bench_bind.py --json /out/bench.json --profile /out/bench-profile.txt \
        ${LAB_BENCH_AGAINST:+--against "$LAB_BENCH_AGAINST"} || stamp "benchmark failed rc=$?"
fi
exit $rc
