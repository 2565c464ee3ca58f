"""The config-file parsers: what they read, byte-for-byte edits on tricky files, refusals, and
hypothesis round trips (arbitrary text never raises anything but ConfigParseError)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_tui.core.checks.grubdefaults import add_kernel_param, parse_grub_defaults, remove_kernel_param
from vfio_tui.core.checks.linefiles import (
    kernel_cmdline_add,
    modprobe_drop_option,
    modprobe_options,
    modules_load_add,
    modules_load_names,
)
from vfio_tui.core.checks.textfile import ConfigParseError, decode, encode
from vfio_tui.core.checks.virconf import comment_out, parse_virconf, remove_list_items

TRICKY_GRUB = (
    "# grub defaults, with Latin-1 \xe9 bytes kept as they are\r\n"
    "GRUB_DEFAULT=saved\r\n"
    "GRUB_CMDLINE_LINUX='console=ttyS0  quiet'   # first value, overridden below\r\n"
    'if [ -x /bin/true ]; then GRUB_TIMEOUT=3; fi\r\n'
    'GRUB_DISTRIBUTOR=$(lsb_release -i -s 2> /dev/null || echo "Debian")\r\n'
    'GRUB_CMDLINE_LINUX="root=/dev/sda1 \\\n  splash"\r\n'
    "# GRUB_CMDLINE_LINUX=\"commented out\"\r\n"
    "export GRUB_TERMINAL=console\r\n"
)


def test_grub_reads_the_last_assignment_like_the_shell() -> None:
    doc = parse_grub_defaults(TRICKY_GRUB)
    assert doc.count("GRUB_CMDLINE_LINUX") == 2
    assert doc.value("GRUB_CMDLINE_LINUX") == "root=/dev/sda1   splash"
    assert doc.value("GRUB_TIMEOUT") == "3"
    assert doc.value("GRUB_TERMINAL") == "console"
    assert doc.last("GRUB_DISTRIBUTOR") is not None and doc.last("GRUB_DISTRIBUTOR").literal is None  # type: ignore[union-attr]


def test_grub_edit_touches_only_the_effective_value() -> None:
    new = add_kernel_param(parse_grub_defaults(TRICKY_GRUB), "GRUB_CMDLINE_LINUX", "intel_iommu=on")
    assert new == TRICKY_GRUB.replace('  splash"', '  splash intel_iommu=on"')
    assert parse_grub_defaults(new).value("GRUB_CMDLINE_LINUX") == "root=/dev/sda1   splash intel_iommu=on"


@pytest.mark.parametrize(("line", "expected"), [
    ('GRUB_CMDLINE_LINUX=""\n', 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n'),
    ("GRUB_CMDLINE_LINUX=\n", 'GRUB_CMDLINE_LINUX="intel_iommu=on"\n'),
    ("GRUB_CMDLINE_LINUX=quiet\n", 'GRUB_CMDLINE_LINUX="quiet intel_iommu=on"\n'),
    ("GRUB_CMDLINE_LINUX='quiet '\n", "GRUB_CMDLINE_LINUX='quiet intel_iommu=on'\n"),
    ('GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet"\n',
     'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX quiet intel_iommu=on"\n'),
    ("GRUB_TIMEOUT=5", 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="intel_iommu=on"\n'),
])
def test_grub_edit_forms(line: str, expected: str) -> None:
    assert add_kernel_param(parse_grub_defaults(line), "GRUB_CMDLINE_LINUX", "intel_iommu=on") == expected


def test_grub_half_edited_line_is_refused_with_its_line() -> None:
    text = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX="quiet intel_iommu=on\nGRUB_TIMEOUT=5\n'
    with pytest.raises(ConfigParseError) as err:
        parse_grub_defaults(text)
    assert err.value.line == 2 and "never closed" in str(err.value)


def test_grub_mixed_quoting_is_not_guessed() -> None:
    doc = parse_grub_defaults('GRUB_CMDLINE_LINUX="quiet"\'x\'\n')
    with pytest.raises(ConfigParseError):
        add_kernel_param(doc, "GRUB_CMDLINE_LINUX", "intel_iommu=on")


def test_grub_remove_param() -> None:
    doc = parse_grub_defaults('A="amd_iommu=on quiet"\nB=1\n')
    assert remove_kernel_param(doc, "A", "amd_iommu=on") == 'A="quiet"\nB=1\n'


grub_text = st.text(alphabet=st.sampled_from([*"GRUB_CMDLINE_LINUX=\"' \\\n\t#$()`;abc=x&|", "\r", "é"]),
                    max_size=120)


@settings(max_examples=300, deadline=None)
@given(grub_text)
def test_grub_parser_never_raises_anything_else_and_edits_only_append(text: str) -> None:
    try:
        doc = parse_grub_defaults(text)
    except ConfigParseError:
        return
    assert doc.render() == text
    try:
        new = add_kernel_param(doc, "GRUB_CMDLINE_LINUX", "intel_iommu=on")
    except ConfigParseError:
        return
    assert len(new) > len(text)
    after = parse_grub_defaults(new)
    value = after.value("GRUB_CMDLINE_LINUX")
    assert value is not None and value.split()[-1].endswith("intel_iommu=on")
    # Everything before the edited value is untouched.
    a = doc.last("GRUB_CMDLINE_LINUX")
    if a is not None:
        assert new[:a.value_start] == text[:a.value_start]


TRICKY_QEMU = (
    "# qemu.conf with duplicates\n"
    "user = \"qemu\"   # trailing comment\n"
    "cgroup_device_acl = [ \"/dev/null\", \"/dev/vfio/vfio\",\n"
    "  # a comment inside the list\n"
    "    \"/dev/kvm\" ]\n"
    "relaxed_acs_check = 1; dynamic_ownership = 0\n"
    "cgroup_device_acl = [\"/dev/other\"]\n"
    "relaxed_acs_check = 0\n"
    "security_driver = \"\"\"none\"\"\"\n"
)


def test_virconf_first_entry_wins_like_libvirt() -> None:
    conf = parse_virconf(TRICKY_QEMU)
    acl = conf.get("cgroup_device_acl")
    assert acl is not None and acl.scalars() == ["/dev/null", "/dev/vfio/vfio", "/dev/kvm"]
    assert len(conf.all("cgroup_device_acl")) == 2
    assert conf.get("relaxed_acs_check").scalars() == [1]  # type: ignore[union-attr]
    assert conf.get("dynamic_ownership").scalars() == [0]  # type: ignore[union-attr]
    assert conf.get("security_driver").scalars() == ["none"]  # type: ignore[union-attr]


def test_virconf_remove_list_item_keeps_the_rest() -> None:
    text = 'a = 1\ncgroup_device_acl = [\n    "/dev/null", "/dev/kvm",\n    "/dev/vfio/vfio"\n]\n# end\n'
    conf = parse_virconf(text)
    assert remove_list_items(conf, "cgroup_device_acl", {"/dev/vfio/vfio"}) == \
        'a = 1\ncgroup_device_acl = [\n    "/dev/null", "/dev/kvm"\n]\n# end\n'
    text2 = 'x = [ "/dev/vfio/vfio", "/dev/null" ]\n'
    assert remove_list_items(parse_virconf(text2), "x", {"/dev/vfio/vfio"}) == 'x = [ "/dev/null" ]\n'


def test_virconf_comment_out_refuses_shared_lines_and_handles_own_lines() -> None:
    with pytest.raises(ConfigParseError):
        comment_out(parse_virconf(TRICKY_QEMU), "relaxed_acs_check", "why")
    text = "a = 1\nrelaxed_acs_check = 1  # blog\nb = 2\n"
    assert comment_out(parse_virconf(text), "relaxed_acs_check", "why") == \
        "a = 1\n# why\n#relaxed_acs_check = 1  # blog\nb = 2\n"


@pytest.mark.parametrize("bad", ['user = "qemu\n', "cgroup_device_acl = [ \"/dev/null\"\n", "1abc = 2\n",
                                 "user qemu\n", 'a = "x" b = 2\n', "a = [ 1 2 ]\n"])
def test_virconf_refuses_what_libvirt_refuses(bad: str) -> None:
    with pytest.raises(ConfigParseError):
        parse_virconf(bad)


qemu_text = st.lists(st.sampled_from([*"ab_=[],\"' \n#;123-", '"""', "\r", "é", "user = ", '"/dev/vfio/vfio"']),
                     max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(qemu_text)
def test_virconf_parser_total_and_lossless(text: str) -> None:
    try:
        conf = parse_virconf(text)
    except ConfigParseError:
        return
    assert conf.render() == text
    for e in conf.entries:
        assert text[e.start:].startswith(e.name)
    for name in {e.name for e in conf.entries}:
        try:
            new = comment_out(conf, name, "vfio-tui test")
        except ConfigParseError:
            continue
        assert all(x.name != name for x in parse_virconf(new).entries)


def test_kernel_cmdline_file() -> None:
    assert kernel_cmdline_add("root=ZFS=rpool/ROOT/pve-1 boot=zfs\n", "intel_iommu=on") == \
        "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n"
    assert kernel_cmdline_add("quiet  \r\n", "iommu=pt") == "quiet iommu=pt  \r\n"
    with pytest.raises(ConfigParseError):
        kernel_cmdline_add("root=/dev/sda\nquiet\n", "intel_iommu=on")


def test_modprobe_and_modules_load() -> None:
    text = ("# blog\noptions vfio_iommu_type1 allow_unsafe_interrupts=1 disable_hugepages=N\n"
            "options vfio-pci ids=10de:1b80,10de:10f0\nblacklist nouveau\n")
    assert modprobe_options(text, "vfio_pci")["ids"] == ("10de:1b80,10de:10f0", 3)
    new = modprobe_drop_option(text, "vfio_iommu_type1", "allow_unsafe_interrupts", "why")
    assert new == text.replace(" allow_unsafe_interrupts=1", "")
    only = "options vfio_iommu_type1 allow_unsafe_interrupts=1\n"
    assert modprobe_drop_option(only, "vfio_iommu_type1", "allow_unsafe_interrupts", "why") == \
        "# why\n#options vfio_iommu_type1 allow_unsafe_interrupts=1\n"
    assert modules_load_names("# c\n; c\nvfio-pci\n  vfio\n") == ["vfio_pci", "vfio"]
    assert modules_load_add("vfio", ["vfio", "vfio_pci"], "h") == "vfio\nvfio_pci\n"
    assert modules_load_add(None, ["vfio"], "head") == "# head\nvfio\n"


def test_lossless_decoding_of_any_bytes() -> None:
    raw = b"GRUB_X=\xff\xfe\r\n\x00"
    assert encode(decode(raw)) == raw
