"""copy.copy / copy.deepcopy of structs, unions, arrays and boxes: new owned memory holding the
same bytes (fastffi/model/aggregates.py)."""
from __future__ import annotations

import copy

import pytest

import fastffi

Inner = fastffi.struct("CopyInner", [("a", "i16"), ("b", "u8[3]")])
Rec = fastffi.struct("CopyRec", [("x", "f64"), ("name", "string"), ("inner", Inner), ("v", "i32[2]")])


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_struct_copy_is_independent_and_equal(how):
    r = Rec(x=1.5, name=b"kept" + b" alive", v=[3, -4])
    r.inner.a = -7
    r.inner.b[2] = 255
    c = how(r)
    assert type(c) is Rec and c is not r
    assert bytes(c) == bytes(r)
    assert (c.x, c.name, c.inner.a, list(c.inner.b), list(c.v)) == (1.5, "kept alive", -7, [0, 0, 255], [3, -4])
    r.x, r.inner.a, r.v[0] = 2.5, 1, 9
    assert (c.x, c.inner.a, c.v[0]) == (1.5, -7, 3)
    del r
    assert c.name == "kept alive"   # what the pointer field points at is kept by the copy


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copy_of_a_view_owns_its_memory(how):
    buf = bytearray(fastffi.sizeof(Inner))
    view = Inner.from_buffer(buf)
    view.a = 12
    c = how(view)
    buf[0] = 0
    assert (view.a, c.a) == (0, 12)
    buf2 = bytearray(8)
    c2 = how(Inner.from_buffer(buf2))
    buf2.extend(b"resizable: the copy holds no export")
    assert c2.a == 0


def test_union_copy():
    U = fastffi.union("CopyU", [("i", "u32"), ("f", "f32")])
    u = U(f=1.0)
    c = copy.deepcopy(u)
    assert type(c) is U and c.i == 0x3F800000


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_array_copy(how):
    a = fastffi.array("i64", [1, -2, 2**62])
    c = how(a)
    assert type(c) is type(a) and list(c) == [1, -2, 2**62]
    a[0] = 5
    assert c[0] == 1
    assert memoryview(c).format == memoryview(a).format and memoryview(c).itemsize == 8
    s = fastffi.array(Inner, 2)
    s[1].a = 3
    cs = how(s)
    s[1].a = 4
    assert (len(cs), cs[1].a) == (2, 3)
    assert list(how(fastffi.array("u8", 0))) == []


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_box_copy(how):
    b = fastffi.new("f32")
    b.value = 0.5
    c = how(b)
    b.value = 2.0
    assert type(c) is type(b) and c.value == 0.5


def test_copy_passes_to_c():
    libc = fastffi.dlopen("libc.so.6")
    memcmp = libc.function("int memcmp(const void *a, const void *b, size_t n)")
    r = Rec(x=3.25, v=[1, 2])
    assert memcmp(r, copy.copy(r), fastffi.sizeof(Rec)) == 0
