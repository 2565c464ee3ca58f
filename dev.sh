#!/usr/bin/env bash
# vfio-tui developer entry point. Idempotent: the first run installs what is missing
# (Debian packages, a venv with the project), later runs only check and go.
#
#   ./dev.sh demo [ARGS]   the app on the built-in demo host (no root, no libvirtd needed)
#   ./dev.sh test          the whole suite: lint, types, unit/integration tests, then the lab stage
#   ./dev.sh test-unit     lint, types and the tests that need no lab VM
#   ./dev.sh test-lab      the real-kernel tests inside the VT-d lab VM (needs ../shared/lab)
#   ./dev.sh bench         the performance table of record (prints it, writes bench/RESULTS.md)
#   ./dev.sh bench-all     every benchmark script (they print numbers)
#   ./dev.sh screenshots   regenerate screenshots/ from the real app
#   ./dev.sh run ARGS      run vfio-tui with ARGS from the venv
set -euo pipefail
cd "$(dirname "$0")"
HERE=$(pwd)
VENV="$HERE/.venv"

# Why Debian's /usr/bin/python3 and a pip-built libvirt-python: the venv must run unchanged
# inside the lab VM (which mounts this machine's root), and pip's libvirt-python builds against
# Debian 12's libvirt 9.0 in seconds once libvirt-dev is there. A pyenv python may be first on PATH.
PY=/usr/bin/python3
BASE_PACKAGES=(python3 python3-venv python3-dev gcc pkg-config libvirt-dev libvirt0 hwdata pciutils kmod)
# Every system piece a unit/integration test needs. libvirt-daemon-system creates the libvirt-qemu
# user the private libvirtd test starts QEMU as (libvirt-daemon alone does not: fresh-machine finding).
TEST_PACKAGES=(tmux librsvg2-bin chromium libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-qemu
               libvirt-clients qemu-system-x86 iproute2 procps util-linux psmisc libxml2-utils zsh groff-base
               seabios ipxe-qemu openssh-server openssh-client python3-yaml)
# seabios, ipxe-qemu: real option ROM images (tests/gpu/test_rom.py); zsh, groff-base: completion and man page
# tests; openssh-server/-client: the fleet's sshd tests; python3-yaml: the KubeVirt export is read back as YAML.

log() { printf '[dev.sh] %s\n' "$*" >&2; }

missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

ensure_apt() {
    local missing
    missing=$(missing_packages "$@")
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        log "missing Debian packages: $missing — run as root (or apt-get install them) once"
        exit 2
    fi
    log "installing Debian packages: $(echo $missing)"
    local try
    for try in 1 2 3 4 5; do
        if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends $missing >/tmp/vfio-tui-apt.log 2>&1; then
            return 0
        fi
        log "apt-get failed (try $try; dpkg lock?), retrying in 10 s; see /tmp/vfio-tui-apt.log"
        sleep 10
    done
    tail -20 /tmp/vfio-tui-apt.log >&2
    exit 2
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV with $PY"
        "$PY" -m venv "$VENV"
    fi
    local stamp want
    want=$(cat pyproject.toml | sha256sum | cut -c1-16)
    stamp=$(cat "$VENV/.vfio-tui-stamp" 2>/dev/null || true)
    if [ "$stamp" != "$want" ]; then
        log "installing the project and its dependencies into the venv"
        if ! { "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip &&
               "$VENV/bin/pip" install -q --disable-pip-version-check -e '.[dev]'; } >/tmp/vfio-tui-pip.log 2>&1; then
            tail -30 /tmp/vfio-tui-pip.log >&2
            log "pip install failed (full log: /tmp/vfio-tui-pip.log)"
            exit 2
        fi
        echo "$want" > "$VENV/.vfio-tui-stamp"
    fi
}

lint() {
    log "ruff"
    "$VENV/bin/ruff" check .
    log "mypy --strict vfio_tui tests (and tests/lab, whose modules import each other as the guest runs them)"
    "$VENV/bin/mypy" --strict vfio_tui tests
    MYPYPATH=tests/lab "$VENV/bin/mypy" --strict --explicit-package-bases tests/lab/*.py
}

STAGES=()
stage() { STAGES+=("$*"); }

summary() {
    local s
    printf '\n[dev.sh] stages:\n' >&2
    for s in "${STAGES[@]}"; do printf '  %s\n' "$s" >&2; done
}

unit() {
    lint
    stage "lint (ruff, mypy --strict vfio_tui tests): ran, passed"
    log "pytest"
    if "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"; then
        stage "unit/integration (pytest): ran, passed"
    else
        local rc=$?
        stage "unit/integration (pytest): ran, FAILED (exit $rc)"
        summary
        exit "$rc"
    fi
}

lab_extra() {
    local what=$1 out rc=0
    shift
    out=$(mktemp)
    "$VENV/bin/python" "$@" | tee "$out" || rc=$?
    if grep -qE '^(lab stage|fleet lab) skipped:' "$out"; then
        stage "  lab, $what: SKIPPED: $(grep -E '^(lab stage|fleet lab) skipped:' "$out" | head -1 | cut -d: -f2-)"
    elif [ "$rc" = 0 ]; then
        stage "  lab, $what: ran, passed ($(tail -1 "$out"))"
    else
        stage "  lab, $what: ran, FAILED (exit $rc)"
    fi
    rm -f "$out"
    return "$rc"
}

lab() {
    if [ ! -d ../shared/lab ]; then
        stage "real-kernel lab: SKIPPED: ../shared/lab is not beside this checkout"
        return 0
    fi
    local out rc=0
    out=$(mktemp)
    "$VENV/bin/python" tests/lab/run_lab.py "$@" | tee "$out" || rc=$?
    if grep -q '^lab stage skipped:' "$out"; then
        stage "real-kernel lab: SKIPPED: $(grep '^lab stage skipped:' "$out" | head -1 | cut -d: -f2-)"
        stage "  install what it needs with: bash ../shared/lab/ci-install.sh   (or run with CI=true)"
    elif [ "$rc" = 0 ]; then
        stage "real-kernel lab: ran, passed ($(tail -1 "$out"))"
    else
        stage "real-kernel lab: ran, FAILED (exit $rc)"
    fi
    rm -f "$out"
    if [ "$rc" = 0 ]; then
        # The topologies the built-in guest does not have, each in its own boot: a GPU with its console
        # (issue 13), an NVMe with SR-IOV (issue 17), and the guest as a second host over ssh (issue 18).
        lab_extra "GPU topology (console + HDA, the libvirt hook)" tests/lab/run_lab.py --no-bench \
            --devices tests/lab/topologies/gpu-console.txt -k "gpu or hook" --results build/lab-gpu || rc=$?
        lab_extra "SR-IOV topology (NVMe VFs)" tests/lab/run_lab.py --no-bench \
            --devices tests/lab/topologies/sriov-nvme.txt -k sriov --results build/lab-sriov || rc=$?
        lab_extra "fleet: the guest as a second host over ssh" tests/lab/fleet_lab.py || rc=$?
    fi
    # the lab's benchmark of record goes into the performance table (bench/RESULTS.md)
    if [ -f build/lab/bench.json ] && [ build/lab/bench.json -nt bench/RESULTS.md ]; then
        "$VENV/bin/python" bench/report.py --lab build/lab/bench.json || true
    fi
    return "$rc"
}

cmd=${1:-help}
shift || true
case "$cmd" in
    demo)
        ensure_apt "${BASE_PACKAGES[@]}"; ensure_venv
        exec "$VENV/bin/vfio-tui" --demo "$@" ;;
    run)
        ensure_apt "${BASE_PACKAGES[@]}"; ensure_venv
        exec "$VENV/bin/vfio-tui" "$@" ;;
    test)
        ensure_apt "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; ensure_venv
        unit "$@"
        rc=0; lab || rc=$?
        summary; exit "$rc" ;;
    test-unit)
        ensure_apt "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; ensure_venv
        unit "$@"; stage "real-kernel lab: not run (test-unit)"; summary ;;
    test-lab)
        ensure_apt "${BASE_PACKAGES[@]}"; ensure_venv
        lab "$@" ;;
    lint)
        ensure_venv; lint ;;
    bench)
        # The table of record (bench/RESULTS.md): gcc builds the raw-floor reader, lspci and
        # GNU time (peak RSS of each process) and valgrind (instruction counts) are what it
        # measures against / with.
        ensure_apt "${BASE_PACKAGES[@]}" time valgrind; ensure_venv
        BENCH_KMOD_FETCH=1 "$VENV/bin/python" bench/report.py "$@" ;;
    bench-all)
        ensure_apt "${BASE_PACKAGES[@]}" time; ensure_venv
        for b in bench/*.py; do case "$b" in bench/harness.py|bench/report.py) ;; *) log "$b"; "$VENV/bin/python" "$b" ;; esac; done ;;
    screenshots)
        ensure_apt "${BASE_PACKAGES[@]}" librsvg2-bin; ensure_venv
        "$VENV/bin/python" scripts/screenshots.py ;;
    *)
        sed -n '2,13p' "$0"; exit 2 ;;
esac
