"""fastffi.gc(obj, destructor): memory C allocated is handed back to its own deallocator, once,
when the object gc() returned is collected -- strdup/free from libc, a fixture function that
records the address it was called with, struct views of foreign memory, detaching."""
from __future__ import annotations

import copy
import sys
import gc as pygc
import pickle

import fastffi
from conftest import raises_exact
from fastffi.memory import OwnedAddress, OwnedString



class Counting:
    """A destructor that records every call and forwards it to a real C function."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, address):
        self.calls.append(address)
        self.fn(address)


class FakeCString(str):
    """A str with .address, standing for a non-const char * result (fastffi.CString, made on
    another branch): gc() takes any str whose .address is an int."""

    def __new__(cls, text, address):
        s = super().__new__(cls, text)
        s.address = address
        return s


def test_strdup_free_runs_once_at_collection(process):
    strdup = process.function("strdup", "pointer", ["string"])
    free = Counting(process.function("free", "void", ["pointer"]))
    raw = strdup(b"owned by python")
    owned = fastffi.gc(raw, free)
    assert type(owned) is OwnedAddress and owned == raw and isinstance(owned, int)
    assert fastffi.to_string(owned) == "owned by python"
    assert free.calls == []
    del owned
    pygc.collect()
    assert free.calls == [raw]
    pygc.collect()
    assert free.calls == [raw]


def test_a_c_destructor_is_called_with_the_address(lib):
    """The destructor is a fastffi Function called with the address as an int: the fixture's
    set_counter records it."""
    record = lib.function("set_counter", "void", ["pointer"])
    get_counter = lib.function("get_counter", "i64", [])
    record(0)
    owned = fastffi.gc(0x1234560, record)
    assert get_counter() == 0
    del owned
    pygc.collect()
    assert get_counter() == 0x1234560


def test_detach_after_an_explicit_free(process):
    strdup = process.function("strdup", "pointer", ["string"])
    real_free = process.function("free", "void", ["pointer"])
    free = Counting(real_free)
    owned = fastffi.gc(strdup(b"freed by hand"), free)
    assert fastffi.gc(owned, None) is owned
    real_free(owned)
    del owned
    pygc.collect()
    assert free.calls == []


def test_detach_refuses_what_gc_did_not_return(process):
    strdup = process.function("strdup", "pointer", ["string"])
    free = process.function("free", "void", ["pointer"])
    raw = strdup(b"x")
    owned = fastffi.gc(raw, free)
    with raises_exact(TypeError, "gc(obj, None): int has no destructor to detach (pass the object gc() returned)"):
        fastffi.gc(raw, None)
    with raises_exact(ValueError, "gc(): this OwnedAddress already has a destructor (detach it with gc(obj, None) first)"):
        fastffi.gc(owned, free)
    del owned


def test_a_c_string_result_gets_an_owned_string(process):
    strdup = process.function("strdup", "pointer", ["string"])
    free = Counting(process.function("free", "void", ["pointer"]))
    address = strdup(b"caf\xc3\xa9")
    s = FakeCString(fastffi.to_string(address), address)
    owned = fastffi.gc(s, free)
    assert type(owned) is OwnedString and owned == "caf\u00e9" and owned.address == address
    assert hash(owned) == hash("caf\u00e9") and isinstance(owned, str)
    assert fastffi.to_string(owned.address) == "caf\u00e9"
    del s, owned
    pygc.collect()
    assert free.calls == [address]


def test_copies_and_pickles_own_nothing(process):
    free = Counting(lambda address: None)
    owned_int = fastffi.gc(0x5000, free)
    owned_str = fastffi.gc(FakeCString("text", 0x6000), free)
    copies = [copy.copy(owned_int), copy.deepcopy(owned_int), pickle.loads(pickle.dumps(owned_int)),
              copy.copy(owned_str), pickle.loads(pickle.dumps(owned_str)), owned_int + 0]
    assert [type(c) for c in copies] == [int, int, int, str, str, int]
    del owned_int, owned_str
    pygc.collect()
    assert sorted(free.calls) == [0x5000, 0x6000]
    del copies
    pygc.collect()
    assert len(free.calls) == 2


def test_a_struct_view_of_foreign_memory(process):
    point = fastffi.struct("GcPoint", [("x", "i64"), ("y", "i64")])
    calloc = process.function("calloc", "pointer", ["size_t", "size_t"])
    free = Counting(process.function("free", "void", ["pointer"]))
    address = calloc(1, fastffi.sizeof(point))
    view = fastffi.gc(point.from_address(address), free)
    assert type(view) is point and view._address_ == address and fastffi.sizeof(view) == 16
    view.y = 42
    other = view
    del view
    pygc.collect()
    assert free.calls == [] and other.y == 42        # a reference is left
    del other
    pygc.collect()
    assert free.calls == [address]


def test_a_field_view_keeps_the_owned_struct(process):
    outer = fastffi.struct("GcOuter2", [("n", "i32"), ("arr", "i32[4]")])
    calloc = process.function("calloc", "pointer", ["size_t", "size_t"])
    free = Counting(process.function("free", "void", ["pointer"]))
    address = calloc(1, fastffi.sizeof(outer))
    arr = fastffi.gc(outer.from_address(address), free).arr
    pygc.collect()
    arr[3] = 9
    assert free.calls == [] and arr[3] == 9
    del arr
    pygc.collect()
    assert free.calls == [address]


def test_an_array_view(process):
    calloc = process.function("calloc", "pointer", ["size_t", "size_t"])
    free = Counting(process.function("free", "void", ["pointer"]))
    address = calloc(4, 8)
    point = fastffi.struct("GcArrHolder", [("a", "f64[4]")])
    arr = point.from_address(address).a
    with raises_exact(ValueError, "gc(): f64[] is a view of another object's memory"):
        fastffi.gc(arr, free)
    whole = fastffi.gc(point.from_address(address), free)
    whole.a[1] = 2.5
    assert list(whole.a) == [0.0, 2.5, 0.0, 0.0]
    del whole, arr
    pygc.collect()
    assert free.calls == [address]


def test_refusals():
    free = Counting(lambda address: None)
    with raises_exact(ValueError, "gc(): Box[i32] owns its memory (fastffi allocated it and frees it)"):
        fastffi.gc(fastffi.new("i32"), free)
    point = fastffi.struct("GcRefused", [("x", "i64")])
    with raises_exact(ValueError, "gc(): GcRefused owns its memory (fastffi allocated it and frees it)"):
        fastffi.gc(point(), free)
    with raises_exact(TypeError, "gc() destructor must be callable (a fastffi Function such as free), got int"):
        fastffi.gc(0x1000, 0x2000)
    with raises_exact(TypeError, "gc() expected a str with an int .address (a char * result), got a plain str"):
        fastffi.gc("text", free)
    with raises_exact(TypeError, "gc() expected a struct/union/array view of foreign memory, an address (int), "
                                 "a str with .address, or None, got float"):
        fastffi.gc(1.5, free)
    with raises_exact(OverflowError, "gc(): -1 does not fit pointer"):
        fastffi.gc(-1, free)
    assert fastffi.gc(None, free) is None and fastffi.gc(0, free) == 0
    pygc.collect()
    assert free.calls == []


def test_a_destructor_that_raises_is_reported_once():
    calls = []

    def bad(address):
        calls.append(address)
        raise RuntimeError("boom")

    seen = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda info: seen.append(type(info.exc_value))
    try:
        owned = fastffi.gc(0x7000, bad)
        del owned
        pygc.collect()
    finally:
        sys.unraisablehook = old
    assert calls == [0x7000] and seen == [RuntimeError]
