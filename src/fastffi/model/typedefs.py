"""The scalar typedefs of the C library and POSIX, as glibc defines them on
the platforms fastffi targets (x86-64 and AArch64 Linux, LP64).  They fill the
default namespace, so ``pid_t`` or ``off_t`` work in declarations and type
strings with nothing registered.  tests/model/test_typedefs.py checks every
entry against the C compiler's sizeof and signedness."""
from __future__ import annotations

from .. import _core

_AARCH64 = _core.PLAN_ABI == "aapcs64"

#: name -> canonical scalar name.
POSIX_TYPEDEFS: dict[str, str] = {
    # <sys/types.h>
    "pid_t": "i32", "uid_t": "u32", "gid_t": "u32", "id_t": "u32", "mode_t": "u32", "key_t": "i32",
    "off_t": "i64", "off64_t": "i64", "loff_t": "i64", "dev_t": "u64", "ino_t": "u64", "ino64_t": "u64",
    # glibc's generic (AArch64) ABI narrows these two; x86-64 keeps them long
    "nlink_t": "u32" if _AARCH64 else "u64",
    "blksize_t": "i32" if _AARCH64 else "i64",
    "blkcnt_t": "i64", "blkcnt64_t": "i64", "fsblkcnt_t": "u64", "fsfilcnt_t": "u64",
    "time_t": "i64", "clock_t": "i64", "suseconds_t": "i64", "useconds_t": "u32", "clockid_t": "i32",
    "u_char": "u8", "u_short": "u16", "u_int": "u32", "u_long": "u64",
    "u_int8_t": "u8", "u_int16_t": "u16", "u_int32_t": "u32", "u_int64_t": "u64",
    # <stdint.h> beyond the exact-width types
    "intmax_t": "i64", "uintmax_t": "u64",
    "int_least8_t": "i8", "int_least16_t": "i16", "int_least32_t": "i32", "int_least64_t": "i64",
    "uint_least8_t": "u8", "uint_least16_t": "u16", "uint_least32_t": "u32", "uint_least64_t": "u64",
    # glibc makes the fast types wider than 8 bits a long
    "int_fast8_t": "i8", "int_fast16_t": "i64", "int_fast32_t": "i64", "int_fast64_t": "i64",
    "uint_fast8_t": "u8", "uint_fast16_t": "u64", "uint_fast32_t": "u64", "uint_fast64_t": "u64",
    # <signal.h>, <wchar.h>, <uchar.h>
    "sig_atomic_t": "i32", "wint_t": "u32", "char16_t": "u16", "char32_t": "u32",
    # <sys/socket.h>, <netinet/in.h>, <poll.h>, <sys/resource.h>, <pthread.h>
    "socklen_t": "u32", "sa_family_t": "u16", "in_addr_t": "u32", "in_port_t": "u16",
    "nfds_t": "u64", "rlim_t": "u64", "pthread_t": "u64", "pthread_key_t": "u32",
}

__all__ = ["POSIX_TYPEDEFS"]
