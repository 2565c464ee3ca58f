#!/usr/bin/env python3
"""Extract the failure-message inventory for `vfio-tui explain` from real source trees.

Run it by hand when a new kernel/libvirt/QEMU/Xen release is out; the tests use the committed
data (core/explain/inventory/*.json), never the trees. Each tree is a directory named
PROJECT-VERSION (as `apt-get source` or a release tarball unpacks it), e.g.

    apt-get source --download-only linux=6.1.176-1 libvirt=9.0.0-4+deb12u2 qemu=1:7.2+dfsg-7+deb12u18
    tar -xf linux_6.1.176.orig.tar.xz --wildcards '*/drivers/vfio/*' '*/drivers/iommu/*' '*/drivers/pci/*'
    scripts/explain_inventory.py /work/src/trees/linux-6.1.176 /work/src/trees/libvirt-9.0.0 ...

Only the files below (SCOPE) are read: the VFIO, IOMMU and PCI paths a failed passthrough start
goes through. For each printing call (printk family, libvirt virReportError, QEMU error_setg...,
libxl LOG) it records the format string with its file, function, call and severity. Entries are
merged across versions of one project by format string, so the JSON says in which versions a
message exists. Wrapper texts from Perl/Go projects (Proxmox, KubeVirt, Incus) are curated by hand
in core/explain/inventory/wrappers.json; this script leaves that file alone.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "core" / "explain" / "inventory"

#: project → (file globs, optional function filter per glob). The function filter keeps only the
#: paths a passthrough start takes out of files that do much more (qemu_process.c, virprocess.c).
SCOPE: dict[str, list[tuple[str, str | None]]] = {
    "linux": [
        ("drivers/vfio/**", None),
        ("drivers/iommu/intel/**", None),
        ("drivers/iommu/amd/**", None),
        ("drivers/iommu/iommufd/**", None),
        ("drivers/iommu/iommu.c", None),
        ("drivers/pci/pci.c", r"(?i)reset|flr|acs|power|pm_|d3|rom|bar|resource|region|ready|wait"),
        ("drivers/base/dd.c", r"(?i)probe"),
        ("drivers/pci/quirks.c", r"(?i)reset|flr|acs|d3|rom|bar|iommu|dma|resource"),
        ("drivers/pci/iov.c", None),
        ("drivers/pci/rom.c", None),
        ("drivers/pci/setup-res.c", None),
    ],
    "libvirt": [
        ("src/util/virpci.c", None),
        ("src/hypervisor/virhostdev.c", None),
        ("src/qemu/qemu_hostdev.c", None),
        ("src/qemu/qemu_cgroup.c", None),
        ("src/qemu/qemu_namespace.c", None),
        ("src/qemu/qemu_security.c", None),
        ("src/security/security_selinux.c", None),
        ("src/security/security_apparmor.c", None),
        ("src/security/security_dac.c", None),
        ("src/util/virprocess.c", r"(?i)memlock|limit|rlimit"),
        ("src/qemu/qemu_domain.c", r"(?i)memlock|hostdev|vfio"),
        ("src/qemu/qemu_process.c", r"(?i)memlock|hostdev|vfio|connectmonitor|reportlogerror|networkpreparedevices"),
        ("src/qemu/qemu_monitor.c", r"(?i)qemuMonitorIO|qemuMonitorOpen|qemuMonitorReport|qemuMonitorSend"),
        ("src/qemu/qemu_validate.c", r"(?i)hostdev|vfio|pci"),
        ("src/qemu/qemu_command.c", r"(?i)hostdev|vfio"),
        ("src/libxl/libxl_driver.c", r"(?i)nodedev|hostdev|pci|attach|detach"),
        ("src/libxl/libxl_domain.c", r"(?i)start|hostdev|pci"),
        ("src/conf/virnodedeviceobj.c", None),
        ("src/util/virmdev.c", None),
        ("tools/virt-host-validate-common.c", r"(?i)iommu"),
    ],
    "qemu": [
        ("hw/vfio/**", None),
        ("backends/iommufd.c", None),
        ("system/memory.c", r"(?i)iommu|listener"),
        ("softmmu/memory.c", r"(?i)iommu|listener"),
        ("hw/pci/pci.c", r"(?i)realize|rom|romfile|bar|device_add|vfio|slot"),
    ],
    "xen": [
        ("tools/libs/light/libxl_pci.c", None),
        ("tools/xl/xl_pci.c", None),
        ("xen/drivers/passthrough/pci.c", None),
        ("xen/drivers/passthrough/iommu.c", None),
        ("xen/drivers/passthrough/vtd/iommu.c", None),
        ("xen/drivers/passthrough/vtd/dmar.c", None),
        ("xen/drivers/passthrough/amd/iommu_acpi.c", None),
        ("xen/drivers/passthrough/amd/pci_amd_iommu.c", None),
    ],
}

_LEVELS = {
    "emerg": "error", "alert": "error", "crit": "error", "err": "error", "error": "error",
    "warn": "warning", "warning": "warning", "notice": "info", "info": "info", "dbg": "debug", "debug": "debug",
}

#: call name → (index of the format argument, severity, kind). kind: "dev" prints a device prefix,
#: "errno" appends ": <strerror>", "prepend" wraps an inner error, "hint" adds a hint line.
CALLS: dict[str, tuple[int, str, str]] = {}
for _lvl, _sev in _LEVELS.items():
    for _suffix in ("", "_ratelimited", "_once"):
        CALLS[f"pr_{_lvl}{_suffix}"] = (0, _sev, "pr")
        CALLS[f"dev_{_lvl}{_suffix}"] = (1, _sev, "dev")
        CALLS[f"pci_{_lvl}{_suffix}"] = (1, _sev, "dev")
        CALLS[f"pci_{_lvl}{_suffix}"] = (1, _sev, "dev")
CALLS.update({
    "dev_err_probe": (2, "error", "dev"), "printk": (0, "printk", "pr"), "WARN": (1, "warning", "pr"),
    "WARN_ONCE": (1, "warning", "pr"), "WARN_RATELIMIT": (1, "warning", "pr"),
    "pr_warn_ratelimited": (0, "warning", "pr"),
    # libvirt
    "virReportError": (1, "error", "libvirt"), "virReportSystemError": (1, "error", "errno"),
    "virReportErrorHelper": (5, "error", "libvirt"), "VIR_WARN": (0, "warning", "plain"),
    "VIR_ERROR": (0, "error", "plain"), "VIR_INFO": (0, "info", "plain"),
    # QEMU
    "error_setg": (1, "error", "plain"), "error_setg_errno": (2, "error", "errno"),
    "error_setg_file_open": (-1, "error", "plain"), "error_prepend": (1, "error", "prepend"),
    "error_append_hint": (1, "hint", "hint"), "error_report": (0, "error", "plain"),
    "error_report_once": (0, "error", "plain"), "warn_report": (0, "warning", "plain"),
    "warn_report_once": (0, "warning", "plain"), "warn_reportf_err": (1, "warning", "plain"),
    "error_reportf_err": (1, "error", "plain"), "info_report": (0, "info", "plain"),
    "hw_error": (0, "error", "plain"), "error_printf": (0, "error", "plain"),
    "vfio_report_error": (0, "error", "plain"),
    # Xen libxl / xl / hypervisor
    "LOG": (1, "libxl", "plain"), "LOGE": (1, "libxl", "errno"), "LOGD": (2, "libxl", "plain"),
    "LOGED": (2, "libxl", "errno"), "LOGEV": (2, "libxl", "errno"), "LOGEVD": (3, "libxl", "errno"),
    "LIBXL__LOG": (2, "libxl", "plain"), "LIBXL__LOG_ERRNO": (2, "libxl", "errno"),
})
_CALL_RX = re.compile(r"\b(" + "|".join(sorted(map(re.escape, CALLS), key=len, reverse=True)) + r")\s*\(")
_FPRINTF = re.compile(r"\bfprintf\s*\(\s*stderr\s*,")
_FUNC_LINE = re.compile(r"^(?:[A-Za-z_][\w\s\*]*?\b)?([A-Za-z_]\w*)\s*\([^;]*$")
_NOT_FUNC = {"if", "for", "while", "switch", "return", "sizeof", "defined", "__attribute__", "do"}
_STRING_MACROS = {
    "FW_BUG": "[Firmware Bug]: ", "FW_WARN": "[Firmware Warn]: ", "FW_INFO": "[Firmware Info]: ",
    "HW_ERR": "[Hardware Error]: ", "KERN_CONT": "", "PRIx64": "lx", "PRIu64": "lu", "PRId64": "ld",
    "PRIx32": "x", "PRIu32": "u", "PRId32": "d", "PRIx16": "x", "PRIu8": "u", "PRIx8": "x",
    "HWADDR_PRIx": "lx", "RAM_ADDR_FMT": "%lx", "TARGET_FMT_plx": "%016lx",
}
_KERN_LEVEL = {"KERN_EMERG": "error", "KERN_ALERT": "error", "KERN_CRIT": "error", "KERN_ERR": "error",
               "KERN_WARNING": "warning", "KERN_NOTICE": "info", "KERN_INFO": "info", "KERN_DEBUG": "debug",
               "XENLOG_ERR": "error", "XENLOG_G_ERR": "error", "XENLOG_WARNING": "warning",
               "XENLOG_G_WARNING": "warning", "XENLOG_INFO": "info", "XENLOG_G_INFO": "info",
               "XENLOG_DEBUG": "debug", "XENLOG_G_DEBUG": "debug", "XENLOG_INFO_G": "info"}
_LIBXL_LEVEL = {"ERROR": "error", "WARN": "warning", "INFO": "info", "DEBUG": "debug", "CRITICAL": "error",
                "LIBXL__LOG_ERROR": "error", "LIBXL__LOG_WARNING": "warning", "LIBXL__LOG_INFO": "info",
                "LIBXL__LOG_DEBUG": "debug", "XTL_ERROR": "error", "XTL_WARN": "warning"}
_LIBVIRT_PREFIX = {
    "VIR_ERR_INTERNAL_ERROR": "internal error: ", "VIR_ERR_OPERATION_INVALID": "Requested operation is not valid: ",
    "VIR_ERR_CONFIG_UNSUPPORTED": "unsupported configuration: ", "VIR_ERR_OPERATION_FAILED": "operation failed: ",
    "VIR_ERR_XML_ERROR": "XML error: ", "VIR_ERR_INVALID_ARG": "invalid argument: ",
    "VIR_ERR_NO_DEVICE": "", "VIR_ERR_ARGUMENT_UNSUPPORTED": "argument unsupported: ",
    "VIR_ERR_OPERATION_UNSUPPORTED": "Operation not supported: ",
    "VIR_ERR_NO_SUPPORT": "this function is not supported by the connection driver: ",
    "VIR_ERR_NO_NODE_DEVICE": "Node device not found: ", "VIR_ERR_OPERATION_TIMEOUT": "Timed out during operation: ",
    "VIR_ERR_NO_SECURITY_MODEL": "Security model not found: ", "VIR_ERR_DEVICE_MISSING": "device not found: ",
}


@dataclass
class Message:
    project: str
    file: str
    function: str
    call: str
    format: str
    severity: str
    kind: str
    versions: list[str] = field(default_factory=list)
    errcode: str = ""

    @property
    def key(self) -> str:
        return hashlib.sha1(f"{self.project}\0{self.format}".encode()).hexdigest()[:10]


_POSITIONAL = re.compile(r"%\d+\$")


def _strip_comments(text: str) -> str:
    """Comments become spaces (newlines kept, so line-based function tracking still works)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split_args(text: str, start: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose '(' is at text[start-1]."""
    args: list[str] = []
    depth, i, cur = 0, start, start
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append(text[cur:i].strip())
                return args, i
            depth -= 1
        elif c == "," and depth == 0:
            args.append(text[cur:i].strip())
            cur = i + 1
        i += 1
    return args, n


_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[A-Za-z_]\w*|\S')


def _unescape(s: str) -> str:
    return (s.replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t").replace("\\'", "'")
            .replace("\\\\", "\\"))


def _format_of(arg: str, macros: dict[str, str]) -> tuple[str, str] | None:
    """The format string of an argument made of literals and string macros; also a KERN_ level."""
    arg = re.sub(r"^\s*(?:_|N_|gettext)\s*\(", "", arg).rstrip(") ")
    parts: list[str] = []
    level = ""
    for tok in _TOKEN.findall(arg):
        if tok.startswith('"'):
            parts.append(_unescape(tok[1:-1]))
        elif tok in _KERN_LEVEL:
            level = _KERN_LEVEL[tok]
        elif tok in _STRING_MACROS:
            parts.append(_STRING_MACROS[tok])
        elif tok in macros:
            parts.append(macros[tok])
        elif tok in ("_", "N_", "(", ")"):
            continue
        else:
            return None  # a variable format: nothing to inventory
    text = "".join(parts)
    return (text, level) if text.strip() else None


def _file_macros(text: str, module: str) -> tuple[dict[str, str], str]:
    """#define NAME "literal" macros of the file, and its pr_fmt prefix."""
    macros: dict[str, str] = {"KBUILD_MODNAME": module, "DRIVER_NAME": module}
    for m in re.finditer(r'^#\s*define\s+(\w+)\s+((?:"(?:[^"\\]|\\.)*"\s*)+)$', text, re.M):
        macros[m.group(1)] = "".join(_unescape(s) for s in _LITERAL.findall(m.group(2)))
    prefix = ""
    m = re.search(r"^#\s*define\s+pr_fmt\(fmt\)\s+(.*?)\s*fmt\b", text, re.M)
    if m:
        got = _format_of(m.group(1), macros)
        prefix = got[0] if got else ""
        prefix = prefix.replace("%s: ", "")  # "fsl-pamu: %s: " fmt, __func__
    return macros, prefix


def _function_at(lines: list[str], lineno: int) -> str:
    for i in range(lineno, -1, -1):
        line = lines[i]
        if line[:1].isalpha() or line[:1] == "_":
            m = _FUNC_LINE.match(line)
            if m and m.group(1) not in _NOT_FUNC and not line.rstrip().endswith(";"):
                return m.group(1)
    return ""


def _severity(call: str, sev: str, args: list[str], level: str) -> str:
    if sev == "printk":
        return level or "info"
    if sev == "libxl":
        return _LIBXL_LEVEL.get(args[0].strip(), "error") if args else "error"
    return sev


def extract_file(project: str, rel: str, text: str, func_filter: str | None) -> list[Message]:
    module = Path(rel).stem
    clean = _strip_comments(text)
    macros, prefix = _file_macros(clean, module)
    lines = clean.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    out: list[Message] = []
    calls = [(m.start(), m.end(), m.group(1)) for m in _CALL_RX.finditer(clean)]
    calls += [(m.start(), m.end(), "fprintf") for m in _FPRINTF.finditer(clean)]
    for begin, end, call in sorted(calls):
        lineno = _line_of(starts, begin)
        line_text = lines[lineno]
        if re.match(r"\s*#\s*define", line_text):
            continue
        if call == "fprintf":
            args, _ = _split_args(clean, end)
            args = ["stderr", *args]
            idx, sev, kind = 1, "error", "plain"
        else:
            args, _ = _split_args(clean, end)
            idx, sev, kind = CALLS[call]
        if idx < 0 or idx >= len(args):
            continue
        got = _format_of(args[idx], macros)
        if got is None:
            continue
        fmt, level = got
        func = _function_at(lines, lineno)
        if func_filter and not re.search(func_filter, func):
            continue
        severity = _severity(call, sev, args, level)
        if kind == "pr" and prefix and not fmt.startswith(prefix):
            fmt = prefix + fmt
        errcode = args[0].strip() if call in ("virReportError",) and args else ""
        # libvirt >= 9.1 numbers its arguments ("%1$s"); the printed text is the same
        fmt = _POSITIONAL.sub("%", fmt.rstrip("\n"))
        out.append(Message(project, rel, func, call, fmt, severity, kind, errcode=errcode))
    return out


def _line_of(starts: list[int], pos: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo


def extract_tree(tree: Path) -> tuple[str, str, list[Message]]:
    name = tree.name
    project, _, version = name.partition("-")
    if project not in SCOPE:
        raise SystemExit(f"{tree}: the directory must be named PROJECT-VERSION with PROJECT in {sorted(SCOPE)}")
    msgs: list[Message] = []
    for path in sorted(tree.rglob("*.c")):
        rel = path.relative_to(tree).as_posix()
        for glob, func_filter in SCOPE[project]:
            if fnmatch.fnmatch(rel, glob):
                msgs += extract_file(project, rel, path.read_text(errors="replace"), func_filter)
                break
    return project, version, msgs


def merge(project: str, found: list[tuple[str, list[Message]]]) -> list[dict[str, object]]:
    """One entry per (project, format string); mapping fields of an existing file are kept."""
    by_key: dict[str, dict[str, object]] = {}
    for version, msgs in found:
        for m in msgs:
            entry = by_key.get(m.key)
            if entry is None:
                entry = {"id": f"{project}:{m.key}", "project": project, "file": m.file, "function": m.function,
                         "call": m.call, "format": m.format, "severity": m.severity, "kind": m.kind,
                         "versions": []}
                if m.errcode:
                    entry["errcode"] = m.errcode
                by_key[m.key] = entry
            versions = entry["versions"]
            assert isinstance(versions, list)
            if version not in versions:
                versions.append(version)
    return sorted(by_key.values(), key=lambda e: (str(e["file"]), str(e["function"]), str(e["format"])))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trees", nargs="+", type=Path, help="source trees named PROJECT-VERSION")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--label", action="append", default=[], metavar="VERSION=LABEL",
                        help="how to name a version in the data, e.g. 6.1.176='6.1.176 (Debian 12)'")
    args = parser.parse_args()
    labels = dict(item.split("=", 1) for item in args.label)
    found: dict[str, list[tuple[str, list[Message]]]] = {}
    for tree in args.trees:
        project, version, msgs = extract_tree(tree)
        found.setdefault(project, []).append((labels.get(version, version), msgs))
        print(f"{tree.name}: {len(msgs)} messages", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for project, per_version in found.items():
        path = args.out / f"{project}.json"
        entries = merge(project, per_version)
        doc = {"schema": "vfio-tui/explain-inventory/1", "project": project,
               "versions": [v for v, _ in per_version], "scope": [g for g, _ in SCOPE[project]],
               "messages": entries}
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path}: {len(entries)} distinct messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
