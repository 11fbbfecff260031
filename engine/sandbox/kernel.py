"""The C library through ctypes, for the few process controls that Python's os module does not offer."""

from __future__ import annotations

import ctypes
import functools
import os

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_GET_SECCOMP, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 4, 21, 22, 38
LINUX_CAPABILITY_VERSION_3 = 0x20080522


@functools.cache
def libc() -> ctypes.CDLL:
    library = ctypes.CDLL(None, use_errno=True)
    library.syscall.restype = ctypes.c_long
    return library


def error(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def prctl(option: int, arg2=0, arg3=0, arg4=0, arg5=0) -> int:
    """prctl with every argument a full unsigned long (the kernel refuses stray high bits in unused ones)."""
    args = [ctypes.c_ulong(arg) if isinstance(arg, int) else arg for arg in (arg2, arg3, arg4, arg5)]
    return libc().prctl(ctypes.c_int(option), *args)


def set_no_new_privs() -> None:
    if prctl(PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise error("prctl(PR_SET_NO_NEW_PRIVS)")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empty this process's effective, permitted and inheritable capability sets (and so the ambient set): root
    without capabilities cannot override file permissions, signal other users' processes or trace them."""
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc().capset(ctypes.byref(header), data) != 0:
        raise error("capset")
