"""Argument conversion never lets C run on a closed library, past the end of
a fastffi object or buffer, into an immutable object, or on a torn struct
(issue 12, items 1, 3, 5, 6, 9 and 14): the checks are decided once per
signature (fastffi/tiers/checks.py) and made by the C converters every tier
shares (_core/runtime/convert.[ch])."""
from __future__ import annotations

import array
import math
import os
import platform
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest

import fastffi

# The plan and libffi tiers make every check here.  The JIT makes those of
# its slow path (the convert helper) too; the closed-library check after the
# last conversion and the bytes checks on its inline bytes path are the JIT
# emitters' part (tests/test_closed_during_call.py for the closed check).
TIERS = [t for t in ("plan", "libffi") if t in fastffi.available_tiers()]
ALL_TIERS = fastffi.available_tiers()


@pytest.fixture(params=TIERS)
def ctier(request):
    return request.param




@pytest.fixture
def libm():
    with fastffi.dlopen("libm.so.6") as handle:
        yield handle


Pair = fastffi.struct("ConvPair", [("a", "i64"), ("b", "i64")])


# ---------------------------------------------------------------- (1) closed during conversion

class Closer:
    """An argument whose conversion closes the library (in this thread or,
    with ``in_thread``, in another one while this conversion waits)."""

    def __init__(self, lib, value, in_thread=False):
        self.lib, self.value, self.in_thread, self.calls = lib, value, in_thread, 0

    def _close(self):
        self.calls += 1
        if self.in_thread:
            t = threading.Thread(target=self.lib.close)
            t.start()
            t.join()
        else:
            self.lib.close()

    def __index__(self):
        self._close()
        return self.value

    def __float__(self):
        self._close()
        return float(self.value)


def _closed_message(fn_name, path):
    return f"{fn_name}(): library {path!r} is closed"


@pytest.mark.parametrize("in_thread", [False, True])
def test_index_closing_the_library_raises_closed(fixture_lib_path, ctier, in_thread):
    lib = fastffi.dlopen(fixture_lib_path)
    scale = lib.function("double conv_scale(double x, int32_t k)", tier=ctier)
    assert scale(1.5, 2) == 3.0
    closer = Closer(lib, 3, in_thread)
    with pytest.raises(fastffi.LibraryClosedError) as info:
        scale(2.0, closer)
    assert str(info.value) == _closed_message("conv_scale", fixture_lib_path)
    assert closer.calls == 1
    with pytest.raises(fastffi.LibraryClosedError):
        scale(2.0, 3)


@pytest.mark.parametrize("in_thread", [False, True])
def test_float_closing_the_library_raises_closed(fixture_lib_path, ctier, in_thread):
    lib = fastffi.dlopen(fixture_lib_path)
    scale = lib.function("double conv_scale(double x, int32_t k)", tier=ctier)
    closer = Closer(lib, 2, in_thread)
    with pytest.raises(fastffi.LibraryClosedError) as info:
        scale(closer, 4)
    assert str(info.value) == _closed_message("conv_scale", fixture_lib_path)
    assert closer.calls == 1


def test_closing_with_a_struct_argument(fixture_lib_path, ctier):
    lib = fastffi.dlopen(fixture_lib_path, types={"ConvPair": Pair})
    pair_sum = lib.function("int64_t conv_pair_sum(struct ConvPair p, int32_t k)", tier=ctier)
    assert pair_sum(Pair(a=2, b=3), 10) == 50
    with pytest.raises(fastffi.LibraryClosedError) as info:
        pair_sum(Pair(a=2, b=3), Closer(lib, 10))
    assert str(info.value) == _closed_message("conv_pair_sum", fixture_lib_path)


def test_closing_with_a_struct_result(fixture_lib_path, ctier):
    lib = fastffi.dlopen(fixture_lib_path, types={"ConvPair": Pair})
    make = lib.function("struct ConvPair conv_pair_make(int64_t a, int32_t k)", tier=ctier)
    p = make(4, 5)
    assert (p.a, p.b) == (4, 5)
    with pytest.raises(fastffi.LibraryClosedError) as info:
        make(4, Closer(lib, 5))
    assert str(info.value) == _closed_message("conv_pair_make", fixture_lib_path)


def test_closing_with_a_buffer_argument_releases_it(fixture_lib_path, ctier):
    lib = fastffi.dlopen(fixture_lib_path)
    first = lib.function("int64_t conv_first_byte(const uint8_t *p, int32_t k)", tier=ctier)
    data = bytearray(b"\x07abc")
    assert first(data, 3) == 21
    with pytest.raises(fastffi.LibraryClosedError) as info:
        first(data, Closer(lib, 3))
    assert str(info.value) == _closed_message("conv_first_byte", fixture_lib_path)
    data.extend(b"more")   # BufferError if the failed call had kept its export
    assert data == b"\x07abcmore"


# ---------------------------------------------------------------- (3) pointee types and sizes

def _stat_struct():
    """glibc's struct stat for this machine (x86-64: <bits/struct_stat.h>;
    AArch64: the generic layout of <asm-generic/stat.h>)."""
    ts = [("tv_sec", "i64"), ("tv_nsec", "i64")]
    Timespec = fastffi.struct("ConvTimespec", ts)
    if platform.machine() == "x86_64":
        fields = [("st_dev", "u64"), ("st_ino", "u64"), ("st_nlink", "u64"), ("st_mode", "u32"), ("st_uid", "u32"),
                  ("st_gid", "u32"), ("pad0", "i32"), ("st_rdev", "u64"), ("st_size", "i64"), ("st_blksize", "i64"),
                  ("st_blocks", "i64"), ("st_atim", Timespec), ("st_mtim", Timespec), ("st_ctim", Timespec),
                  ("reserved", "i64[3]")]
        size = 144
    elif platform.machine() == "aarch64":
        fields = [("st_dev", "u64"), ("st_ino", "u64"), ("st_mode", "u32"), ("st_nlink", "u32"), ("st_uid", "u32"),
                  ("st_gid", "u32"), ("st_rdev", "u64"), ("pad1", "u64"), ("st_size", "i64"), ("st_blksize", "i32"),
                  ("pad2", "i32"), ("st_blocks", "i64"), ("st_atim", Timespec), ("st_mtim", Timespec),
                  ("st_ctim", Timespec), ("unused", "i32[2]")]
        size = 128
    else:
        pytest.fail(f"no struct stat layout for {platform.machine()} in this test")
    Stat = fastffi.struct("Stat", fields)
    assert fastffi.sizeof(Stat) == size
    return Stat


Tm = fastffi.struct("Tm", [(n, "i32") for n in ("sec", "min", "hour", "mday", "mon", "year", "wday", "yday",
                                               "isdst")] + [("gmtoff", "i64"), ("zone", "pointer")])


def test_stat_checks_its_struct(libc, tier):
    Stat = _stat_struct()
    size = fastffi.sizeof(Stat)
    stat = libc.function("int stat(const char *path, Stat *buf)", tier=tier, types={"Stat": Stat})
    path = os.path.abspath(__file__)
    st = Stat()
    assert stat(path, st) == 0
    assert (st.st_size, st.st_mode, st.st_ino) == (os.stat(path).st_size, os.stat(path).st_mode, os.stat(path).st_ino)
    with pytest.raises(TypeError) as info:
        stat(path, Tm())
    assert str(info.value) == "stat() argument 2: expected Stat *, got Tm"
    with pytest.raises(TypeError) as info:
        stat(path, fastffi.array("u8", size))
    assert str(info.value) == "stat() argument 2: expected Stat *, got u8[]"
    with pytest.raises(ValueError) as info:
        stat(path, bytearray(56))
    assert str(info.value) == f"stat() argument 2: buffer has 56 bytes, Stat needs {size}"
    raw = bytearray(size)
    assert stat(path, raw) == 0   # a buffer's item format is not checked: bytes are bytes to C
    assert Stat.from_buffer(raw).st_size == os.stat(path).st_size
    several = fastffi.array(Stat, 2)
    assert stat(path, several) == 0 and several[0].st_size == os.stat(path).st_size
    assert stat(path, fastffi.address_of(st)) == 0   # raw addresses stay unchecked


def test_frexp_checks_its_int_pointer(libm, tier):
    frexp = libm.function("double frexp(double x, int *exp)", tier=tier)
    box = fastffi.new("i32")
    assert (frexp(48.0, box), box.value) == math.frexp(48.0)
    with pytest.raises(ValueError) as info:
        frexp(48.0, bytearray(1))
    assert str(info.value) == "frexp() argument 2: buffer has 1 bytes, i32 needs 4"
    with pytest.raises(TypeError) as info:
        frexp(48.0, fastffi.new("f64"))
    assert str(info.value) == "frexp() argument 2: expected i32 *, got Box[f64]"
    with pytest.raises(TypeError) as info:
        frexp(48.0, fastffi.array("i64", 1))
    assert str(info.value) == "frexp() argument 2: expected i32 *, got i64[]"
    with pytest.raises(TypeError) as info:
        frexp(48.0, fastffi.new("i16"))
    assert str(info.value) == "frexp() argument 2: expected i32 *, got Box[i16]"
    # Signedness is free (C11 6.5p7): an unsigned box of the width serves.
    unsigned = fastffi.new("u32")
    assert frexp(0.375, unsigned) == 0.75 and unsigned.value == 2**32 - 1
    ints = fastffi.array("i32", 2)
    assert frexp(48.0, ints) == 0.75 and ints[0] == 6
    buf = bytearray(4)
    assert frexp(48.0, buf) == 0.75 and int.from_bytes(buf, "little", signed=True) == 6
    np_buf = np.zeros(1, dtype=np.int32)
    assert frexp(48.0, np_buf) == 0.75 and np_buf[0] == 6


def test_an_empty_buffer_for_a_pointee_c_may_write_is_refused(libc, libm, tier):
    # Every empty bytearray exports CPython's one static empty buffer: a write
    # through it would change what all of them read.  numpy first: on a
    # regression its empty array is a small heap block, not static data.
    frexp = libm.function("double frexp(double x, int *exp)", tier=tier)
    for empty in (np.zeros(0, dtype=np.int32), array.array("i"), fastffi.array("i32", 0),
                  memoryview(bytearray()), bytearray()):
        with pytest.raises(ValueError) as info:
            frexp(48.0, empty)
        assert str(info.value) == "frexp() argument 2: buffer has 0 bytes, i32 needs 4", type(empty)
    # bytes stays refused as read-only, before its size is looked at.
    with pytest.raises(TypeError) as info:
        frexp(48.0, b"")
    assert str(info.value) == ("frexp() argument 2: bytes is read-only; pass a bytearray or declare the "
                               "parameter const")
    # void * and char * take any memory, an empty buffer too (the length is the caller's).
    memset = libc.function("void *memset(void *s, int c, size_t n)", tier=tier)
    empty = bytearray()
    assert memset(empty, 0x41, 0) == fastffi.address_of(empty)
    assert empty == b""


def test_an_empty_buffer_passes_and_a_short_one_does_not(fixture_lib_path, tier):
    with fastffi.dlopen(fixture_lib_path) as lib:
        total = lib.function("int64_t conv_sum_i32(const int32_t *p, size_t n)", tier=tier)
        assert total(b"", 0) == 0
        assert total(bytearray(), 0) == 0
        assert total(array.array("i"), 0) == 0
        assert total(fastffi.array("i32", 0), 0) == 0
        assert total(array.array("i", [1, -2, 40]), 3) == 39
        assert total(fastffi.array("u32", [5, 6]), 2) == 11
        with pytest.raises(ValueError) as info:
            total(memoryview(b"\x01\0\0\0")[:2], 1)
        assert str(info.value) == "conv_sum_i32() argument 1: buffer has 2 bytes, i32 needs 4"
        with pytest.raises(TypeError) as info:
            total(fastffi.array("f32", 2), 2)
        assert str(info.value) == "conv_sum_i32() argument 1: expected i32 *, got f32[]"


@pytest.mark.parametrize("tier", TIERS)
def test_bytes_for_a_const_pointer_are_size_checked(fixture_lib_path, tier):
    with fastffi.dlopen(fixture_lib_path) as lib:
        total = lib.function("int64_t conv_sum_i32(const int32_t *p, size_t n)", tier=tier)
        assert total(b"\x01\0\0\0\x02\0\0\0", 2) == 3
        with pytest.raises(ValueError) as info:
            total(b"\x01\0\0", 1)
        assert str(info.value) == "conv_sum_i32() argument 1: buffer has 3 bytes, i32 needs 4"


def test_crc32_empty_buffer_and_any_memory_for_unsigned_char(tier):
    with fastffi.dlopen("libz.so.1") as libz:
        crc32 = libz.function("unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len)",
                              tier=tier)
        assert crc32(0, b"", 0) == 0
        assert crc32(0, b"abc", 3) == 0x352441C2
        # Character types alias everything (C11 6.5p7): any fastffi object.
        words = fastffi.array("u32", [0x64636261])
        assert crc32(0, words, 4) == 0xED82CD11
        assert crc32(0, Pair(a=1, b=2), 16) == zlib.crc32(bytes(Pair(a=1, b=2)))


def test_pointer_box_serves_any_pointer_to_pointer(libc, tier):
    strtol = libc.function("long strtol(const char *nptr, char **endptr, int base)", tier=tier)
    text = bytearray(b"123rest")
    for end in (fastffi.new("pointer"), fastffi.array("pointer", 1)):
        assert strtol(text, end, 10) == 123
        address = end.value if hasattr(end, "value") else end[0]
        assert address == fastffi.address_of(text) + 3
    string_box = fastffi.new("string")   # a char * box reads back as the string
    assert strtol(text, string_box, 10) == 123 and string_box.value == "rest"
    with pytest.raises(TypeError) as info:
        strtol(text, fastffi.new("i32"), 10)
    assert str(info.value) == "strtol() argument 2: expected char **, got Box[i32]"
    with pytest.raises(TypeError) as info:
        strtol(text, fastffi.new("u64"), 10)   # pointer-sized, but not a pointer
    assert str(info.value) == "strtol() argument 2: expected char **, got Box[u64]"
    with pytest.raises(ValueError) as info:
        strtol(text, bytearray(4), 10)
    assert str(info.value) == "strtol() argument 2: buffer has 4 bytes, char * needs 8"
    assert strtol(text, bytearray(8), 10) == 123


def test_pointee_descriptions():
    from fastffi.tiers import checks
    Stat = _stat_struct()
    sig = fastffi.dlopen(None).function("int stat(const char *path, Stat *buf)", types={"Stat": Stat})
    assert sig.argtypes == ("string", "pointer")
    from fastffi.cdecl.spelling import resolve_type
    assert checks.pointee_name(resolve_type("int **").pointee) == "i32 *"
    assert checks.pointee_name(resolve_type("void **").pointee) == "void *"
    assert checks.pointee_description(resolve_type("void *").pointee) is None
    assert checks.pointee_description(resolve_type("unsigned char *").pointee) is None
    name, param, size, classes = checks.pointee_description(Stat)
    assert (name, param, size) == ("Stat", "Stat *", fastffi.sizeof(Stat))
    assert classes == (Stat, type(fastffi.array(Stat, 0)))
    flags, _ = checks.argument_checks((resolve_type("const char *"), resolve_type("char *"),
                                       resolve_type("string"), resolve_type("pointer"),
                                       resolve_type("const void *"), resolve_type("void *"),
                                       resolve_type("const int *"), resolve_type("i32")))
    assert list(flags) == [checks.NUL, checks.MUTABLE | checks.BYTES_SLOW, checks.NUL, 0, 0,
                           checks.MUTABLE | checks.BYTES_SLOW, checks.TYPED | checks.BYTES_SLOW, 0]


# ---------------------------------------------------------------- (5) const char * buffers hold a NUL

def test_string_buffers_must_hold_a_nul(libc, tier):
    for strlen in (libc.function("size_t strlen(const char *s)", tier=tier),
                   libc.function("strlen", "u64", ["string"], tier=tier)):
        with pytest.raises(ValueError) as info:
            strlen(memoryview(b"abcdefgh")[:3])
        assert str(info.value) == "strlen() argument 1: buffer has no null terminator"
        with pytest.raises(ValueError) as info:
            strlen(np.frombuffer(b"abcd", dtype=np.uint8))
        assert str(info.value) == "strlen() argument 1: buffer has no null terminator"
        with pytest.raises(ValueError) as info:
            strlen(fastffi.array("u8", [65, 66]))
        assert str(info.value) == "strlen() argument 1: buffer has no null terminator"
        with pytest.raises(ValueError) as info:
            strlen(memoryview(b""))
        assert str(info.value) == "strlen() argument 1: buffer has no null terminator"
        # bytes, bytearray and str pass as they are: CPython keeps a NUL after their data.
        assert strlen(b"abc") == 3
        assert strlen(bytearray(b"abcd")) == 4
        assert strlen(bytearray()) == 0
        assert strlen("abcde") == 5
        assert strlen(memoryview(b"abc\0def")[:4]) == 3
        assert strlen(array.array("b", [65, 66, 0])) == 2
        assert strlen(fastffi.array("u8", [65, 0, 66])) == 1


# ---------------------------------------------------------------- (6) immutable objects stay immutable

@pytest.mark.parametrize("tier", TIERS)
def test_bytes_refused_for_a_non_const_pointer(libc, tier):
    memset = libc.function("void *memset(void *s, int c, size_t n)", tier=tier)
    b = bytes([0x30]) * 6
    with pytest.raises(TypeError) as info:
        memset(b, 0x41, 6)
    assert str(info.value) == "memset() argument 1: bytes is read-only; pass a bytearray or declare the parameter const"
    assert b == b"000000"
    frexp = fastffi.dlopen("libm.so.6").function("double frexp(double x, int *exp)", tier=tier)
    with pytest.raises(TypeError) as info:
        frexp(1.0, b"\0\0\0\0")
    assert str(info.value) == "frexp() argument 2: bytes is read-only; pass a bytearray or declare the parameter const"


def test_read_only_buffers_refused_for_a_non_const_pointer(libc, tier):
    memset = libc.function("void *memset(void *s, int c, size_t n)", tier=tier)
    b = bytes(6)
    with pytest.raises(TypeError) as info:
        memset(memoryview(b), 0x41, 6)
    assert str(info.value) == ("memset() argument 1: memoryview is read-only; pass a writable buffer or declare the "
                               "parameter const")
    ro = np.zeros(6, dtype=np.uint8)
    ro.flags.writeable = False
    with pytest.raises(TypeError) as info:
        memset(ro, 0x41, 6)
    assert str(info.value) == ("memset() argument 1: ndarray is read-only; pass a writable buffer or declare the "
                               "parameter const")
    assert b == bytes(6) and not ro.any()
    dst = bytearray(6)
    memset(dst, 0x41, 6)
    assert dst == b"AAAAAA"
    memset(memoryview(dst)[2:], 0x42, 4)
    assert dst == b"AABBBB"


def test_const_pointers_and_the_list_form_take_bytes(libc, tier):
    memcpy = libc.function("void *memcpy(void *dest, const void *src, size_t n)", tier=tier)
    dst = bytearray(4)
    memcpy(dst, b"wxyz", 4)
    assert dst == b"wxyz"
    memcpy(dst, memoryview(b"abcd"), 4)
    assert dst == b"abcd"
    # "pointer" names no pointee and no const-ness: bytes pass as they always
    # have, and the C side must not write through them.
    memcmp = libc.function("memcmp", "i32", ["pointer", "pointer", "u64"], tier=tier)
    assert memcmp(b"abc", b"abc", 3) == 0
    assert memcmp(memoryview(b"abd"), b"abc", 3) > 0


def test_mkstemp_on_a_str_leaves_the_str_unchanged(libc, tier, tmp_path):
    mkstemp = libc.function("int mkstemp(char *template)", tier=tier)
    template = str(tmp_path / "f") + "XXXXXX"
    before = template.encode()
    fd = mkstemp(template)
    assert fd >= 0
    os.close(fd)
    assert template.encode() == before and template.endswith("X" * 6)
    (created,) = os.listdir(tmp_path)
    assert created != "fXXXXXX" and created.startswith("f") and len(created) == 7
    # A bytearray is the way to get the name back.
    named = bytearray(template.encode())
    fd = mkstemp(named)
    os.close(fd)
    assert named != before and os.path.exists(named.decode())
    with pytest.raises(ValueError) as info:
        mkstemp("a\0XXXXXX")
    assert str(info.value) == "mkstemp() argument 1: embedded null character"


def test_a_non_const_char_pointer_gets_a_copy_of_a_str(fixture_lib_path, tier):
    with fastffi.dlopen(fixture_lib_path) as lib:
        upcase = lib.function("size_t conv_upcase(char *s)", tier=tier)
        s = "".join(["ab", "c"])
        assert upcase(s) == 3 and s == "abc"
        assert upcase("xyz") == 3 and "xyz" == "".join(["x", "y", "z"])
        buf = bytearray(b"abc")
        assert upcase(buf) == 3 and buf == b"ABC"
        assert upcase("\udcffq") == 2


# ---------------------------------------------------------------- (9) struct copies before the GIL is dropped

Big = fastffi.struct("ConvBig", [("v", "i64[8000]")])


# Interposed on memcpy (LD_PRELOAD): a copy of exactly ODD_SIZE bytes --
# struct conv_odd, which nothing else copies -- first waits 50 ms, so
# another thread has all the time it needs to write the source meanwhile if
# (and only if) the copy runs without the GIL.  libffi copies a by-value
# struct inside ffi_call; fastffi's own copy is a memcpy of the same size.
ODD_SIZE = 8 * 100003
SLOW_MEMCPY = f"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <time.h>

void *memcpy(void *dst, const void *src, size_t n)
{{
    static void *(*real)(void *, const void *, size_t);
    if (real == NULL)
        real = (void *(*)(void *, const void *, size_t))dlsym(RTLD_NEXT, "memcpy");
    if (n == {ODD_SIZE}) {{
        struct timespec t = {{0, 50 * 1000 * 1000}};
        nanosleep(&t, NULL);
    }}
    return real(dst, src, n);
}}
"""

TEAR_SCRIPT = """
import sys, threading
import fastffi
Odd = fastffi.struct("ConvOdd", [("v", "i64[100003]")])
assert fastffi.sizeof(Odd) == int(sys.argv[2])
lib = fastffi.dlopen(sys.argv[1], types={"ConvOdd": Odd})
first = lib.function("int64_t conv_odd_first(struct ConvOdd b)", tier="libffi", release_gil=True)
odd = Odd()
go = threading.Event()

def write():
    go.wait()            # set just before the call: runs once the call drops the GIL
    odd.v[0] = 2

odd.v[0] = 1
t = threading.Thread(target=write)
t.start()
go.set()
seen = first(odd)
t.join()
print(seen, odd.v[0])
"""


def test_release_gil_struct_argument_is_copied_before_the_gil_is_dropped(fixture_lib_path, tmp_path):
    """The callee receives the struct as it was when the call was made: a
    thread that writes it once the GIL is dropped (while libffi's copy is
    held up for 50 ms) changes the instance, not the call's argument."""
    from conftest import compile_shared
    shim = compile_shared([_write(tmp_path / "slow_memcpy.c", SLOW_MEMCPY)], tmp_path, "slow_memcpy", ["-ldl"])
    # After any preload already there: under scripts/sanitize.sh the ASan runtime must stay first.
    env = dict(os.environ, LD_PRELOAD=" ".join(filter(None, [os.environ.get("LD_PRELOAD"), shim])),
               PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(fastffi.__file__)),
                                           os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", TEAR_SCRIPT, fixture_lib_path, str(ODD_SIZE)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "2"]   # the call saw 1; the write landed in the instance afterwards


def _write(path, text):
    path.write_text(text)
    return path


def test_release_gil_struct_copies_large_and_small(fixture_lib_path, ctier):
    with fastffi.dlopen(fixture_lib_path, types={"ConvPair": Pair, "ConvBig": Big}) as lib:
        pair_sum = lib.function("int64_t conv_pair_sum(struct ConvPair p, int32_t k)", tier=ctier,
                                release_gil=True)
        assert pair_sum(Pair(a=-4, b=10), 3) == 18
        with pytest.raises(TypeError) as info:
            pair_sum(Big(), 3)
        assert str(info.value) == "conv_pair_sum() argument 1: expected ConvPair, got ConvBig"
        torn = lib.function("int64_t conv_big_torn(struct ConvBig b)", tier=ctier, release_gil=True)
        big = Big()
        big.v[0] = 7
        assert torn(big) == 7999


# ---------------------------------------------------------------- (14) surrogateescape

def test_a_surrogateescape_result_passes_back(libc, tier, monkeypatch):
    getenv = libc.function("char *getenv(const char *name)", tier=tier)
    strcmp = libc.function("int strcmp(const char *a, const char *b)", tier=tier)
    strlen = libc.function("size_t strlen(const char *s)", tier=tier)
    monkeypatch.setitem(os.environb, b"FASTFFI_RAW", b"caf\xe9\xff")
    value = getenv("FASTFFI_RAW")
    assert value == "caf\udce9\udcff"
    assert strcmp(value, b"caf\xe9\xff") == 0
    assert strlen(value) == 5
    monkeypatch.setitem(os.environb, b"FASTFFI_\xff", b"named")
    assert getenv("FASTFFI_\udcff") == "named"
    with pytest.raises(ValueError) as info:
        strlen("\udcff\0")
    assert str(info.value) == "strlen() argument 1: embedded null character"


def test_a_failed_encode_names_the_function_and_argument(libc, tier):
    strcmp = libc.function("int strcmp(const char *a, const char *b)", tier=tier)
    with pytest.raises(ValueError) as info:
        strcmp("ok", "x\ud800y")
    assert str(info.value) == ("strcmp() argument 2: 'utf-8' codec can't encode character '\\ud800' in position 1: "
                               "surrogates not allowed")
    assert type(info.value) is ValueError
    assert isinstance(info.value.__cause__, UnicodeEncodeError)
