"""Provides the libvirt error family and the translation of libvirtError into one of them.

libvirt's messages are kept verbatim (the explainer matches them), prefixed by what we were
doing and followed by what to do. Codes are libvirt's virErrorNumber (include/libvirt/virterror.h).
"""

from __future__ import annotations

from typing import Any, Final

from vfio_tui.core.errors import InputError, VfioError

VIR_ERR_INTERNAL_ERROR: Final = 1
VIR_ERR_NO_SUPPORT: Final = 3
VIR_ERR_NO_CONNECT: Final = 5
VIR_ERR_OPERATION_DENIED: Final = 29
VIR_ERR_SYSTEM_ERROR: Final = 38
VIR_ERR_NO_DOMAIN: Final = 42
VIR_ERR_AUTH_FAILED: Final = 45
VIR_ERR_OPERATION_INVALID: Final = 55
VIR_ERR_CONFIG_UNSUPPORTED: Final = 67
VIR_ERR_ACCESS_DENIED: Final = 88
VIR_ERR_AUTH_UNAVAILABLE: Final = 94

DAEMON_FIX: Final = ("start the libvirt daemon (systemctl start libvirtd, or virtqemud.socket on split-daemon"
                     " hosts), or pick another hypervisor with --connect URI (--demo needs none)")
ROOT_FIX: Final = ("run with sudo, or add your user to the 'libvirt' group and log in again;"
                   " --connect qemu:///session is the per-user alternative (no PCI passthrough there)")


class LibvirtError(VfioError):
    """libvirt refused or failed an operation; carries libvirt's code, domain and message."""

    def __init__(self, detail: str, *, fix: str = "", code: int | None = None, domain: int | None = None,
                 message: str = "", title: str = "libvirt error") -> None:
        super().__init__(detail, fix=fix, title=title)
        self.code = code
        self.domain = domain
        self.message = message
        """libvirt's own text, verbatim."""


class ConnectError(LibvirtError):
    """The hypervisor connection could not be opened."""


class UnknownDomainError(InputError):
    """No domain with that name."""


def error_fields(exc: Any) -> tuple[int | None, int | None, str]:
    """(code, domain, message) of a libvirt.libvirtError."""
    try:
        code = exc.get_error_code()
        dom = exc.get_error_domain()
        msg = exc.get_error_message() or str(exc)
    except Exception:  # noqa: BLE001 - any exception can end up here
        return None, None, str(exc)
    return code, dom, str(msg)


def code_name(code: int | None) -> str | None:
    """VIR_ERR_* name of a code, from the installed binding when it is there."""
    if code is None:
        return None
    try:
        import libvirt
    except ImportError:
        return None
    for name in dir(libvirt):
        if name.startswith("VIR_ERR_") and getattr(libvirt, name) == code and name not in (
                "VIR_ERR_NONE", "VIR_ERR_WARNING", "VIR_ERR_ERROR"):
            return name
    return None


def domain_name(domain: int | None) -> str | None:
    """VIR_FROM_* name of an error domain."""
    if domain is None:
        return None
    try:
        import libvirt
    except ImportError:
        return None
    for name in dir(libvirt):
        if name.startswith("VIR_FROM_") and getattr(libvirt, name) == domain:
            return name
    return None


def connect_error(uri: str, exc: Any) -> ConnectError:
    """Explain why `libvirt.open(uri)` failed."""
    code, dom, msg = error_fields(exc)
    low = msg.lower()
    if "permission denied" in low or code in (VIR_ERR_AUTH_FAILED, VIR_ERR_AUTH_UNAVAILABLE,
                                               VIR_ERR_ACCESS_DENIED, VIR_ERR_OPERATION_DENIED):
        fix = ROOT_FIX
    elif "failed to connect socket" in low or "no such file or directory" in low or "connection refused" in low:
        fix = DAEMON_FIX
    elif "unable to parse uri" in low or code == VIR_ERR_NO_CONNECT or "no connection driver" in low:
        fix = "check the URI (e.g. qemu:///system, qemu+ssh://root@host/system, test:///default)"
    else:
        fix = "check --connect URI and that the libvirt daemon is running"
    return ConnectError(f"cannot connect to {uri}: {msg}", fix=fix, code=code, domain=dom, message=msg,
                        title="cannot connect to libvirt")


def operation_error(what: str, exc: Any, *, fix: str = "") -> LibvirtError:
    """A libvirtError raised while doing `what` ("attaching 0000:0b:00.0 to vm1")."""
    code, dom, msg = error_fields(exc)
    if not fix:
        if code in (VIR_ERR_ACCESS_DENIED, VIR_ERR_OPERATION_DENIED, VIR_ERR_AUTH_FAILED):
            fix = ROOT_FIX
        elif code == VIR_ERR_NO_SUPPORT:
            fix = "this hypervisor driver cannot do that; try --config"
    return LibvirtError(f"{what} failed: {msg}", fix=fix, code=code, domain=dom, message=msg)
