"""Raw-memory helpers (address_of, to_bytes, view, to_string, read, write, write_bytes), boxes
(fastffi.new) and typed arrays (fastffi.array)."""
from __future__ import annotations

import ctypes
import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastffi



def addr_of_writable(buf):
    """The address of a writable buffer's first byte, as ctypes sees it."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


# (canonical type, C spelling, struct format, values)
SCALARS = [
    ("bool", "_Bool", "?", [False, True]),
    ("i8", "signed char", "b", [0, 1, -1, 127, -128]),
    ("i16", "short", "h", [0, -1, 32767, -32768, 1234]),
    ("i32", "int", "i", [0, -1, 2**31 - 1, -(2**31), 123456789]),
    ("i64", "long long", "q", [0, -1, 2**63 - 1, -(2**63), 2**40 + 5]),
    ("u8", "unsigned char", "B", [0, 1, 255, 128]),
    ("u16", "unsigned short", "H", [0, 65535, 4660]),
    ("u32", "unsigned int", "I", [0, 2**32 - 1, 2**31]),
    ("u64", "unsigned long", "Q", [0, 2**64 - 1, 2**63, 12345]),
    ("f32", "float", "f", [0.0, -0.0, 1.5, -2.25, 3.4028234663852886e38, float("inf"), 1e-45]),
    ("f64", "double", "d", [0.0, -0.0, 0.1, -1e308, 5e-324, float("inf"), float("-inf"), math.pi]),
    ("pointer", "void *", "Q", [0, 1, 2**64 - 1, 0x7F0012345678]),
]


def _same(a, b):
    """Equal, of the same type, and for floats also the same sign of zero and NaN-ness."""
    if type(a) is not type(b):
        return False
    if isinstance(b, float):
        if math.isnan(b):
            return math.isnan(a)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    return a == b


# ---------------------------------------------------------------- address_of

def test_address_of_buffers():
    ba = bytearray(b"hello world")
    assert fastffi.address_of(ba) == addr_of_writable(ba)
    b = b"immutable bytes"
    assert fastffi.address_of(b) == ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value
    arr = np.arange(10, dtype=np.float64)
    assert fastffi.address_of(arr) == arr.ctypes.data
    assert fastffi.address_of(memoryview(ba)) == addr_of_writable(ba)
    assert fastffi.address_of(memoryview(ba)[3:]) == addr_of_writable(ba) + 3


def test_address_of_struct_array_box():
    point = fastffi.struct("MemPoint", [("x", "f64"), ("y", "f64")])
    p = point(x=1.0, y=2.0)
    assert fastffi.address_of(p) == addr_of_writable(p)
    a = fastffi.array("i32", [1, 2, 3])
    assert fastffi.address_of(a) == addr_of_writable(a)
    box = fastffi.new("i64", -5)
    assert fastffi.read(fastffi.address_of(box), "i64") == -5


@pytest.mark.parametrize("bad", ["text", object()])
def test_address_of_rejects_non_buffers(bad):
    with pytest.raises(TypeError):
        fastffi.address_of(bad)


# ---------------------------------------------------------------- to_bytes / view

def test_to_bytes_is_a_copy():
    ba = bytearray(b"0123456789")
    addr = fastffi.address_of(ba)
    copy = fastffi.to_bytes(addr, 10)
    assert type(copy) is bytes and copy == b"0123456789"
    ba[0] = ord("X")
    assert copy == b"0123456789"
    assert fastffi.to_bytes(addr + 2, 3) == b"234"
    assert fastffi.to_bytes(addr, 0) == b""


def test_to_bytes_null():
    assert fastffi.to_bytes(0, 0) == b""
    with pytest.raises(ValueError) as info:
        fastffi.to_bytes(0, 4)
    assert str(info.value) == "to_bytes(): NULL pointer"


def test_view_is_writable_and_zero_copy():
    ba = bytearray(b"abcdef")
    v = fastffi.view(fastffi.address_of(ba), 6)
    assert isinstance(v, memoryview)
    assert v.format == "B" and v.itemsize == 1 and v.nbytes == 6 and len(v) == 6
    assert v.readonly is False
    assert bytes(v) == b"abcdef"
    v[0] = ord("Z")
    v[1:3] = b"YY"
    assert ba == b"ZYYdef"
    ba[5] = ord("!")
    assert v[5] == ord("!")


def test_view_readonly():
    ba = bytearray(b"abcdef")
    v = fastffi.view(fastffi.address_of(ba), 4, readonly=True)
    assert v.readonly is True and v.format == "B"
    assert bytes(v) == b"abcd"
    with pytest.raises(TypeError):
        v[0] = 1
    assert ba == b"abcdef"


def test_view_null():
    v = fastffi.view(0, 0)
    assert isinstance(v, memoryview) and len(v) == 0
    with pytest.raises(ValueError) as info:
        fastffi.view(0, 1)
    assert str(info.value) == "view(): NULL pointer"


@pytest.mark.parametrize("helper", ["to_bytes", "view", "to_string"])
def test_negative_size(helper):
    ba = bytearray(b"abc\x00")
    with pytest.raises(ValueError):
        getattr(fastffi, helper)(fastffi.address_of(ba), -1)


# ---------------------------------------------------------------- to_string

def test_to_string():
    ba = bytearray(b"hello\x00world\x00")
    addr = fastffi.address_of(ba)
    assert fastffi.to_string(addr) == "hello"
    assert fastffi.to_string(addr + 6) == "world"
    assert fastffi.to_string(addr, 3) == "hel"
    assert fastffi.to_string(addr, 5) == "hello"
    assert fastffi.to_string(addr, 9) == "hello"  # stops at the first NUL
    assert fastffi.to_string(addr, 0) == ""
    assert fastffi.to_string(addr, encoding=None) == b"hello"
    assert fastffi.to_string(addr, 2, encoding=None) == b"he"
    assert fastffi.to_string(addr + 5) == ""


def test_to_string_encodings():
    ba = bytearray("h\u00e9\u20ac".encode() + b"\x00")
    assert fastffi.to_string(fastffi.address_of(ba)) == "h\u00e9\u20ac"
    latin = bytearray(b"caf\xe9\x00")
    assert fastffi.to_string(fastffi.address_of(latin), encoding="latin-1") == "caf\u00e9"
    assert fastffi.to_string(fastffi.address_of(latin), encoding=None) == b"caf\xe9"


def test_to_string_null():
    assert fastffi.to_string(0, 0) == ""
    assert fastffi.to_string(0, 0, encoding=None) == b""
    for kwargs in ({}, {"size": 3}, {"encoding": None}):
        with pytest.raises(ValueError) as info:
            fastffi.to_string(0, **kwargs)
        assert str(info.value) == "to_string(): NULL pointer"


# ---------------------------------------------------------------- read / write

@pytest.mark.parametrize("name, spelling, fmt, values", SCALARS, ids=[s[0] for s in SCALARS])
def test_read_write_every_scalar(name, spelling, fmt, values):
    buf = bytearray(32)
    addr = fastffi.address_of(buf)
    size = struct.calcsize("<" + fmt)
    for value in values:
        for offset in (0, size, 16):
            buf[:] = bytes(32)
            fastffi.write(addr, name, value, offset=offset)
            assert bytes(buf[offset:offset + size]) == struct.pack("<" + fmt, value)
            assert bytes(buf[:offset]) == bytes(offset), "wrote outside the target"
            assert bytes(buf[offset + size:]) == bytes(32 - offset - size), "wrote outside the target"
            expected = struct.unpack("<" + fmt, struct.pack("<" + fmt, value))[0]
            assert _same(fastffi.read(addr, name, offset=offset), expected)
            assert _same(fastffi.read(addr + offset, spelling), expected)
            assert _same(fastffi.read(addr, spelling, offset), expected)
        fastffi.write(addr, spelling, value)
        assert bytes(buf[:size]) == struct.pack("<" + fmt, value)


INT_TYPES = [(n, f) for n, _s, f, _v in SCALARS if n[0] in "iu" or n == "pointer"]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), which=st.sampled_from(INT_TYPES), offset=st.integers(0, 8))
def test_read_write_integers_property(data, which, offset):
    name, fmt = which
    bits = struct.calcsize(fmt) * 8
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if name[0] == "i" else (0, 2**bits - 1)
    value = data.draw(st.integers(lo, hi))
    buf = bytearray(16)
    addr = fastffi.address_of(buf)
    fastffi.write(addr, name, value, offset=offset)
    assert bytes(buf[offset:offset + bits // 8]) == struct.pack("<" + fmt, value)
    assert fastffi.read(addr, name, offset=offset) == value
    outside = data.draw(st.one_of(st.integers(hi + 1, hi + 2**70), st.integers(lo - 2**70, lo - 1)))
    with pytest.raises(OverflowError):
        fastffi.write(addr, name, outside, offset=offset)


@settings(max_examples=300, deadline=None)
@given(x=st.floats(allow_nan=False, width=64))
def test_read_write_floats_property(x):
    buf = bytearray(8)
    addr = fastffi.address_of(buf)
    fastffi.write(addr, "f64", x)
    assert fastffi.read(addr, "f64") == x and buf == struct.pack("<d", x)
    try:
        packed = struct.pack("<f", x)
    except OverflowError:
        with pytest.raises(OverflowError):
            fastffi.write(addr, "f32", x)
    else:
        fastffi.write(addr, "f32", x)
        assert bytes(buf[:4]) == packed
        assert fastffi.read(addr, "f32") == struct.unpack("<f", packed)[0]


def test_read_f32_rounds_like_struct():
    buf = bytearray(4)
    addr = fastffi.address_of(buf)
    fastffi.write(addr, "f32", 0.1)
    assert fastffi.read(addr, "f32") == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    fastffi.write(addr, "f32", float("nan"))
    assert math.isnan(fastffi.read(addr, "f32"))


def test_read_string_type():
    text = b"pointed-to\x00"
    buf = bytearray(16)
    addr = fastffi.address_of(buf)
    fastffi.write(addr, "pointer", fastffi.address_of(text))
    assert fastffi.read(addr, "string") == "pointed-to"
    assert fastffi.read(addr, "const char *") == "pointed-to"
    fastffi.write(addr, "pointer", 0, offset=8)
    assert fastffi.read(addr, "string", offset=8) is None


def test_write_range_and_type_checks():
    buf = bytearray(8)
    addr = fastffi.address_of(buf)
    with pytest.raises(OverflowError):
        fastffi.write(addr, "u8", 256)
    with pytest.raises(OverflowError):
        fastffi.write(addr, "u32", -1)
    with pytest.raises(OverflowError):
        fastffi.write(addr, "i16", 2**15)
    with pytest.raises(OverflowError):
        fastffi.write(addr, "f32", 1e39)
    with pytest.raises(TypeError):
        fastffi.write(addr, "i32", 1.5)
    with pytest.raises(TypeError):
        fastffi.write(addr, "f64", "1.0")
    assert buf == bytes(8)
    with pytest.raises(fastffi.SignatureError) as info:
        fastffi.read(addr, "no_such_type")
    assert str(info.value) == "unknown type 'no_such_type'"


def test_read_write_struct_is_a_copy():
    point = fastffi.struct("MemPointRW", [("x", "f64"), ("y", "f64")])
    buf = bytearray(48)
    addr = fastffi.address_of(buf)
    fastffi.write(addr, point, point(x=1.5, y=-2.0))
    fastffi.write(addr, point, point(x=3.0, y=4.0), offset=16)
    assert bytes(buf[:32]) == struct.pack("<dddd", 1.5, -2.0, 3.0, 4.0)
    p = fastffi.read(addr, point)
    assert type(p) is point and (p.x, p.y) == (1.5, -2.0)
    q = fastffi.read(addr, point, offset=16)
    assert (q.x, q.y) == (3.0, 4.0)
    buf[:16] = struct.pack("<dd", 9.0, 9.0)
    assert (p.x, p.y) == (1.5, -2.0), "read() of a struct must return a copy"
    p.x = 100.0
    assert buf[:16] == struct.pack("<dd", 9.0, 9.0)


def test_struct_from_address_is_a_live_view():
    point = fastffi.struct("MemPointView", [("x", "f64"), ("y", "f64")])
    buf = bytearray(struct.pack("<dd", 1.0, 2.0))
    v = point.from_address(fastffi.address_of(buf))
    assert (v.x, v.y) == (1.0, 2.0)
    v.y = 7.0
    assert buf == struct.pack("<dd", 1.0, 7.0)
    with pytest.raises(ValueError) as info:
        point.from_address(0)
    assert str(info.value) == "MemPointView.from_address(): address must not be NULL"


def test_write_bytes():
    buf = bytearray(b"..........")
    addr = fastffi.address_of(buf)
    fastffi.write_bytes(addr, b"abc")
    fastffi.write_bytes(addr + 5, bytearray(b"XY"))
    fastffi.write_bytes(addr + 8, memoryview(b"zz"))
    assert buf == b"abc..XY.zz"
    fastffi.write_bytes(addr, b"")
    assert buf == b"abc..XY.zz"


def test_read_write_null():
    with pytest.raises(ValueError) as info:
        fastffi.read(0, "i32")
    assert str(info.value) == "read(): NULL pointer"
    with pytest.raises(ValueError) as info:
        fastffi.write(0, "f64", 1.0)
    assert str(info.value) == "write(): NULL pointer"
    with pytest.raises(ValueError) as info:
        fastffi.write_bytes(0, b"x")
    assert str(info.value) == "write_bytes(): NULL pointer"
    fastffi.write_bytes(0, b"")  # size 0: nothing to do


# ---------------------------------------------------------------- boxes

@pytest.mark.parametrize("name, spelling, fmt, values", SCALARS, ids=[s[0] for s in SCALARS])
def test_box_every_scalar(name, spelling, fmt, values):
    box = fastffi.new(name)
    zero = struct.unpack("<" + fmt, bytes(struct.calcsize(fmt)))[0]
    assert _same(box.value, zero)
    for value in values:
        expected = struct.unpack("<" + fmt, struct.pack("<" + fmt, value))[0]
        assert _same(fastffi.new(name, value).value, expected)
        assert _same(fastffi.new(spelling, value).value, expected)
        box.value = value
        assert _same(box.value, expected)
        assert fastffi.to_bytes(fastffi.address_of(box), struct.calcsize(fmt)) == struct.pack("<" + fmt, value)


def test_box_range_checks():
    with pytest.raises(OverflowError):
        fastffi.new("u8", 256)
    box = fastffi.new("i32")
    with pytest.raises(OverflowError):
        box.value = 2**31
    with pytest.raises(TypeError):
        box.value = "1"
    assert box.value == 0


def test_box_as_out_parameter(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        out_i32 = lib.function("void mini_out_i32(int32_t *out, int32_t v)", tier=tier)
        out_f64 = lib.function("mini_out_f64", "void", ["pointer", "f64"], tier=tier)
        bi = fastffi.new("i32")
        out_i32(bi, -123456)
        assert bi.value == -123456
        bd = fastffi.new("double")
        out_f64(bd, 2.5)
        assert bd.value == 2.5
        ident = lib.function("mini_id_pointer", "pointer", ["pointer"], tier=tier)
        assert ident(bi) == fastffi.address_of(bi)


def test_box_with_libc_memcpy(libc, tier):
    memcpy = libc.function("void *memcpy(void *, const void *, size_t)", tier=tier)
    box = fastffi.new("u64")
    memcpy(box, struct.pack("<Q", 0xDEADBEEFCAFEBABE), 8)
    assert box.value == 0xDEADBEEFCAFEBABE


# ---------------------------------------------------------------- arrays

FORMATS = {
    "bool": {"?"}, "i8": {"b"}, "u8": {"B"}, "i16": {"h"}, "u16": {"H"}, "i32": {"i"}, "u32": {"I"},
    "i64": {"q", "l"}, "u64": {"Q", "L"}, "f32": {"f"}, "f64": {"d"},
}


def _fmt(fmt):
    return fmt[1:] if fmt[:1] in ("@", "=", "<") else fmt


def test_array_of_length():
    a = fastffi.array("f64", 8)
    assert len(a) == 8
    assert [a[i] for i in range(8)] == [0.0] * 8
    a[3] = 2.5
    a[7] = -1.0
    assert a[3] == 2.5 and a[-1] == -1.0
    assert list(a) == [0.0, 0.0, 0.0, 2.5, 0.0, 0.0, 0.0, -1.0]
    with pytest.raises(IndexError):
        a[8]
    with pytest.raises(IndexError):
        a[8] = 1.0
    with pytest.raises(IndexError):
        a[-9]


def test_array_from_iterable():
    a = fastffi.array("i32", [1, -2, 3])
    assert len(a) == 3 and list(a) == [1, -2, 3]
    g = fastffi.array("i16", (i * i for i in range(5)))
    assert list(g) == [0, 1, 4, 9, 16]
    u = fastffi.array("unsigned char", range(4))
    assert list(u) == [0, 1, 2, 3]
    with pytest.raises(OverflowError):
        fastffi.array("u8", [1, 256])
    with pytest.raises(OverflowError):
        u[0] = -1
    with pytest.raises(TypeError):
        u[0] = 1.5


def test_array_length_bounds():
    empty = fastffi.array("i32", 0)
    assert len(empty) == 0 and list(empty) == []
    with pytest.raises(ValueError):
        fastffi.array("i32", -1)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_array_buffer_protocol(name):
    a = fastffi.array(name, 4)
    m = memoryview(a)
    assert _fmt(m.format) in FORMATS[name]
    size = struct.calcsize(_fmt(m.format))
    assert m.itemsize == size
    assert m.shape == (4,)
    assert m.nbytes == 4 * size
    assert m.c_contiguous and not m.readonly
    assert fastffi.address_of(a) == addr_of_writable(a)


def test_array_shares_memory_with_numpy():
    a = fastffi.array("f64", [1.0, 2.0, 3.0])
    n = np.asarray(a)
    assert n.dtype == np.float64 and n.shape == (3,)
    n[1] = 20.0
    assert a[1] == 20.0
    a[2] = 30.0
    assert n[2] == 30.0
    assert n.ctypes.data == fastffi.address_of(a)
    i = np.frombuffer(fastffi.array("i64", [5, -6]), dtype=np.int64)
    assert i.tolist() == [5, -6]


def test_array_as_pointer_argument(mini_path, libc, tier):
    with fastffi.dlopen(mini_path) as lib:
        sum_u8 = lib.function("int64_t mini_sum_u8(const uint8_t *p, size_t n)", tier=tier)
        fill = lib.function("void mini_fill_u8(uint8_t *p, size_t n, uint8_t v)", tier=tier)
        a = fastffi.array("u8", [1, 2, 3, 250])
        assert sum_u8(a, len(a)) == 256
        fill(a, 2, 9)
        assert list(a) == [9, 9, 3, 250]
    memcpy = libc.function("void *memcpy(void *, const void *, size_t)", tier=tier)
    dst = fastffi.array("i32", 3)
    memcpy(dst, fastffi.array("i32", [7, -8, 9]), 12)
    assert list(dst) == [7, -8, 9]


def test_array_of_pointers_and_doubles_as_out(libc, tier):
    strtod = libc.function("double strtod(const char *, char **)", tier=tier)
    ends = fastffi.array("pointer", 2)
    text = b"2.5e3xyz"
    assert strtod(text, ends) == 2500.0
    assert ends[0] == fastffi.address_of(text) + 5
    assert ends[1] == 0
