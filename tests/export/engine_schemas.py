"""The engines' own rules for what `vfio-tui export` prints, transcribed as data (with where each
comes from), and small parsers for the engines' file formats. Only what the tests need to say
"this engine would take it".

- Nova: `_ALIAS_SCHEMA` (nova/pci/request.py, validated there with jsonschema.validate) and the
  device_spec rules of nova/pci/devspec.py (PciDeviceSpec: vendor_id/product_id hex <= 0xFFFF, a
  physical address DDDD:BB:SS.F within MAX_DOMAIN/MAX_BUS/MAX_SLOT/MAX_FUNC); `[pci] alias` and
  `device_spec` are oslo.config MultiStrOpt (the key repeated, one JSON object per line).
- KubeVirt: the KubeVirt CR's `spec.configuration.permittedHostDevices.pciHostDevices` items
  (PciHostDevice: pciVendorSelector and resourceName required strings, externalResourceProvider
  boolean; kubevirt.io/api core/v1 types) and Kubernetes' extended resource name rule (a DNS
  subdomain prefix, a qualified name <= 63 characters).
- Proxmox VE: PVE::Mapping::PCI (pve-guest-common src/PVE/Mapping/PCI.pm): a SectionConfig file of
  `ID` headers (pve-configid) and `\\tKEY VALUE` lines; `map` is a property string of $map_fmt
  (node: pve-node; id and subsystem-id: VVVV:DDDD; path: PCI ids, ';'-separated; iommugroup: integer;
  description: <= 4096).
"""

from __future__ import annotations

import re
from typing import Any

PCI_VENDOR_PATTERN = r"^([\da-fA-F]{4})$"  # nova/pci/utils.py PCI_VENDOR_PATTERN

NOVA_ALIAS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 256},
        "capability_type": {"type": "string", "enum": ["pci"]},
        "product_id": {"type": "string", "pattern": PCI_VENDOR_PATTERN},
        "vendor_id": {"type": "string", "pattern": PCI_VENDOR_PATTERN},
        "device_type": {"type": "string", "enum": ["type-PCI", "type-PF", "type-VF"]},
        "numa_policy": {"type": "string", "enum": ["required", "legacy", "preferred", "socket"]},
        "resource_class": {"type": "string"},
        "traits": {"type": "string"},
        "live_migratable": {"type": "string"},
    },
    "required": ["name"],
}

KUBEVIRT_PCI_HOST_DEVICE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "pciVendorSelector": {"type": "string"},
        "resourceName": {"type": "string"},
        "externalResourceProvider": {"type": "boolean"},
    },
    "required": ["pciVendorSelector", "resourceName"],
}


class SchemaViolation(AssertionError):
    pass


def validate(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """The JSON Schema keywords the schemas above use."""
    kind = schema.get("type")
    types = {"object": dict, "string": str, "boolean": bool, "array": list, "integer": int}
    if kind and not isinstance(value, types[kind]):
        raise SchemaViolation(f"{where}: {value!r} is not {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaViolation(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaViolation(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1 << 30):
            raise SchemaViolation(f"{where}: length of {value!r}")
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                raise SchemaViolation(f"{where}: {req} is required")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise SchemaViolation(f"{where}: additional property {key!r}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{where}[{i}]")


def check_nova_device_spec(spec: dict[str, Any]) -> None:
    """nova/pci/devspec.py PciDeviceSpec with a single physical address."""
    for key in ("vendor_id", "product_id"):
        value = spec.get(key, "*")
        if value != "*" and (not re.fullmatch(r"[0-9a-fA-F]{1,4}", value)):
            raise SchemaViolation(f"device_spec {key} {value!r} does not parse as a hex number <= FFFF")
    address = spec.get("address")
    m = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])", str(address))
    if m is None or int(m.group(3), 16) > 0x1F:
        raise SchemaViolation(f"device_spec address {address!r} is not a physical PCI address")
    if "devname" in spec and "address" in spec:
        raise SchemaViolation("device_spec with both devname and address")


def parse_oslo_multistr(text: str, section: str) -> dict[str, list[str]]:
    """oslo.config's INI reading for one section: repeated keys collect (MultiStrOpt)."""
    out: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep or current is None:
            raise SchemaViolation(f"not an INI line: {raw!r}")
        if current == section:
            out.setdefault(key.strip(), []).append(value.strip())
    return out


K8S_QUALIFIED_NAME = r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


def check_resource_name(name: str) -> None:
    prefix, slash, rest = name.partition("/")
    if not slash or not re.match(DNS_SUBDOMAIN, prefix) or len(prefix) > 253:
        raise SchemaViolation(f"resourceName {name!r}: the prefix is not a DNS subdomain")
    if not re.match(K8S_QUALIFIED_NAME, rest) or len(rest) > 63:
        raise SchemaViolation(f"resourceName {name!r}: not a qualified name of <= 63 characters")
    if prefix.endswith("kubernetes.io"):
        raise SchemaViolation(f"resourceName {name!r}: kubernetes.io is reserved")


PVE_CONFIGID = r"^[a-z][a-z0-9_-]+$"  # PVE::JSONSchema pve_verify_configid (case-insensitive)
PVE_NODE = r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)$"  # pve_verify_node_name
PVE_PCI_RE = r"[a-f0-9]{4,}:[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?"
PVE_MAP_FORMAT: dict[str, Any] = {
    "node": {"pattern": PVE_NODE},
    "id": {"pattern": r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$"},
    "subsystem-id": {"pattern": r"^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$", "optional": True},
    "path": {"pattern": rf"^(?:{PVE_PCI_RE};)*{PVE_PCI_RE}$"},
    "iommugroup": {"integer": True, "optional": True},
    "description": {"optional": True, "maxLength": 4096},
}


def parse_pve_section_config(text: str) -> dict[str, dict[str, list[str]]]:
    """PVE::SectionConfig as PVE::Mapping::PCI reads it: `ID` header lines, then `\\tKEY VALUE` lines;
    blank lines end a section; '#' lines are comments."""
    out: dict[str, dict[str, list[str]]] = {}
    current: str | None = None
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            current = None
            continue
        if raw[0] in " \t":
            if current is None:
                raise SchemaViolation(f"a property line outside a section: {raw!r}")
            key, _, value = raw.strip().partition(" ")
            out[current].setdefault(key, []).append(value)
            continue
        ident = raw.strip()
        if not re.match(PVE_CONFIGID, ident, re.IGNORECASE) or ident in out:
            raise SchemaViolation(f"section id {ident!r} is not a new pve-configid")
        current = ident
        out[current] = {}
    return out


def check_pve_map(value: str) -> dict[str, str]:
    """A `map` property string against $map_fmt."""
    props: dict[str, str] = {}
    for part in value.split(","):
        key, eq, val = part.partition("=")
        if not eq or key in props:
            raise SchemaViolation(f"map {value!r}: bad or repeated {part!r}")
        props[key] = val
    for key, rule in PVE_MAP_FORMAT.items():
        if key not in props:
            if not rule.get("optional"):
                raise SchemaViolation(f"map {value!r}: {key} is required")
            continue
        val = props[key]
        if "pattern" in rule and not re.match(rule["pattern"], val):
            raise SchemaViolation(f"map {value!r}: {key}={val!r} does not match {rule['pattern']}")
        if rule.get("integer") and not re.fullmatch(r"-?\d+", val):
            raise SchemaViolation(f"map {value!r}: {key} is not an integer")
        if len(val) > rule.get("maxLength", 1 << 30):
            raise SchemaViolation(f"map {value!r}: {key} too long")
    unknown = set(props) - set(PVE_MAP_FORMAT)
    if unknown:
        raise SchemaViolation(f"map {value!r}: unknown {sorted(unknown)}")
    return props
