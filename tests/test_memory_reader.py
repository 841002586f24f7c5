"""read()'s C fast path (a scalar type seen before is read without resolving it
again) and fastffi.reader(): the same values, checks and errors as the Python
path, and a type definition that changes what a name means is seen at once."""
from __future__ import annotations

import ctypes
import struct

import pytest

import fastffi
from conftest import raises_exact
from fastffi import memory
from fastffi.model.scalars import SCALARS

LIMITS = [
    ("i8", "b", (-128, 127)), ("u8", "B", (0, 255)),
    ("i16", "h", (-2**15, 2**15 - 1)), ("u16", "H", (0, 2**16 - 1)),
    ("i32", "i", (-2**31, 2**31 - 1)), ("u32", "I", (0, 2**32 - 1)),
    ("i64", "q", (-2**63, 2**63 - 1)), ("u64", "Q", (0, 2**64 - 1)),
    ("f32", "f", (-3.4028234663852886e38, 1.5)), ("f64", "d", (-1.7976931348623157e308, 2.5)),
    ("pointer", "Q", (0, 2**64 - 1)), ("bool", "?", (False, True)),
]


def _unreachable(*args, **kwargs):
    raise AssertionError(f"read{args} {kwargs} reached the Python path")


@pytest.fixture
def fast_only():
    """fast_only() makes memory.py's read unreachable: every read after it must
    be served in C.  The real fallback is put back after the test."""
    yield lambda: fastffi._core.read_setup(memory.DEFAULT.resolved, memory._READ_KINDS, _unreachable)
    fastffi._core.read_setup(memory.DEFAULT.resolved, memory._READ_KINDS, memory._read)


@pytest.mark.parametrize("name, fmt, values", LIMITS, ids=[x[0] for x in LIMITS])
def test_read_fast_path_every_scalar_at_its_limits(name, fmt, values, fast_only):
    buf = bytearray(24)
    addr = fastffi.address_of(buf)
    scalar = SCALARS[name]
    fastffi.read(addr, name)             # first read: resolved in Python, the kind recorded
    fastffi.read(addr, scalar)
    fast_only()
    size = struct.calcsize("<" + fmt)
    for value in values:
        struct.pack_into("<" + fmt, buf, 8, value)
        expected = struct.unpack_from("<" + fmt, buf, 8)[0]
        assert fastffi.read(addr + 8, name) == expected
        assert fastffi.read(addr, name, 8) == expected
        assert fastffi.read(addr, scalar, 8) == expected
        assert type(fastffi.read(addr, name, 8)) is type(expected)
        reader = fastffi.reader(name)
        assert reader(addr, 8) == expected and reader(addr + 8) == expected
        assert reader(addr, offset=8) == expected
        assert bytes(buf[:8]) == bytes(8) and bytes(buf[8 + size:]) == bytes(16 - size)


def test_read_through_a_fastffi_object_is_bounds_checked_on_the_fast_path(fast_only):
    arr = fastffi.array("i32", [1, -2, 3])
    assert fastffi.read(arr, "i32", 8) == 3
    fast_only()
    assert fastffi.read(arr, "i32", 4) == -2
    with raises_exact(IndexError, "read(): offset 12, size 4 is outside i32[] (size 12)"):
        fastffi.read(arr, "i32", 12)
    with raises_exact(IndexError, "read(): offset -4, size 4 is outside i32[] (size 12)"):
        fastffi.read(arr, "i32", -4)
    r = fastffi.reader("i32")
    assert r(arr, 8) == 3
    with raises_exact(IndexError, "read(): offset 10, size 4 is outside i32[] (size 12)"):
        r(arr, 10)


def test_read_fast_path_errors_are_read_scalars(fast_only):
    box = fastffi.new("i32", 5)
    fastffi.read(box, "i32")
    fast_only()
    with raises_exact(ValueError, "read(): NULL pointer"):
        fastffi.read(0, "i32")
    with raises_exact(ValueError, "read(): NULL pointer"):
        fastffi.read(None, "i32")
    with raises_exact(OverflowError, "-1 does not fit pointer"):
        fastffi.read(-1, "i32")
    with raises_exact(TypeError, "expected an address (int), None or a fastffi struct/array/box, got str"):
        fastffi.read("x", "i32")
    with raises_exact(OverflowError, "Python int too large to convert to C ssize_t"):
        fastffi.read(box, "i32", 2**64)
    r = fastffi.reader("i32")
    with raises_exact(ValueError, "read(): NULL pointer"):
        r(None)
    with raises_exact(OverflowError, "-1 does not fit pointer"):
        r(-1)
    with raises_exact(TypeError, "'float' object cannot be interpreted as an integer"):
        r(box, 1.0)


def test_read_falls_back_for_what_the_fast_path_does_not_serve():
    point = fastffi.struct("ReaderPoint", [("x", "f64"), ("y", "f64")])
    buf = bytearray(struct.pack("<dd", 1.5, -2.0))
    addr = fastffi.address_of(buf)
    p = fastffi.read(addr, point)
    assert type(p) is point and (p.x, p.y) == (1.5, -2.0)
    assert fastffi.read(addr, "f64", offset=8) == -2.0          # keyword: the Python path
    assert fastffi.read(addr, "f64", 8) == -2.0
    with raises_exact(TypeError, "'float' object cannot be interpreted as an integer"):
        fastffi.read(addr, "f64", 8.0)                          # not an int: the Python path's error
    with raises_exact(fastffi.SignatureError, "void has no values"):
        fastffi.read(addr, "void")
    with pytest.raises(fastffi.SignatureError):
        fastffi.read(addr, "no_such_reader_type")
    with raises_exact(TypeError, "read() missing 1 required positional argument: 'type_'"):
        fastffi.read(addr)


def test_a_redefined_typedef_is_read_with_its_new_type():
    buf = bytearray(struct.pack("<q", -2))
    addr = fastffi.address_of(buf)
    fastffi.define("reader_word_t", "i16")
    try:
        assert fastffi.read(addr, "reader_word_t") == -2
        assert fastffi.read(addr, "reader_word_t") == -2     # now from the C fast path
        fastffi.undefine("reader_word_t")
        with pytest.raises(fastffi.SignatureError):
            fastffi.read(addr, "reader_word_t")
        fastffi.define("reader_word_t", "u32")
        assert fastffi.read(addr, "reader_word_t") == 2**32 - 2
        assert fastffi.read(addr, "reader_word_t") == 2**32 - 2
    finally:
        fastffi.undefine("reader_word_t")


def test_reader_object():
    r = fastffi.reader("unsigned short")
    # an exact builtin function: the callable CPython 3.11 specialises calls to
    assert type(r) is type(len)
    assert isinstance(r.__self__, fastffi.Reader) and r.__self__.type == "u16"
    assert repr(r.__self__) == "<fastffi.Reader u16>"
    c = (ctypes.c_uint16 * 2)(7, 65535)
    assert r(ctypes.addressof(c)) == 7 and r(ctypes.addressof(c), 2) == 65535
    with raises_exact(TypeError, "reader(u16)(): takes (ptr, offset=0), 0 arguments given"):
        r()
    with raises_exact(TypeError, "reader(u16)(): takes (ptr, offset=0), 3 arguments given"):
        r(1, 2, 3)
    with raises_exact(TypeError, "reader(u16)(): takes (ptr, offset=0)"):
        r(1, size=2)
    point = fastffi.struct("ReaderPoint2", [("x", "f64")])
    with raises_exact(TypeError, "reader(): ReaderPoint2 is not a scalar type (read a struct with read())"):
        fastffi.reader(point)
    with raises_exact(fastffi.SignatureError, "void has no values"):
        fastffi.reader("void")
    with raises_exact(ValueError, "not a scalar kind: 0"):
        fastffi._core.make_reader(0, "void")
    with raises_exact(TypeError, "cannot create 'fastffi.Reader' instances"):
        fastffi.Reader()
