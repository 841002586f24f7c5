"""What the memory helpers guarantee about fastffi's own objects: every access through a struct,
union, array or box stays inside it (IndexError otherwise, at the exact boundary), raw integer
addresses stay unchecked; from_buffer holds the buffer's export for the life of the view; a value
stored in a pointer field or element is kept alive by the memory's owner; CData takes part in
garbage collection, so cycles through it are collected."""
from __future__ import annotations

import gc
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastffi
from conftest import raises_exact
from fastffi import _core

WIDTH = {"bool": 1, "i8": 1, "u8": 1, "i16": 2, "u16": 2, "i32": 4, "u32": 4, "f32": 4,
         "i64": 8, "u64": 8, "f64": 8, "pointer": 8, "string": 8}


def outside(helper, offset, size, obj):
    return raises_exact(IndexError, f"{helper}(): offset {offset}, size {size} is outside "
                                    f"{type(obj).__name__} (size {fastffi.sizeof(obj)})")


Pair = fastffi.struct("SafePair", [("a", "u64"), ("b", "u64")])
Outer = fastffi.struct("SafeOuter", [("n", "u32"), ("inner", Pair), ("tail", "u8[4]")])


def objects():
    """One of each kind of fastffi object, with its size."""
    return [fastffi.new("u8"), fastffi.new("i64"), fastffi.array("u8", 4), fastffi.array("f64", 3), Pair(),
            fastffi.union("SafeU", [("i", "i32"), ("b", "u8[6]")])(), Outer().inner]


# --- bounds: the issue's reproductions ----------------------------------------------------------------------


def test_issue_reproductions_raise():
    box = fastffi.new("u8")
    with raises_exact(IndexError, "read(): offset 40, size 8 is outside Box[u8] (size 1)"):
        fastffi.read(box, "u64", 40)
    big = fastffi.new("i64")
    with raises_exact(IndexError, "view(): offset 0, size 65536 is outside Box[i64] (size 8)"):
        fastffi.view(big, 65536)
    arr = fastffi.array("u8", 4)
    with raises_exact(IndexError, "write_bytes(): offset 0, size 256 is outside u8[] (size 4)"):
        fastffi.write_bytes(arr, b"A" * 256)
    assert list(arr) == [0, 0, 0, 0]


# --- bounds: every helper at the exact boundary ---------------------------------------------------------------


@pytest.mark.parametrize("type_", sorted(WIDTH))
@pytest.mark.parametrize("index", range(7))
def test_read_write_scalar_at_the_boundary(type_, index):
    obj = objects()[index]
    size, width = fastffi.sizeof(obj), WIDTH[type_]
    if type_ == "string":
        value = None
    else:
        value = True if type_ == "bool" else (1.5 if type_[0] == "f" else 7)
    if width > size:
        with outside("write", 0, width, obj):
            fastffi.write(obj, type_, value)
        with outside("read", 0, width, obj):
            fastffi.read(obj, type_)
        return
    last = size - width
    fastffi.write(obj, type_, value, offset=last)
    assert fastffi.read(obj, type_, offset=last) == value
    for bad in (last + 1, size, -1, -width, 2**40):
        with outside("write", bad, width, obj):
            fastffi.write(obj, type_, value, offset=bad)
        with outside("read", bad, width, obj):
            fastffi.read(obj, type_, offset=bad)


def test_read_write_struct_at_the_boundary():
    buf = fastffi.array("u8", 40)
    p = Pair(a=1, b=2)
    fastffi.write(buf, Pair, p, offset=24)
    assert (fastffi.read(buf, Pair, offset=24).b, bytes(buf)[24:26]) == (2, b"\x01\x00")
    for bad in (25, 40, -1):
        with outside("write", bad, 16, buf):
            fastffi.write(buf, Pair, p, offset=bad)
        with outside("read", bad, 16, buf):
            fastffi.read(buf, Pair, offset=bad)
    small = fastffi.new("u64")
    with outside("read", 0, 16, small):
        fastffi.read(small, Pair)
    with outside("write", 0, 16, small):
        fastffi.write(small, Pair, p)
    assert small.value == 0


@pytest.mark.parametrize("index", range(7))
def test_to_bytes_and_view_at_the_boundary(index):
    obj = objects()[index]
    size = fastffi.sizeof(obj)
    assert fastffi.to_bytes(obj, size) == bytes(obj)
    assert fastffi.to_bytes(obj, 0) == b""
    v = fastffi.view(obj, size)
    assert (v.nbytes, v.format, v.readonly) == (size, "B", False)
    assert fastffi.view(obj, size, readonly=True).readonly is True
    assert fastffi.view(obj, 0).nbytes == 0
    with outside("to_bytes", 0, size + 1, obj):
        fastffi.to_bytes(obj, size + 1)
    with outside("view", 0, size + 1, obj):
        fastffi.view(obj, size + 1)
    with raises_exact(ValueError, "to_bytes(): negative size"):
        fastffi.to_bytes(obj, -1)
    with raises_exact(ValueError, "view(): negative size"):
        fastffi.view(obj, -1)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 40), offset=st.integers(-50, 60), size=st.integers(-3, 60),
       helper=st.sampled_from(["read", "write", "to_bytes", "view", "write_bytes"]))
def test_every_helper_is_in_bounds_or_raises(n, offset, size, helper):
    """An access succeeds exactly when 0 <= offset and offset + size <= n; else IndexError (or
    ValueError for a negative size), and the object is unchanged."""
    arr = fastffi.array("u8", [0xAB] * n)
    if helper in ("to_bytes", "view"):
        offset = 0                      # they take no offset
    width = {"read": 8, "write": 8, "write_bytes": max(size, 0)}.get(helper, size)
    calls = {
        "read": lambda: fastffi.read(arr, "u64", offset),
        "write": lambda: fastffi.write(arr, "u64", 0, offset),
        "to_bytes": lambda: fastffi.to_bytes(arr, size),
        "view": lambda: fastffi.view(arr, size),
        "write_bytes": lambda: fastffi.write_bytes(arr, b"\0" * width, offset),
    }
    if width < 0:
        with raises_exact(ValueError, f"{helper}(): negative size"):
            calls[helper]()
    elif 0 <= offset and offset + width <= n:
        calls[helper]()
    else:
        with outside(helper, offset, width, arr):
            calls[helper]()
        assert bytes(arr) == b"\xab" * n


def test_view_of_an_object_keeps_it_alive_and_writes_through():
    arr = fastffi.array("i32", [1, 2, 3])
    v = fastffi.view(arr, 12)
    v[0] = 9
    assert arr[0] == 9
    del arr
    gc.collect()
    junk = [fastffi.array("i32", [77, 77, 77]) for _ in range(200)]
    assert bytes(v) == b"\x09\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00"
    del junk


@pytest.mark.parametrize("index", range(7))
def test_write_bytes_at_the_boundary(index):
    obj = objects()[index]
    size = fastffi.sizeof(obj)
    fastffi.write_bytes(obj, b"\x01" * size)
    assert bytes(obj) == b"\x01" * size
    fastffi.write_bytes(obj, b"\x02", offset=size - 1)
    fastffi.write_bytes(obj, b"", offset=size)
    assert bytes(obj)[-1:] == b"\x02"
    with outside("write_bytes", 0, size + 1, obj):
        fastffi.write_bytes(obj, b"\x03" * (size + 1))
    with outside("write_bytes", size, 1, obj):
        fastffi.write_bytes(obj, b"\x03", offset=size)
    with outside("write_bytes", -1, 1, obj):
        fastffi.write_bytes(obj, b"\x03", offset=-1)
    with outside("write_bytes", size + 1, 0, obj):
        fastffi.write_bytes(obj, b"", offset=size + 1)
    assert bytes(obj) == b"\x01" * (size - 1) + b"\x02"


def test_to_string_stops_at_the_object_end():
    arr = fastffi.array("u8", b"hey!")
    with raises_exact(IndexError, "to_string(): no null terminator within u8[] (size 4)"):
        fastffi.to_string(arr)
    with raises_exact(IndexError, "to_string(): no null terminator within u8[] (size 4)"):
        fastffi.to_string(arr, 5)
    assert fastffi.to_string(arr, 4) == "hey!"          # the limit, not the end, stopped it
    assert fastffi.to_string(arr, 2) == "he"
    arr[3] = 0
    assert fastffi.to_string(arr) == "hey"
    assert fastffi.to_string(arr, 100) == "hey"           # a NUL inside: C's strnlen stops there
    with raises_exact(ValueError, "to_string(): negative size"):
        fastffi.to_string(arr, -1)


def test_a_field_view_is_bounded_by_the_field():
    """A nested field's view is its own object: its size, not the parent's, bounds it."""
    o = Outer()
    inner = o.inner
    fastffi.write(inner, "u64", 5, offset=8)
    assert o.inner.b == 5
    with outside("write", 16, 1, inner):
        fastffi.write(inner, "u8", 1, offset=16)
    with outside("read", 0, 8, o.tail):
        fastffi.read(o.tail, "u64")


def test_copy_checks_both_ends():
    big, small = fastffi.array("u8", 32), fastffi.array("u8", 8)
    _core.copy(big, small, 8, 24, 0)
    with outside("copy", 25, 8, big):
        _core.copy(big, small, 8, 25, 0)
    with outside("copy", 0, 9, small):
        _core.copy(big, small, 9)
    with outside("copy", 1, 8, small):
        _core.copy(big, small, 8, 0, 1)
    with raises_exact(ValueError, "copy(): negative size"):
        _core.copy(big, small, -1)


def test_field_and_element_assignment_stay_checked():
    """The struct paths copy through the checked helper: a view of a field and an array element."""
    o = Outer()
    o.inner = Pair(a=3, b=4)
    assert (o.inner.a, o.inner.b) == (3, 4)
    arr = fastffi.array(Pair, 2)
    arr[1] = Pair(a=5, b=6)
    assert (arr[1].a, arr[1].b, bytes(arr)[:16]) == (5, 6, bytes(16))


def test_raw_addresses_are_not_checked():
    """Only raw integer addresses are trusted, as in C: an address inside a larger buffer reads
    past the object it came from."""
    backing = bytearray(range(16))
    inner = fastffi.address_of(backing) + 4
    assert fastffi.read(inner, "u32", 8) == int.from_bytes(bytes(range(12, 16)), "little")
    assert fastffi.read(inner, "u8", -4) == 0
    assert fastffi.to_bytes(inner, 12) == bytes(range(4, 16))
    fastffi.write_bytes(inner, b"\xff", offset=-1)
    assert backing[3] == 0xFF


def test_null_is_still_refused_first():
    with raises_exact(ValueError, "read(): NULL pointer"):
        fastffi.read(None, Pair)
    with raises_exact(ValueError, "read(): NULL pointer"):
        fastffi.read(0, Pair, offset=16)
    with raises_exact(ValueError, "write(): NULL pointer"):
        fastffi.write(None, Pair, Pair())


# --- from_buffer holds the export ----------------------------------------------------------------------------


def test_from_buffer_holds_the_export_while_the_view_lives():
    ba = bytearray(24)
    view = Pair.from_buffer(ba)
    view.b = 7
    assert ba[8] == 7
    with raises_exact(BufferError, "Existing exports of data: object cannot be re-sized"):
        ba.extend(b"x")
    with pytest.raises(BufferError):
        ba.clear()
    assert len(ba) == 24
    ba[0] = 1                      # same-size writes are fine
    assert view.a == 1
    assert view._base_.obj is ba
    del view
    gc.collect()
    ba.extend(b"x")                # released with the view
    assert len(ba) == 25


def test_from_buffer_export_held_by_field_views_too():
    ba = bytearray(fastffi.sizeof(Outer))
    inner = Outer.from_buffer(ba).inner
    gc.collect()
    with pytest.raises(BufferError):
        ba.extend(b"x")
    inner.a = 3
    assert ba[8] == 3
    del inner
    gc.collect()
    ba.extend(b"x")


def test_from_buffer_of_a_memoryview_holds_the_bytearray():
    ba = bytearray(40)
    view = Pair.from_buffer(memoryview(ba)[8:])
    view.a = 0x0102
    assert ba[8:10] == b"\x02\x01"
    with pytest.raises(BufferError):
        ba.extend(b"x")
    del view
    ba.extend(b"x")


def test_from_buffer_refuses_non_contiguous_and_readonly():
    ba = bytearray(64)
    with raises_exact(ValueError, "SafePair.from_buffer(): buffer is not C-contiguous"):
        Pair.from_buffer(memoryview(ba)[::2])
    with raises_exact(TypeError, "SafePair.from_buffer(): buffer is read-only"):
        Pair.from_buffer(b"x" * 16)
    with raises_exact(ValueError, "SafePair.from_buffer(): buffer has 8 bytes, need 16"):
        Pair.from_buffer(bytearray(8))


# --- keepalive of stored pointers ------------------------------------------------------------------------------

Holder = fastffi.struct("SafeHolder", [("s", "string"), ("p", "pointer"), ("n", "i32")])
Nest = fastffi.struct("SafeNest", [("tag", "u8"), ("h", Holder), ("strs", "string[3]")])


def churn():
    """Collect, then allocate many small objects of every size nearby, so freed memory is
    overwritten."""
    gc.collect()
    return [b"Z" * n for n in range(1, 64) for _ in range(20)]


def test_issue_reproduction_bytes_in_a_struct_field_survive_a_collection():
    h = Holder(s=b"keep" + str(5).encode())
    junk = churn()
    assert h.s == "keep5"
    del junk


def test_every_kind_of_pointer_value_is_kept():
    class Tracked(bytearray):
        pass

    arr_target = fastffi.array("i32", [11, 22])
    tracked = Tracked(b"tracked\x00")
    h = Holder(s=b"a" + b"bc", p=tracked)
    addr = fastffi.address_of(tracked)
    ref = weakref.ref(tracked)
    del tracked
    junk = churn()
    assert ref() is not None and h.s == "abc" and fastffi.to_string(h.p) == "tracked"
    assert h.p == addr
    h.p = arr_target
    del arr_target
    junk = churn()
    assert ref() is None, "overwriting the field drops what it kept"
    assert (fastffi.read(h.p, "i32"), fastffi.read(h.p, "i32", 4)) == (11, 22)
    del junk


def test_a_kept_bytearray_cannot_be_resized_away():
    ba = bytearray(b"hello\x00")
    h = Holder(p=ba)
    with pytest.raises(BufferError):
        ba.extend(b"!")
    h.p = None
    ba.extend(b"!")
    assert h._objects_ == {}


def test_str_in_a_string_field_is_encoded_and_kept():
    h = Holder()
    h.s = "h\u00e9llo " + str(42)
    junk = churn()
    assert h.s == "h\u00e9llo 42"
    h.s = "x\udcff"                     # surrogateescape, as results are decoded
    assert (h.s, fastffi.to_string(fastffi.read(h, "pointer"), encoding=None)) == ("x\udcff", b"x\xff")
    with raises_exact(ValueError, "SafeHolder.s: embedded null character"):
        h.s = "a\x00b"
    assert h.s == "x\udcff"
    del junk


def test_str_at_a_raw_address_is_still_refused():
    backing = bytearray(8)
    with raises_exact(TypeError, "write(): cannot store a str as a string pointer at a raw address (it would "
                                 "dangle); pass bytes you keep alive, or an address"):
        fastffi.write(fastffi.address_of(backing), "string", "text")


def test_array_elements_and_boxes_keep_their_values():
    arr = fastffi.array("string", [b"one" + b"", "two", b"thr" + b"ee"])
    box = fastffi.new("pointer", bytearray(b"boxed\x00"))
    sbox = fastffi.new("string", "sbox" + str(1))
    junk = churn()
    assert list(arr) == ["one", "two", "three"]
    assert fastffi.to_string(box.value) == "boxed" and sbox.value == "sbox1"
    arr[1] = None
    assert list(arr) == ["one", None, "three"] and len(arr._objects_) == 2
    del junk


def test_the_outermost_owner_keeps_what_a_nested_field_stores():
    n = Nest()
    n.h.s = b"nested" + b"!"
    n.h.p = bytearray(b"deep\x00")
    n.strs = [b"x" + b"0", "x1", None]
    junk = churn()
    assert (n.h.s, fastffi.to_string(n.h.p), list(n.strs)) == ("nested!", "deep", ["x0", "x1", None])
    assert len(n._objects_) == 4 and n.h._objects_ == n._objects_
    del junk


def test_copies_carry_what_the_source_kept():
    src = Nest()
    src.h = Holder(s=b"carried" + b"", n=3)
    assert src.h.s == "carried"
    dst = Nest()
    dst.h.s = b"old" + b""
    dst.h = src.h                        # struct assignment: pointers and what they need
    by_new = fastffi.new(Nest, src)
    by_read = fastffi.read(src, Holder, offset=fastffi.offsetof(Nest, "h"))
    by_array = fastffi.array(Holder, [src.h])
    del src
    junk = churn()
    assert (dst.h.s, by_new.h.s, by_read.s, by_array[0].s) == ("carried",) * 4
    assert len(dst._objects_) == 1, "the overwritten pointer's value is dropped"
    del junk


def test_write_bytes_over_a_pointer_drops_its_value():
    h = Holder(s=b"dropped" + b"")
    assert len(h._objects_) == 1
    fastffi.write_bytes(h, bytes(8))
    assert (h._objects_, h.s) == ({}, None)


def test_a_function_stored_as_a_pointer_is_kept():
    with fastffi.dlopen("libc.so.6") as libc:
        h = Holder(p=libc.function("abs", "i32", ["i32"]))
        assert list(h._objects_.values())[0].__name__ == "abs"


# --- GC --------------------------------------------------------------------------------------------------------


def test_cdata_is_gc_tracked():
    assert gc.is_tracked(Pair()) and gc.is_tracked(fastffi.new("i32")) and gc.is_tracked(fastffi.array("u8", 2))
    assert _core.CData.__flags__ & (1 << 14)          # Py_TPFLAGS_HAVE_GC


def test_a_cycle_through_a_stored_pointer_is_collected():
    class Tracked(bytearray):
        pass

    t = Tracked(8)
    ref = weakref.ref(t)
    h = Holder(p=t)
    n = Nest()
    n.h.p = n                       # the struct points at itself: n -> keep -> n
    n.h.s = b"x"
    h.s = b"y"
    n.strs[0] = b"z"
    holder_cycle = Nest()
    holder_cycle.h.p = holder_cycle.h      # through a field view: view -> owner -> keep -> view
    holder_cycle.strs[1] = b"w"
    holder_cycle.h.s = b"v"
    del t
    n.h.n = 1
    fastffi.write(n, "pointer", h, offset=fastffi.offsetof(Nest, "strs") + 16)   # n keeps h
    del h, n, holder_cycle
    gc.collect()
    assert ref() is None


def test_a_cycle_through_a_from_buffer_owner_is_collected():
    class Exporter(bytearray):
        pass

    b = Exporter(16)
    b.view = Pair.from_buffer(b)      # b -> __dict__ -> view -> memoryview -> b
    ref = weakref.ref(b)
    del b
    gc.collect()
    assert ref() is None
