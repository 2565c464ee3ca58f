"""Provides PciIds: vendor, device and class names from the system's pci.ids database.

The file is 1.3 MB; parsing all of it costs more than an inventory of a small host, so
vendors are looked up on demand by a byte search and cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from core.errors import HostDataError
from core.hostpaths import HostPaths

#: Where distributions put pci.ids (hwdata on Debian/Fedora, pciutils' own copy elsewhere).
PCI_IDS_LOCATIONS: Final = (
    "/usr/share/hwdata/pci.ids",
    "/usr/share/misc/pci.ids",
    "/usr/share/pci.ids",
    "/usr/local/share/pci.ids",
)


def _is_hex(text: bytes, width: int) -> bool:
    return len(text) == width and all(c in b"0123456789abcdefABCDEF" for c in text)


class PciIds:
    """Names for PCI ids. An empty database answers None to everything."""

    def __init__(self, data: bytes = b"", source: str | None = None) -> None:
        self._data = data
        self.source = source
        """The file the names came from, or None when no database was found."""
        self._vendors: dict[str, tuple[str, dict[str, str]] | None] = {}
        self._classes: dict[str, str] | None = None

    @classmethod
    def load(cls, path: Path) -> PciIds:
        """Load a pci.ids file.

        Raises:
            HostDataError: the file cannot be read.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise HostDataError(f"cannot read pci.ids: {exc.strerror}", path=str(path)) from None
        return cls(data, str(path))

    @classmethod
    def find(cls, paths: HostPaths, explicit: Path | None = None) -> PciIds:
        """The host's pci.ids, else this machine's (names are not host state), else none."""
        if explicit is not None:
            return cls.load(explicit)
        candidates = [paths.under(p) for p in PCI_IDS_LOCATIONS]
        if not paths.is_live:
            # A recorded host carries no names database; this machine's copy names the same ids.
            candidates += [Path(p) for p in PCI_IDS_LOCATIONS]
        for candidate in candidates:
            if candidate.is_file():
                try:
                    return cls.load(candidate)
                except HostDataError:
                    continue
        return cls()

    def _vendor_block(self, vendor_id: str) -> tuple[str, dict[str, str]] | None:
        vid = vendor_id.lower()
        if vid in self._vendors:
            return self._vendors[vid]
        result: tuple[str, dict[str, str]] | None = None
        data = self._data
        if not _is_hex(vid.encode("ascii", "replace"), 4):
            return None
        key = vid.encode("ascii", "replace") + b"  "
        if data.startswith(key):
            start = 0
        else:
            found = data.find(b"\n" + key)
            start = found + 1 if found >= 0 else -1
        if start >= 0:
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            vendor_name = data[start + len(key):end].decode("utf-8", "replace").strip()
            devices: dict[str, str] = {}
            pos = end + 1
            while pos < len(data):
                nl = data.find(b"\n", pos)
                nl = len(data) if nl < 0 else nl
                line = data[pos:nl]
                pos = nl + 1
                if not line or line.startswith(b"#"):
                    continue
                if not line.startswith(b"\t"):
                    break
                if line.startswith(b"\t\t"):
                    continue
                did = line[1:5]
                if _is_hex(did, 4):
                    devices[did.decode().lower()] = line[5:].decode("utf-8", "replace").strip()
            result = (vendor_name, devices)
        self._vendors[vid] = result
        return result

    def vendor(self, vendor_id: str) -> str | None:
        block = self._vendor_block(vendor_id)
        return block[0] if block else None

    def device(self, vendor_id: str, device_id: str) -> str | None:
        block = self._vendor_block(vendor_id)
        return block[1].get(device_id.lower()) if block else None

    def _load_classes(self) -> dict[str, str]:
        classes: dict[str, str] = {}
        data = self._data
        start = data.find(b"\nC ")
        if start < 0:
            return classes
        base = None
        for raw in data[start + 1:].split(b"\n"):
            if not raw or raw.startswith(b"#"):
                continue
            if raw.startswith(b"C "):
                code = raw[2:4]
                if not _is_hex(code, 2):
                    base = None
                    continue
                base = code.decode().lower()
                classes[base] = raw[4:].decode("utf-8", "replace").strip()
            elif raw.startswith(b"\t\t") or base is None:
                continue
            elif raw.startswith(b"\t"):
                sub = raw[1:3]
                if _is_hex(sub, 2):
                    classes[base + sub.decode().lower()] = raw[3:].decode("utf-8", "replace").strip()
            else:
                base = None
        return classes

    def class_name(self, class_code: str) -> str | None:
        """Name of a class code ("0c04" or "0c0400"): the subclass name, else the base class name."""
        if self._classes is None:
            self._classes = self._load_classes()
        code = class_code.lower()
        return self._classes.get(code[:4]) or self._classes.get(code[:2])
