"""A seccomp-BPF filter, built by hand and installed with prctl: a few dozen bytes of BPF need no libseccomp (which
a slim image may lack) and no compiled package, and the whole policy is readable below.

Refused with EPERM (the program sees PermissionError; nothing is killed, so the verdict says what happened):
- sockets of every family (network, and UNIX sockets to local daemons), and io_uring, whose operations would
  bypass this filter;
- new processes and threads (fork, vfork, clone, clone3) and exec: a fork bomb cannot start and nothing is left
  behind when the job is killed;
- signals to any process but this one (kill, tkill, tgkill, sigqueue, pidfds): the program cannot kill the
  trainer, the app, the test runner or other jobs, and kill(-1) does nothing;
- reaching into other processes (ptrace, process_vm_*, pidfd_getfd, kcmp) and System V / POSIX IPC objects;
- changing files' owner, mode, times or extended attributes, and truncate by path: Landlock (landlock.py) does not
  cover these, and a chmod of a run folder would break it as surely as deleting it;
- namespaces, mounts, keyrings, BPF, perf, userfaultfd, modules, kexec, reboot, swap, accounting (most need
  privileges the sandbox never has; they are refused anyway, for root too).
A system call of another architecture's ABI (x32, or 32-bit int 0x80 on x86_64) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

from engine.sandbox.kernel import PR_GET_SECCOMP, PR_SET_SECCOMP, error, prctl, set_no_new_privs

SECCOMP_MODE_FILTER = 2
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
LD_W_ABS, JEQ_K, JGE_K, RET_K = 0x20, 0x15, 0x35, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, ...
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little-endian
X32_SYSCALL_BIT = 0x40000000

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# System call numbers (x86_64: asm/unistd_64.h; aarch64: asm-generic/unistd.h). `None`: the call does not exist there.
_NUMBERS = {  # name: (x86_64, aarch64)
    "socket": (41, 198), "socketpair": (53, 199),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "fork": (57, None), "vfork": (58, None), "clone": (56, 220), "clone3": (435, 435),
    "execve": (59, 221), "execveat": (322, 281),
    "pidfd_open": (434, 434), "pidfd_send_signal": (424, 424), "pidfd_getfd": (438, 438),
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271), "kcmp": (312, 272),
    "process_madvise": (440, 440),
    "shmget": (29, 194), "shmat": (30, 196), "shmctl": (31, 195), "semget": (64, 190), "semop": (65, 193),
    "semctl": (66, 191), "semtimedop": (220, 192), "msgget": (68, 186), "msgsnd": (69, 189), "msgrcv": (70, 188),
    "msgctl": (71, 187), "mq_open": (240, 180),
    "chmod": (90, None), "fchmod": (91, 52), "fchmodat": (268, 53), "fchmodat2": (452, 452),
    "chown": (92, None), "fchown": (93, 55), "lchown": (94, None), "fchownat": (260, 54),
    "utime": (132, None), "utimes": (235, None), "futimesat": (261, None), "utimensat": (280, 88),
    "setxattr": (188, 5), "lsetxattr": (189, 6), "fsetxattr": (190, 7), "removexattr": (197, 14),
    "lremovexattr": (198, 15), "fremovexattr": (199, 16), "setxattrat": (463, 463), "removexattrat": (466, 466),
    "file_setattr": (469, 469), "truncate": (76, 45),
    "unshare": (272, 97), "setns": (308, 268), "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "chroot": (161, 51), "open_tree": (428, 428), "move_mount": (429, 429), "fsopen": (430, 430),
    "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433), "mount_setattr": (442, 442),
    "open_by_handle_at": (304, 265), "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "reboot": (169, 142), "swapon": (167, 224),
    "swapoff": (168, 225), "acct": (163, 89),
    # allowed only towards this process (argument 0 is the pid / thread group id):
    "kill": (62, 129), "tkill": (200, 130), "tgkill": (234, 131), "rt_sigqueueinfo": (129, 138),
    "rt_tgsigqueueinfo": (297, 240),
}
_SIGNAL_CALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
_REFUSED = tuple(name for name in _NUMBERS if name not in _SIGNAL_CALLS)


def architecture() -> str | None:
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    return machine if machine in AUDIT_ARCH else None


def availability() -> str:
    """"" when a filter can be installed here, else why not."""
    if not hasattr(os, "sched_getaffinity"):
        return "this is not Linux"
    if architecture() is None:
        return f"no filter is written for the {platform.machine()} architecture (x86_64 and aarch64 are)"
    if prctl(PR_GET_SECCOMP) < 0 and ctypes.get_errno() == errno.EINVAL:
        return "the kernel was built without seccomp"
    return ""


def _instruction(code: int, jump_true: int, jump_false: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jump_true, jump_false, k & 0xFFFFFFFF)


def build_filter(arch: str, own_pid: int) -> bytes:
    """The BPF program for `arch`, with signals allowed to `own_pid` only (pid 0 and -own_pid are its own process
    group: the child leads a session of its own and can start no other process)."""
    index = 0 if arch == "x86_64" else 1
    number = {name: numbers[index] for name, numbers in _NUMBERS.items() if numbers[index] is not None}
    refuse = RET_ERRNO | errno.EPERM
    program = [
        _instruction(LD_W_ABS, 0, 0, OFFSET_ARCH),
        _instruction(JEQ_K, 1, 0, AUDIT_ARCH[arch]),
        _instruction(RET_K, 0, 0, RET_KILL_PROCESS),
        _instruction(LD_W_ABS, 0, 0, OFFSET_NR),
    ]
    if arch == "x86_64":
        program += [_instruction(JGE_K, 0, 1, X32_SYSCALL_BIT), _instruction(RET_K, 0, 0, RET_KILL_PROCESS)]
    for name in _REFUSED:
        if name in number:
            program += [_instruction(JEQ_K, 0, 1, number[name]), _instruction(RET_K, 0, 0, refuse)]
    allowed_targets = (0, own_pid, -own_pid)  # compared on the low 32 bits: pid_t is an int in the kernel too
    for name in _SIGNAL_CALLS:
        body = [_instruction(LD_W_ABS, 0, 0, OFFSET_ARG0_LOW)]
        for position, target in enumerate(allowed_targets):
            body.append(_instruction(JEQ_K, len(allowed_targets) - position, 0, target))
        body += [_instruction(RET_K, 0, 0, refuse), _instruction(RET_K, 0, 0, RET_ALLOW)]
        program += [_instruction(JEQ_K, 0, len(body), number[name]), *body]
    program.append(_instruction(RET_K, 0, 0, RET_ALLOW))
    return b"".join(program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """Install the filter on this (single-threaded) process, irrevocably. Raises OSError on failure."""
    arch = architecture()
    if arch is None:
        raise OSError(errno.ENOSYS, availability())
    code = build_filter(arch, os.getpid())
    buffer = ctypes.create_string_buffer(code, len(code))
    program = _SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    set_no_new_privs()  # required to install a filter without CAP_SYS_ADMIN
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program)) != 0:
        raise error("prctl(PR_SET_SECCOMP)")
