"""Calls into real system libraries: libc, libm, zlib and sqlite3, checked against Python's own
implementations (os, math, zlib, sqlite3)."""
from __future__ import annotations

import array
import math
import os
import sqlite3
import struct
import zlib

import numpy as np
import pytest

import fastffi

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)


# ---------------------------------------------------------------- libc


def test_strlen(libc, tier):
    strlen = libc.function("size_t strlen(const char *s)", tier=tier)
    assert strlen.restype == "u64" and strlen.argtypes == ("string",)
    assert strlen("") == 0
    assert strlen("hello") == 5
    assert strlen("h\u00e9llo") == 6  # UTF-8: é is two bytes
    assert strlen("\u20ac" * 1000) == 3000
    assert strlen(b"abc\x00def") == 3  # bytes pass as is, the C side stops at the NUL
    assert strlen(bytearray(b"xyz\x00")) == 3


def test_strlen_tuple_form(libc, tier):
    strlen = libc.function("strlen", "u64", ["string"], tier=tier)
    assert strlen("four") == 4


def test_abs(libc, tier):
    c_abs = libc.function("int abs(int)", tier=tier)
    for v in (0, 1, -1, 12345, -12345, INT_MAX, -INT_MAX):
        assert c_abs(v) == abs(v)
    assert c_abs(np.int32(-7)) == 7
    assert c_abs(np.int64(-8)) == 8
    assert c_abs(True) == 1
    with pytest.raises(OverflowError) as info:
        c_abs(2147483653)
    assert str(info.value) == "abs() argument 1: 2147483653 does not fit i32"
    labs = libc.function("long labs(long)", tier=tier)
    assert labs(LONG_MIN + 1) == LONG_MAX
    assert labs(-(2**40)) == 2**40


def test_getpid(libc, tier):
    getpid = libc.function("getpid", "i32", [], tier=tier)
    assert getpid() == os.getpid()
    assert libc.function("int getpid(void)", tier=tier)() == os.getpid()
    assert libc.function("int getpid()", tier=tier)() == os.getpid()


def test_strtol_end_pointer_box(libc, tier):
    strtol = libc.function("long strtol(const char *nptr, char **endptr, int base)", tier=tier)
    assert strtol.argtypes == ("string", "pointer", "i32")
    assert strtol.restype == "i64"
    text = bytearray(b"  12345xyz\x00")
    end = fastffi.new("pointer")
    assert strtol(text, end, 10) == 12345
    assert end.value - fastffi.address_of(text) == 7
    assert fastffi.to_string(end.value) == "xyz"
    src = b"-0x7fffffffffffffff rest"
    assert strtol(src, end, 16) == -(2**63 - 1)
    assert end.value - fastffi.address_of(src) == len(b"-0x7fffffffffffffff")
    assert strtol("ff", None, 16) == 255
    assert strtol("777", None, 8) == 0o777
    assert strtol("99999999999999999999", None, 10) == LONG_MAX
    assert strtol("-99999999999999999999", None, 10) == LONG_MIN


def test_strtol_end_pointer_array(libc, tier):
    strtol = libc.function("strtol", "i64", ["string", "pointer", "i32"], tier=tier)
    text = bytearray(b"42 and more\x00")
    ends = fastffi.array("pointer", 1)
    assert strtol(text, ends, 0) == 42
    assert ends[0] == fastffi.address_of(text) + 2
    nothing = bytearray(b"none\x00")
    assert strtol(nothing, ends, 10) == 0
    assert ends[0] == fastffi.address_of(nothing)


def test_getenv_string_result_and_null(libc, tier, monkeypatch):
    getenv = libc.function("char *getenv(const char *name)", tier=tier)
    assert getenv.restype == "string"
    monkeypatch.setenv("FASTFFI_TEST_VALUE", "caf\u00e9 \u20ac")
    assert getenv("FASTFFI_TEST_VALUE") == "caf\u00e9 \u20ac"
    monkeypatch.delenv("FASTFFI_TEST_VALUE")
    assert getenv("FASTFFI_TEST_VALUE") is None


def test_memcpy_memset(libc, tier):
    memcpy = libc.function("void *memcpy(void *dest, const void *src, size_t n)", tier=tier)
    memset = libc.function("void *memset(void *s, int c, size_t n)", tier=tier)
    dst = bytearray(8)
    assert memcpy(dst, b"abcdefgh", 8) == fastffi.address_of(dst)
    assert dst == b"abcdefgh"
    memset(dst, ord("z"), 3)
    assert dst == b"zzzdefgh"


# ---------------------------------------------------------------- libm

@pytest.fixture
def libm():
    with fastffi.dlopen("libm.so.6") as handle:
        yield handle


VALUES = [0.0, -0.0, 0.5, 1.0, -2.75, 3.141592653589793, 1e-300, 1e300, 123456.789]


def test_cos_pow_match_math(libm, tier):
    cos = libm.function("double cos(double)", tier=tier)
    pow_ = libm.function("pow", "f64", ["f64", "f64"], tier=tier)
    for x in VALUES:
        assert cos(x) == math.cos(x)
    for x, y in [(2.0, 10.0), (2.0, 0.5), (10.0, -3.0), (-8.0, 3.0), (1.5, 2.25), (0.0, 0.0)]:
        assert pow_(x, y) == math.pow(x, y)
    assert math.isnan(cos(float("nan")))
    assert pow_(2, 3) == 8.0  # ints are accepted for f64
    assert cos(np.float64(0.0)) == 1.0
    assert libm.function("float cosf(float)", tier=tier)(0.0) == 1.0
    sqrtf = libm.function("float sqrtf(float)", tier=tier)
    assert sqrtf.restype == "f32"
    assert sqrtf(2.0) == struct.unpack("<f", struct.pack("<f", math.sqrt(2.0)))[0]


def test_frexp_out_pointer(libm, tier):
    frexp = libm.function("double frexp(double x, int *exp)", tier=tier)
    assert frexp.argtypes == ("f64", "pointer")
    box = fastffi.new("i32")
    for x in VALUES + [48.0, -1e-310, 2.0**1000]:
        m = frexp(x, box)
        assert (m, box.value) == math.frexp(x)
    arr = fastffi.array("i32", 2)
    assert frexp(48.0, arr) == 0.75
    assert arr[0] == 6 and arr[1] == 0


def test_ldexp(libm, tier):
    ldexp = libm.function("double ldexp(double x, int exp)", tier=tier)
    for m, e in [(0.75, 6), (1.0, -1074), (0.5, 1024), (-3.0, 10), (1.0, 0), (0.0, 100)]:
        assert ldexp(m, e) == math.ldexp(m, e)
    assert math.isinf(ldexp(1.0, 2000))


# ---------------------------------------------------------------- zlib

@pytest.fixture
def libz():
    defs = {
        "crc32": "unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len)",
        "adler32": ("u64", ["u64", "pointer", "u32"]),
        "zlibVersion": "const char *zlibVersion(void)",
        "compressBound": "unsigned long compressBound(unsigned long sourceLen)",
        "compress2": "int compress2(unsigned char *dest, unsigned long *destLen, "
                     "const unsigned char *source, unsigned long sourceLen, int level)",
        "uncompress": "int uncompress(unsigned char *dest, unsigned long *destLen, "
                      "const unsigned char *source, unsigned long sourceLen)",
    }
    with fastffi.dlopen("libz.so.1", defs) as handle:
        yield handle


def _inputs():
    rng = np.random.default_rng(1234)
    raw = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return [
        b"",
        b"hello",
        b"\x00" * 17,
        raw,
        bytearray(b"a bytearray payload"),
        memoryview(b"a memoryview payload"),
        memoryview(raw)[100:2000],
        np.frombuffer(raw, dtype=np.uint8).copy(),
        np.arange(1000, dtype=np.int32),
        np.linspace(0.0, 1.0, 77),
        np.arange(24, dtype=np.uint16).reshape(4, 6),
        array.array("d", [1.0, 2.5, -3.0]),
    ]


def _nbytes(data):
    return memoryview(data).nbytes


def test_zlib_version(libz):
    assert libz.zlibVersion() == zlib.ZLIB_RUNTIME_VERSION


@pytest.mark.parametrize("data", _inputs(), ids=lambda d: type(d).__name__)
def test_crc32_adler32_match_python(libz, data, tier):
    crc32 = libz.function("crc32", "u64", ["u64", "pointer", "u32"], tier=tier)
    adler32 = libz.function("adler32", "unsigned long", ["unsigned long", "const void *", "unsigned int"],
                            tier=tier)
    flat = memoryview(data).tobytes()
    n = _nbytes(data)
    assert crc32(0, data, n) == zlib.crc32(flat)
    assert libz.crc32(0, data, n) == zlib.crc32(flat)
    assert adler32(1, data, n) == zlib.adler32(flat)
    assert libz.adler32(1, data, n) == zlib.adler32(flat)
    # running checksums chain
    assert crc32(crc32(0, data, n), b"tail", 4) == zlib.crc32(b"tail", zlib.crc32(flat))


def test_crc32_null_buffer(libz, tier):
    crc32 = libz.function("crc32", "u64", ["u64", "pointer", "u32"], tier=tier)
    assert crc32(0, None, 0) == 0
    assert crc32(0, 0, 0) == 0


def test_crc32_rejects_non_contiguous(libz):
    strided = np.arange(10, dtype=np.uint8)[::2]
    with pytest.raises(ValueError) as info:
        libz.crc32(0, strided, 5)
    assert str(info.value) == "crc32() argument 2: buffer is not C-contiguous"
    with pytest.raises(TypeError) as info:
        libz.crc32(0, "text", 4)
    assert str(info.value) == "crc32() argument 2: expected pointer, got str"


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_compress2_uncompress_round_trip(libz, level, tier):
    compress2 = libz.function("compress2", "i32", ["pointer", "pointer", "pointer", "u64", "i32"], tier=tier)
    uncompress = libz.function(
        "int uncompress(unsigned char *dest, unsigned long *destLen, const unsigned char *source, "
        "unsigned long sourceLen)", tier=tier)
    data = b"fastffi calls zlib. " * 500 + bytes(range(256))
    bound = libz.compressBound(len(data))
    assert bound >= len(data)
    dest = bytearray(bound)
    dest_len = fastffi.new("u64", bound)
    assert compress2(dest, dest_len, data, len(data), level) == 0  # Z_OK
    assert 0 < dest_len.value <= bound
    packed = bytes(dest[:dest_len.value])
    assert zlib.decompress(packed) == data

    out = bytearray(len(data))
    out_len = fastffi.new("unsigned long", len(out))
    assert uncompress(out, out_len, packed, len(packed)) == 0
    assert out_len.value == len(data)
    assert bytes(out) == data

    # the same through the definitions and a Python-compressed input
    out2 = bytearray(len(data) + 10)
    out2_len = fastffi.new("u64", len(out2))
    pz = zlib.compress(data, 9)
    assert libz.uncompress(out2, out2_len, pz, len(pz)) == 0
    assert bytes(out2[:out2_len.value]) == data


def test_compress2_buffer_too_small(libz):
    data = bytes(range(256)) * 8
    dest = bytearray(10)
    dest_len = fastffi.new("u64", len(dest))
    assert libz.compress2(dest, dest_len, data, len(data), 9) == -5  # Z_BUF_ERROR


# ---------------------------------------------------------------- sqlite3

@pytest.fixture
def libsqlite():
    with fastffi.dlopen("libsqlite3.so.0") as handle:
        yield handle


def test_sqlite3_libversion(libsqlite, tier):
    version = libsqlite.function("const char *sqlite3_libversion(void)", tier=tier)
    assert version.restype == "string"
    v = version()
    assert isinstance(v, str)
    assert v == sqlite3.sqlite_version
    number = libsqlite.function("int sqlite3_libversion_number(void)", tier=tier)
    major, minor, patch = map(int, sqlite3.sqlite_version.split("."))
    assert number() == major * 1000000 + minor * 1000 + patch


def test_sqlite3_open_exec_close(libsqlite, tier):
    f = libsqlite.function
    sq_open = f("int sqlite3_open(const char *filename, sqlite3 **ppDb)", tier=tier)
    sq_exec = f("int sqlite3_exec(sqlite3 *db, const char *sql, "
                "int (*callback)(void *, int, char **, char **), void *arg, char **errmsg)", tier=tier)
    sq_changes = f("int sqlite3_changes(sqlite3 *)", tier=tier)
    sq_errmsg = f("const char *sqlite3_errmsg(sqlite3 *)", tier=tier)
    sq_free = f("void sqlite3_free(void *)", tier=tier)
    sq_close = f("int sqlite3_close(sqlite3 *)", tier=tier)
    assert sq_open.argtypes == ("string", "pointer")
    assert sq_exec.argtypes == ("pointer", "string", "pointer", "pointer", "pointer")

    db_box = fastffi.new("pointer")
    assert sq_open(":memory:", db_box) == 0  # SQLITE_OK
    db = db_box.value
    assert isinstance(db, int) and db != 0
    try:
        err = fastffi.new("pointer")
        rc = sq_exec(db, "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (3);", None, None, err)
        assert rc == 0
        assert err.value == 0
        assert sq_changes(db) == 3
        assert sq_errmsg(db) == "not an error"

        rc = sq_exec(db, "SELECT * FROM no_such_table", None, None, err)
        assert rc == 1  # SQLITE_ERROR
        assert err.value != 0
        assert fastffi.to_string(err.value) == "no such table: no_such_table"
        assert sq_errmsg(db) == "no such table: no_such_table"
        sq_free(err.value)
    finally:
        assert sq_close(db) == 0
