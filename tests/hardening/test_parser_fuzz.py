"""Fuzzing the parsers of what users and hosts hand vfio-tui: qemu.conf (virConf), GRUB defaults (shell),
/etc/kernel/cmdline, modprobe.d and modules-load.d lines, and the PCI address. 10,000 examples per parser
with CI=true (tests/hardening/fuzzing.py). Each parser is total (only its own parse error, never a
traceback), lossless, and its edits do what they say; no example hangs; no regex takes 100 ms on a 1 MB
line; no parser is quadratic on a long line."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hardening.fuzzing import COUNTS, EXAMPLES, FUZZ, bounded
from vfio_tui.core import address
from vfio_tui.core.address import PciAddress
from vfio_tui.core.checks import grubdefaults, linefiles, virconf
from vfio_tui.core.checks.grubdefaults import add_kernel_param, parse_grub_defaults, remove_kernel_param
from vfio_tui.core.checks.textfile import ConfigParseError
from vfio_tui.core.checks.virconf import comment_out, parse_virconf, remove_list_items
from vfio_tui.core.errors import InputError

JUNK = st.sampled_from(["\r", "\x00", "é", "\\", "'", '"', "`", "$", "#", ";", "\n", "\t", " ", "=", "[", "]", ",",
                        "(", ")", "{", "}", "&", "|", "\ufeff", "\u202e", "\udcff"])


def _with_junk(pieces: st.SearchStrategy[list[str]]) -> st.SearchStrategy[str]:
    """Grammar pieces joined, with stray characters sprinkled in (a half-edited file)."""
    return st.lists(st.one_of(pieces.map("".join), JUNK), max_size=12).map("".join)


# --- qemu.conf ------------------------------------------------------------------------------------

_VNAME = st.sampled_from(["cgroup_device_acl", "relaxed_acs_check", "user", "group", "dynamic_ownership", "a_1",
                          "security_driver"])
_SCALAR = st.one_of(st.integers(-(2**63), 2**63 - 1).map(str), st.text("0123456789", min_size=18, max_size=40),
                    st.text(max_size=12).map(lambda s: '"' + s.replace('"', "").replace("\n", "") + '"'),
                    st.text(max_size=12).map(lambda s: "'" + s.replace("'", "").replace("\n", "") + "'"),
                    st.text(max_size=20).map(lambda s: '"""' + s.replace('"', "") + '"""'),
                    st.sampled_from(['"/dev/vfio/vfio"', '"/dev/null"', '"/dev/kvm"']))
_LIST = st.lists(st.tuples(_SCALAR, st.sampled_from(["", "\n", " # c\n", "\r\n  "])), max_size=5).map(
    lambda items: "[" + ",".join(v + s for v, s in items) + "]")
_STATEMENT = st.tuples(st.sampled_from(["", "  ", "\t"]), _VNAME, st.sampled_from([" = ", "=", " =\t"]),
                       st.one_of(_SCALAR, _LIST), st.sampled_from(["\n", ";", "\r\n", " # why\n", ""]))
QEMU_CONF = st.one_of(st.lists(_STATEMENT.map("".join), max_size=6).map("".join),
                      _with_junk(st.lists(_STATEMENT.map("".join), max_size=3)), st.text(max_size=60))


@FUZZ
@given(QEMU_CONF, st.sets(st.sampled_from(["/dev/vfio/vfio", "/dev/null", "x"]), max_size=2))
def test_qemu_conf(text: str, drop: set[str]) -> None:
    with bounded("qemu.conf (virconf)"):
        try:
            conf = parse_virconf(text)
        except ConfigParseError:
            return
        assert conf.render() == text
        for name in {e.name for e in conf.entries}:
            try:
                new = comment_out(conf, name, "vfio-tui fuzz")
            except ConfigParseError:
                continue
            assert all(e.name != name for e in parse_virconf(new).entries)
        # libvirt reads the first entry of a name: a list there is what the ACL fix edits.
        listed = [e for e in conf.entries if e.is_list and conf.get(e.name) is e]
        if listed:
            name = listed[0].name
            try:
                new = remove_list_items(conf, name, drop)
            except ConfigParseError:
                return
            after = parse_virconf(new).get(name)
            assert after is not None and not set(map(str, after.scalars())) & drop


# --- GRUB defaults --------------------------------------------------------------------------------

_GNAME = st.sampled_from(["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_TIMEOUT", "X"])
_GVALUE = st.sampled_from(['"quiet"', "'quiet splash'", '""', "quiet", '"${GRUB_CMDLINE_LINUX} a"', '"$X b"',
                           "`echo x`", '"$(echo y)"', '"a\\"b"', '"multi\nline"', "a\\ b", '"x"\'y\''])
_GLINE = st.one_of(
    st.tuples(_GNAME, st.just("="), _GVALUE).map("".join),
    st.sampled_from(["if [ -e /x ]; then", "else", "fi", "case $x in", "a)", ";;", "esac", "f() {", "}", "true &&",
                     "false ||", "# comment", "export X", "for a in b; do", "done", "echo \\", "(", ")"]))
GRUB = st.one_of(st.lists(_GLINE, max_size=10).map(lambda lines: "\n".join(lines) + "\n"),
                 _with_junk(st.lists(_GLINE, max_size=4)), st.text(max_size=60))


@FUZZ
@given(GRUB)
def test_grub_defaults(text: str) -> None:
    with bounded("GRUB defaults (shell)"):
        try:
            doc = parse_grub_defaults(text)
        except ConfigParseError:
            return
        assert doc.render() == text
        for name in ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"):
            doc.value(name)  # evaluating never raises
            last = doc.last(name)
            try:
                new = add_kernel_param(doc, name, "intel_iommu=on")
            except ConfigParseError:
                continue  # refusing is always allowed; what is checked is what an accepted edit does
            after = parse_grub_defaults(new)
            edited = after.last(name)
            assert edited is not None and not edited.conditional
            assert "intel_iommu=on" in (edited.literal or edited.template).split()
            if last is not None:
                assert new[:last.value_start] == text[:last.value_start]  # nothing before the value moved
            removed = remove_kernel_param(after, name, "intel_iommu=on")
            parse_grub_defaults(removed)


# --- /etc/kernel/cmdline, modprobe.d, modules-load.d ----------------------------------------------

CMDLINE = st.one_of(st.lists(st.sampled_from(["root=/dev/sda1", "quiet", " ", "\t", "\n", "\r\n", "boot=zfs",
                                              "a=b=c", '"x y"', "\\"]), max_size=10).map("".join),
                    st.text(max_size=60))


@FUZZ
@given(CMDLINE)
def test_kernel_cmdline(text: str) -> None:
    with bounded("kernel cmdline"):
        words = linefiles.kernel_cmdline_words(text)
        try:
            new = linefiles.kernel_cmdline_add(text, "intel_iommu=on")
        except ConfigParseError:
            assert len([ln for ln in text.splitlines() if ln.strip()]) > 1
            return
        assert linefiles.kernel_cmdline_words(new) == [*words, "intel_iommu=on"]


PROC_CMDLINE = st.one_of(
    st.lists(st.sampled_from(["BOOT_IMAGE=/vmlinuz", "intel_iommu=on", "intel_iommu=off", "intel_iommu=on,sm_on",
                              "amd_iommu=on", "iommu=pt", "iommu=off", "iommu.passthrough=1", "vfio-pci.ids=10de:1b80",
                              "pcie_acs_override=downstream", "intel_iommu=", "=", "==", "quiet", "\t", " ", "\n",
                              "vfio_iommu_type1.allow_unsafe_interrupts=1", "\x00", "é"]),
             max_size=12).map(" ".join),
    st.text(max_size=80))
_CTX: list[object] = []


def _demo_context() -> object:
    """One check context on the demo host for every example (its other reads stay cached)."""
    if not _CTX:
        from vfio_tui.core.checks.runner import make_context
        from vfio_tui.core.host import HostOptions
        from vfio_tui.core.open_host import open_host

        host = open_host(HostOptions(demo=True))
        _CTX.append(make_context(host))
    return _CTX[0]


@FUZZ
@given(PROC_CMDLINE)
def test_proc_cmdline_as_the_checks_read_it(text: str) -> None:
    """/proc/cmdline of any shape: the command-line checks answer (never raise), and intel_iommu=on as a
    word of it is seen as set."""
    from vfio_tui.core.checks.checks_platform import check_cmdline_flags, check_iommu_cmdline
    from vfio_tui.core.checks.context import CheckContext, FileRead

    ctx = _demo_context()
    assert isinstance(ctx, CheckContext)
    with bounded("kernel cmdline"):
        ctx._files["/proc/cmdline"] = FileRead("/proc/cmdline", text)
        for check in (check_iommu_cmdline, check_cmdline_flags):
            result = check(ctx)
            assert result.status in ("pass", "warn", "fail", "n/a")
        words = text.split()
        if "intel_iommu=on" in words and not any(w in ("intel_iommu=off", "iommu=off") for w in words):
            assert check_iommu_cmdline(ctx).status == "pass"


_MLINE = st.sampled_from(["options vfio_iommu_type1 allow_unsafe_interrupts=1", "options vfio-pci ids=10de:1b80",
                          "options vfio_iommu_type1 allow_unsafe_interrupts=1 disable_hugepages=N",
                          "options vfio_iommu_type1 \\", "  allow_unsafe_interrupts=1", "blacklist nouveau",
                          "softdep igb pre: vfio-pci", "# options vfio_iommu_type1 allow_unsafe_interrupts=1",
                          "install x /bin/true", "vfio", "vfio-pci", "; c", ""])
MODPROBE = st.one_of(st.lists(st.tuples(_MLINE, st.sampled_from(["\n", "\r\n"])).map("".join), max_size=8).map("".join),
                     _with_junk(st.lists(_MLINE, max_size=3)), st.text(max_size=60))


@FUZZ
@given(MODPROBE)
def test_modprobe_and_modules_load(text: str) -> None:
    with bounded("modprobe.d / modules-load.d"):
        linefiles.parse_modprobe(text)
        def values(t: str) -> dict[str, dict[str, str]]:  # without line numbers: a commented line adds one
            return {m: {k: v for k, (v, _) in linefiles.modprobe_options(t, m).items()} for m in ("vfio_pci", "igb")}

        before = values(text)
        try:
            new = linefiles.modprobe_drop_option(text, "vfio_iommu_type1", "allow_unsafe_interrupts", "vfio-tui fuzz")
        except ConfigParseError:
            new = None
        if new is not None:
            assert "allow_unsafe_interrupts" not in linefiles.modprobe_options(new, "vfio_iommu_type1")
            assert values(new) == before
        names = linefiles.modules_load_names(text)
        added = linefiles.modules_load_add(text, ["vfio", "vfio_pci"], "fuzz")
        assert added.startswith(text.rstrip("\r\n") if text.endswith(("\n", "\r")) else text)
        assert {"vfio", "vfio_pci"} <= set(linefiles.modules_load_names(added)) and set(names) <= set(linefiles.modules_load_names(added))


# --- PCI addresses --------------------------------------------------------------------------------

@st.composite
def _spelled(draw: st.DrawFn) -> tuple[str, PciAddress]:
    addr = PciAddress(draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 255)), draw(st.integers(0, 31)),
                      draw(st.integers(0, 7)))
    form = draw(st.sampled_from(["full", "short", "upper", "nodedev"]))
    if form == "short" and addr.domain != 0:
        form = "full"
    text = {"full": str(addr), "short": str(addr)[5:], "upper": str(addr).upper(),
            "nodedev": f"pci_{addr.domain:04x}_{addr.bus:02x}_{addr.slot:02x}_{addr.function}"}[form]
    return text, addr


@FUZZ
@given(st.one_of(st.text(max_size=40), _spelled().map(lambda t: t[0]), st.text("0123456789abcdefABCDEF:._pci ",
                                                                                max_size=30)))
def test_pci_address_any_text(text: str) -> None:
    with bounded("PCI address"):
        try:
            addr = PciAddress.parse(text)
        except InputError as exc:
            assert "\n" not in str(exc)
            assert PciAddress.try_parse(text) is None
            return
        assert PciAddress.parse(str(addr)) == addr == PciAddress.try_parse(text)


@FUZZ
@given(_spelled())
def test_pci_address_every_spelling(spelled: tuple[str, PciAddress]) -> None:
    with bounded("PCI address"):
        text, addr = spelled
        assert PciAddress.parse(text) == addr


# --- regexes and long lines -----------------------------------------------------------------------

MEGA = 1 << 20
LINES = {"letters": "a" * MEGA, "digits": "0" * MEGA, "hex colons": "0:" * (MEGA // 2), "dollars": "$" * MEGA,
         "open braces": "${" * (MEGA // 2), "names": "A_" * (MEGA // 2), "blanks": " \t" * (MEGA // 2),
         "equals": "a=" * (MEGA // 2), "near address": "0000:0b:00." * (MEGA // 11), "near var": "${A" * (MEGA // 3),
         "near nodedev": "pci_0000_" * (MEGA // 9), "spaces then word": " " * MEGA + "intel_iommu=on"}


ANCHORED = ("match", "fullmatch")
"""The ways a pattern is used: anchored (the parsers call match/fullmatch at a position) or scanning."""
SCANNING = ("search", "finditer", "sub")


def _patterns() -> list[tuple[str, re.Pattern[str], tuple[str, ...]]]:
    """Every module-level pattern of the parsers (and the hint rewriter), with how the code uses it."""
    from vfio_tui.tui.cli.common import _command_pattern

    scanning = {"_VAR_REF"}
    found = [(f"{mod.__name__}.{name}", value, SCANNING if name in scanning else ANCHORED)
             for mod in (grubdefaults, linefiles, virconf, address)
             for name, value in vars(mod).items() if isinstance(value, re.Pattern)]
    return [*found, ("grubdefaults._drop_word split", re.compile(r"([ \t]+)"), SCANNING),
            ("virconf comment_out eol", re.compile(r"[\r\n]"), SCANNING),
            ("virconf comment_out split", re.compile(r"(\r\n|\r|\n)"), SCANNING),
            ("tui.cli.common hint", _command_pattern(), SCANNING)]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "pattern", "methods"), _patterns(), ids=[n for n, _, _ in _patterns()])
def test_no_regex_takes_100_ms_on_a_1_mb_line(name: str, pattern: re.Pattern[str], methods: tuple[str, ...]) -> None:
    calls: dict[str, Callable[[str], object]] = {
        "match": pattern.match, "fullmatch": pattern.fullmatch, "search": pattern.search,
        "finditer": lambda s: list(pattern.finditer(s)), "sub": lambda s: pattern.sub("", s)}
    for label, line in LINES.items():
        for method in methods:
            call = calls[method]
            took = min(_time(lambda c=call, s=line: c(s)) for _ in range(2))  # type: ignore[misc]
            assert took < 0.1, f"{name}.{method} on 1 MB of {label!r}: {took * 1000:.0f} ms"


@FUZZ
@given(st.lists(st.sampled_from(["p", "x", " ", "\t", "pp", "p=1"]), max_size=30).map("".join))
def test_drop_word_removes_exactly_what_the_old_regex_did(inner: str) -> None:
    """The split-based remover that replaced a quadratic regex removes the same characters."""
    with bounded("GRUB defaults (shell)"):
        assert grubdefaults._drop_word(inner, "p") == re.sub(r"(^|[ \t]+)p(?=$|[ \t])", "", inner)


def _time(fn: Callable[[], object]) -> float:
    """CPU seconds of this thread: what the code costs, not how busy the shared machine is."""
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


PARSERS: dict[str, Callable[[str], object]] = {
    "qemu.conf (virconf)": parse_virconf, "GRUB defaults (shell)": parse_grub_defaults,
    "kernel cmdline": lambda s: linefiles.kernel_cmdline_add(s, "intel_iommu=on"), "modprobe.d / modules-load.d": linefiles.parse_modprobe,
    "PCI address": PciAddress.try_parse,
}
LONG = {"statements": "A=1;", "and-or": "a && B=1\n", "blocks": "if x; then\n", "list": "a=[1,", "quotes": '"',
        "letters": "x"}


@pytest.mark.slow
@pytest.mark.parametrize("parser", PARSERS)
def test_no_parser_is_quadratic_on_a_long_line(parser: str) -> None:
    """64 KiB and 1 MiB of the same pattern: a linear parser takes about 16 times as long, a quadratic one 256
    (the bound, 64, leaves room for a loaded machine)."""
    fn = PARSERS[parser]
    for label, unit in LONG.items():
        small, big = (unit * (size // len(unit)) for size in (MEGA // 16, MEGA))
        t_small = min(_time(lambda s=small: _quiet(fn, s)) for _ in range(3))  # type: ignore[misc]
        t_big = min(_time(lambda s=big: _quiet(fn, s)) for _ in range(2))  # type: ignore[misc]
        assert t_big < 10, f"{parser} on 1 MiB of {label!r}: {t_big:.1f} s"
        assert t_big < max(64 * t_small, 0.05), f"{parser} on {label!r}: {t_small:.3f} s → {t_big:.3f} s (quadratic)"


def _quiet(fn: Callable[[str], object], text: str) -> None:
    try:
        fn(text)
    except (ConfigParseError, InputError):
        pass


def test_report_fuzz_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the examples run per parser (10,000 each with CI=true)."""
    with capsys.disabled():
        print(f"\nfuzz examples per parser (profile: {EXAMPLES} per test): "
              + ", ".join(f"{k}: {v}" for k, v in sorted(COUNTS.items())))
    if COUNTS:  # run with the fuzz tests (not alone via -k)
        assert all(v >= EXAMPLES for v in COUNTS.values()), COUNTS
