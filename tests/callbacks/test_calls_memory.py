"""A Callback stored where a pointer is stored -- a struct field, a box,
``fastffi.write``, an array that is a ``fn.map`` column: the memory keeps the
Callback alive, so the address C reads stays valid while the memory lives."""
from __future__ import annotations

import gc
import sys
import weakref

import pytest

import fastffi
from fastffi.errors import CallbackClosedError

from conftest import raises_exact


def _collected(ref) -> bool:
    gc.collect()
    return ref() is None


@pytest.fixture
def Ops():
    return fastffi.struct("cb_ops", [("op", "void *"), ("bias", "long")])


def test_struct_field_keeps_the_callback(lib, tier, Ops):
    apply = lib.function("cb_apply_ops", "long", ["pointer", "long"], tier=tier)
    cb = fastffi.callback("long times10(long)", lambda x: x * 10)
    ref = weakref.ref(cb)
    ops = Ops(op=cb, bias=1)
    del cb
    assert not _collected(ref)
    assert apply(ops, 4) == 41
    assert ops.op == ref().address
    ops.op = None   # overwritten: kept no longer
    assert _collected(ref)


def test_field_assignment_and_replacement(lib, tier, Ops):
    apply = lib.function("cb_apply_ops", "long", ["pointer", "long"], tier=tier)
    ops = Ops(bias=0)
    first = fastffi.callback("long a(long)", lambda x: x + 1)
    ref_first = weakref.ref(first)
    ops.op = first
    del first
    assert apply(ops, 1) == 2
    ops.op = fastffi.callback("long b(long)", lambda x: x + 2)
    assert _collected(ref_first)
    assert apply(ops, 1) == 3


def test_box_keeps_the_callback(lib, tier):
    slot = lib.function("long cb_call_slot(long (*const *slot)(long), long x)", tier=tier)
    box = fastffi.new("void *", fastffi.callback("long inc(long)", lambda x: x + 1))
    gc.collect()
    assert slot(box, 41) == 42


def test_write_keeps_the_callback(lib, tier):
    slot = lib.function("long cb_call_slot(long (*const *slot)(long), long x)", tier=tier)
    arr = fastffi.array("void *", 2)
    fastffi.write(arr, "void *", fastffi.callback("long neg(long)", lambda x: -x), offset=8)
    gc.collect()
    assert slot(fastffi.address_of(arr) + 8, 5) == -5


def test_write_at_a_raw_address_keeps_nothing():
    cb = fastffi.callback("long f(long)", lambda x: x)
    ref = weakref.ref(cb)
    arr = fastffi.array("void *", 1)
    fastffi.write(fastffi.address_of(arr), "void *", cb)   # raw memory: the caller keeps the Callback
    assert fastffi.read(arr, "void *") == cb.address
    del cb
    assert _collected(ref)


def test_closed_callback_is_refused_when_stored(Ops):
    cb = fastffi.callback("long f(long)", lambda x: x)
    cb.close()
    ops = Ops()
    with raises_exact(CallbackClosedError, "cb_ops.op: callback 'f' is closed"):
        ops.op = cb
    with raises_exact(CallbackClosedError, "write(): callback 'f' is closed"):
        fastffi.write(fastffi.array("void *", 1), "void *", cb)
    assert ops.op == 0


def test_map_column_of_callbacks(lib, tier):
    call = lib.function("long cb_call(long (*cb)(long), long x)", tier=tier)
    table = fastffi.array("void *", 3)
    for i in range(3):
        table[i] = fastffi.callback("long f(long)", lambda x, i=i: x * 10 + i)
    gc.collect()
    out = fastffi.array("long", 3)
    call.map(table, fastffi.array("long", [1, 2, 3]), out=out)
    assert list(out) == [10, 21, 32]


def test_map_column_callback_exception_is_reported(lib, tier, monkeypatch):
    # A column's Callbacks were not passed to map() itself: what they raise is
    # reported (docs/callbacks.md), and C gets the error value.
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(type(u.exc_value)))
    call = lib.function("long cb_call(long (*cb)(long), long x)", tier=tier)
    table = fastffi.array("void *", 1)
    table[0] = fastffi.callback("long f(long)", lambda x: 1 // 0, error=-7)
    out = fastffi.array("long", 1)
    call.map(table, fastffi.array("long", [1]), out=out)
    assert list(out) == [-7] and seen == [ZeroDivisionError]
