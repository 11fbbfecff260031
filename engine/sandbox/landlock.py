"""Landlock: an unprivileged process takes away its own access to files (Linux 5.13+), TCP (ABI 4, Linux 6.7+) and
signals to processes outside its sandbox (ABI 6, Linux 6.12+). Through ctypes and the raw system calls, which have
the same numbers on every architecture; no package needed.

The rules are "what may be reached"; everything else is refused with EACCES, also for root. A sandbox child allows
reading the Python installation and the system libraries, reading and writing its own throw-away folder, and
/dev/null; so the data folder, run folders, uploads, the home folder and /proc (other processes' environments,
file descriptors and memory) are out of reach. Landlock guards contents and changes, not names: stat() still says
whether a path exists. chmod, chown, utime and xattrs are not Landlock's either; seccomp.py refuses them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from engine.sandbox.kernel import error, libc, set_no_new_privs

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

# Filesystem rights (uapi/linux/landlock.h), with the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the only rights a rule on a file may hold
READ = READ_FILE | READ_DIR
WRITE = READ | WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | REFER | TRUNCATE  # no devices, links,
# sockets or fifos, even in the throw-away folder


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> tuple[int, str]:
    """(the kernel's Landlock ABI version, "") or (0, why there is none)."""
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return 0, "this is not Linux"
    version = libc().syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    if version >= 1:
        return int(version), ""
    code = ctypes.get_errno()
    if code == errno.ENOSYS:
        return 0, "the kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK is needed)"
    if code == errno.EOPNOTSUPP:
        return 0, "the kernel has Landlock but it was not enabled at boot (the lsm= list)"
    if code == errno.EPERM:
        return 0, "a seccomp profile around this process (e.g. an older Docker's) refuses the Landlock calls"
    return 0, f"Landlock refused: {os.strerror(code)}"


def handled_filesystem_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(abi: int, read_paths: list[str], write_paths: list[str]) -> None:
    """Allow only reading `read_paths` and reading+writing `write_paths` (files or folders, beneath included), for
    this process and everything it starts, irrevocably; also no TCP (ABI 4) and no signals or abstract UNIX
    sockets beyond this sandbox (ABI 6). Paths that do not exist are skipped. Raises OSError on failure."""
    handled = handled_filesystem_rights(abi)
    attr = RulesetAttr(handled_access_fs=handled,
                       handled_access_net=(NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                       scoped=(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    ruleset = libc().syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise error("landlock_create_ruleset")
    try:
        for paths, rights in ((read_paths, READ), (write_paths, WRITE)):
            for path in paths:
                _add_path_rule(ruleset, path, rights & handled)
        set_no_new_privs()  # required for an unprivileged restrict_self
        if libc().syscall(SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise error("landlock_restrict_self")
    finally:
        os.close(ruleset)


def _add_path_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        rule = PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc().syscall(SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(RULE_PATH_BENEATH), ctypes.byref(rule),
                          ctypes.c_uint32(0)) != 0:
            raise error(f"landlock_add_rule({path})")
    finally:
        os.close(fd)
