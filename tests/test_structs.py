"""Structs, unions, arrays and boxes: instances (zeroed memory, kwargs, live views, assignment
rules, from_address, buffer protocol), by-value arguments and returns of every fixture shape on every
tier, register exhaustion, by-reference through pointer arguments, and the libffi tier's refusal of
by-value unions and packed structs.

The struct classes come from the field tables in layout_oracle.FIXTURE_DECLS, which
test_layout.py checks against tests/fixture/fixture.h with the C compiler."""
from __future__ import annotations

import gc
import math
import re
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastffi
from conftest import raises_exact, struct_tier
from test_calls import f32, make, wrap_i64
from layout_oracle import FIXTURE_DECLS, Decl, build

FLT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]
TINY_F32 = 2.0**-149


def T(name):
    """The fastffi class of a fixture struct/union."""
    return build(FIXTURE_DECLS[name])


def ifold(vals):
    return wrap_i64(sum((int(v) % 2**64) * (k + 1) for k, v in enumerate(vals)))


def dfold(vals):
    s = 0.0
    for k, v in enumerate(vals):
        s += float(v) * float(k + 1)
    return s


# --- flattening a table: the order the fixture's make_/fold_ functions use -------------------------------

def _elem(ftype):
    """-> (element type, n or None) for a field type."""
    if isinstance(ftype, tuple):
        return ftype[0], ftype[1]
    if isinstance(ftype, str):
        m = re.match(r"^(.*?)\s*\[(\d+)\]$", ftype)
        if m:
            return m.group(1), int(m.group(2))
    return ftype, None


def flat_fields(decl):
    """[(path, scalar type)] where path is a tuple of field names and array indices."""
    out = []
    for name, ftype in decl.fields:
        elem, n = _elem(ftype)
        idxs = [None] if n is None else list(range(n))
        for i in idxs:
            prefix = (name,) if i is None else (name, i)
            if isinstance(elem, Decl):
                out += [(prefix + p, t) for p, t in flat_fields(elem)]
            else:
                out.append((prefix, elem))
    return out


def get_path(obj, path):
    for step in path:
        obj = obj[step] if isinstance(step, int) else getattr(obj, step)
    return obj


def set_path(obj, path, value):
    *head, last = path
    obj = get_path(obj, head)
    if isinstance(last, int):
        obj[last] = value
    else:
        setattr(obj, last, value)


def get_flat(inst, decl):
    return [get_path(inst, p) for p, _ in flat_fields(decl)]


def instance(name, values):
    decl = FIXTURE_DECLS[name]
    inst = T(name)()
    for (p, _), v in zip(flat_fields(decl), values, strict=True):
        set_path(inst, p, v)
    return inst


# Shapes passed by value on every tier: name -> (fold result type, [flat value sets]).
# Values of f32 fields are exact floats; ints folded in double stay below 2**53.
BYVALUE = {
    "s_u8": ("i64", [[255], [7]]),
    "s_u8x3": ("i64", [[1, 2, 255], [255, 0, 128]]),
    "s_i16_u8": ("i64", [[-32768, 255], [32767, 1]]),
    "s_i32x3": ("i64", [[-(2**31), 2**31 - 1, -1], [1, 2, 3]]),
    "point_f64x2": ("f64", [[1.5, -2.25], [1e300, -1e-300]]),
    "s_i32_f64": ("f64", [[-(2**31), 0.1], [7, -3.5]]),
    "s_f64_i32": ("f64", [[0.1, 2**31 - 1], [-3.5, -7]]),
    "s_f32_i32": ("f64", [[1.5, -(2**31)], [-0.25, 7]]),
    "s_f32x2": ("f64", [[1.5, -2.5], [FLT_MAX, -TINY_F32]]),
    "s_f32x3": ("f64", [[0.25, -8.0, 1024.5], [-FLT_MAX, 1.0, TINY_F32]]),
    "s_i8_i64": ("i64", [[-128, -(2**63)], [127, 2**63 - 1]]),
    "s_bool_ptr": ("i64", [[True, 2**64 - 1], [False, 0x1000]]),
    "s_i64x3": ("i64", [[-(2**63), 2**63 - 1, -1], [1, 2, 3]]),
    "s_40": ("f64", [[2**52, 1.5, -(2**31), -0.25, 65535, -(2**52)], [1, 2.0, 3, 4.0, 5, 6]]),
    "rect": ("f64", [[1.0, 2.0, 3.0, 4.0], [-1e10, 0.5, 1e-10, -7.0]]),
    "s_nested_small": ("f64", [[1.5, -2.5, -(2**31)], [0.0, 3.0, 7]]),
    "s_i32_f32arr3": ("f64", [[-(2**31), 1.5, 2.5, -3.5], [1, 0.125, TINY_F32, FLT_MAX]]),
    "s_f64arr2": ("f64", [[1.5, -2.5], [1e300, 1e-300]]),
    "s_u8arr4_i32": ("i64", [[1, 2, 3, 255, -(2**31)], [0, 0, 0, 0, 7]]),
    "rec": ("f64", [[7, 1.5, -2.5, 0.5, 1.5, 2.5, 1, 2, 3, 4],
                    [2**32 - 1, -1e100, 1e100, FLT_MAX, -TINY_F32, 0.0, 255, 0, 128, 1]]),
    "s_f32x2_f64": ("f64", [[1.5, -2.5, 1e300], [-FLT_MAX, TINY_F32, -0.0]]),
    "s_f32x3_i32": ("f64", [[0.5, 1.5, 2.5, -(2**31)], [FLT_MAX, -1.0, TINY_F32, 2**31 - 1]]),
    "s_u8arr11": ("i64", [list(range(1, 12)), [255] * 11]),
    "s_u16x3": ("i64", [[65535, 0, 32768], [1, 2, 3]]),
    "s_bool_f32": ("f64", [[True, -2.5], [False, FLT_MAX]]),
}
# Not describable to libffi by value: packed (misaligned fields) and unions.
PACKED = {
    "p_i8_i32_f64": ("f64", [[-128, 2**31 - 1, 1.5], [1, -2, -3.25]]),
    "p2_i16_i32": ("i64", [[-32768, -(2**31)], [1, 2]]),
}


def expected_fold(name, restype, values):
    return ifold(values) if restype == "i64" else dfold(values)


def flat_types(name):
    return [t for _, t in flat_fields(FIXTURE_DECLS[name])]


def same_values(got, want):
    """Equality that tells -0.0 from 0.0 and treats bools as their ints."""
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if isinstance(w, float) or isinstance(g, float):
            if not (g == w and math.copysign(1.0, g) == math.copysign(1.0, w)):
                return False
        elif g != w:
            return False
    return True


# --- instances ------------------------------------------------------------------------------------------------


def test_instance_is_zeroed():
    Rec = T("rec")
    r = Rec()
    assert bytes(r) == bytes(40)
    assert r.id == 0 and r.pos.x == 0.0 and r.pos.y == 0.0
    assert list(r.v) == [0.0, 0.0, 0.0] and list(r.tag) == [0, 0, 0, 0]
    assert fastffi.sizeof(Rec) == 40


def test_kwargs_set_fields_and_omitted_are_zero():
    Rec, Point = T("rec"), T("point_f64x2")
    r = Rec(id=1, v=[1.0, 2.0, 3.0])
    assert r.id == 1
    assert list(r.v) == [1.0, 2.0, 3.0]
    assert (r.pos.x, r.pos.y) == (0.0, 0.0)
    assert list(r.tag) == [0, 0, 0, 0]
    r2 = Rec(pos=Point(x=2.0, y=-3.0), tag=b"\x01\x02\x03\x04")
    assert (r2.pos.x, r2.pos.y) == (2.0, -3.0)
    assert list(r2.tag) == [1, 2, 3, 4]
    assert struct.unpack_from("<I4x2d3f4B", bytes(r)) == (1, 0.0, 0.0, 1.0, 2.0, 3.0, 0, 0, 0, 0)


def test_unknown_field_kwarg_rejected():
    Point = T("point_f64x2")
    with pytest.raises(TypeError):
        Point(x=1.0, z=2.0)


@pytest.mark.parametrize("ctor", [fastffi.struct, fastffi.union])
@pytest.mark.parametrize("bad", ["a:3", "", "1x", "a b", "x-y", "a.b", " a", "a\n"])
def test_field_names_must_be_identifiers(ctor, bad):
    with raises_exact(ValueError, f"field name {bad!r} is not a C identifier"):
        ctor("BadName", [("ok", "i32"), (bad, "i32")])


def test_field_names_that_are_identifiers_are_accepted():
    """C and Python keywords are not refused: a field name never reaches C text."""
    cls = fastffi.struct("GoodNames", [("_a", "u8"), ("b1", "u8"), ("from", "u8"), ("int", "u8")])
    v = cls(**{"from": 3, "_a": 1})
    assert (getattr(v, "from"), v._a, fastffi.offsetof(cls, "int")) == (3, 1, 3)


def test_bytes_match_c_layout():
    Point, S40, P1 = T("point_f64x2"), T("s_40"), T("p_i8_i32_f64")
    assert bytes(Point(x=1.5, y=-2.0)) == struct.pack("<dd", 1.5, -2.0)
    s = S40(a=-1, b=0.5, c=-7, d=1.25, e=65535, f=2**62)
    assert bytes(s) == struct.pack("<qdifH6xq", -1, 0.5, -7, 1.25, 65535, 2**62)
    p = P1(a=-1, b=0x01020304, c=2.5)
    assert bytes(p) == struct.pack("<bid", -1, 0x01020304, 2.5)
    assert fastffi.sizeof(P1) == 13 and fastffi.offsetof(P1, "c") == 5


def test_nested_field_is_a_live_view():
    Rec = T("rec")
    r = Rec()
    r.pos.x = 2.0
    assert r.pos.x == 2.0
    assert struct.unpack_from("<d", bytes(r), 8) == (2.0,)
    p = r.pos
    p.y = 3.0
    assert r.pos.y == 3.0
    assert struct.unpack_from("<d", bytes(r), 16) == (3.0,)
    r.pos.y = -1.0
    assert p.y == -1.0  # both ways
    assert type(p) is T("point_f64x2")


def test_nested_view_keeps_parent_alive():
    p = T("rec")(id=5).pos
    gc.collect()
    p.x = 4.5
    assert p.x == 4.5
    v = T("rec")().v
    gc.collect()
    v[2] = 1.5
    assert list(v) == [0.0, 0.0, 1.5]


def test_array_field_view():
    Rec = T("rec")
    r = Rec(v=[1.0, 2.0, 3.0])
    a = r.v
    assert len(a) == 3
    assert a[0] == 1.0 and a[-1] == 3.0 and a[-3] == 1.0
    a[1] = 5.0
    assert r.v[1] == 5.0
    a[-1] = 7.0
    assert r.v[2] == 7.0
    assert list(a) == [1.0, 5.0, 7.0]
    assert [x for x in a] == [1.0, 5.0, 7.0]
    assert struct.unpack_from("<3f", bytes(r), 24) == (1.0, 5.0, 7.0)
    for bad in (3, -4, 100):
        with pytest.raises(IndexError):
            a[bad]
        with pytest.raises(IndexError):
            a[bad] = 0.0
    a[0] = 0.1
    assert a[0] == f32(0.1)


def test_array_field_elements_range_checked():
    r = T("rec")()
    with pytest.raises(OverflowError):
        r.tag[0] = 256
    with pytest.raises(OverflowError):
        r.tag[1] = -1
    with pytest.raises(TypeError):
        r.tag[2] = 1.0
    with pytest.raises(OverflowError):
        r.v[0] = 1e39
    r.tag[3] = 255
    assert list(r.tag) == [0, 0, 0, 255]


def test_array_field_assignment_takes_exact_length_sequences():
    r = T("rec")()
    r.v = [1, 2, 3]
    assert list(r.v) == [1.0, 2.0, 3.0] and all(type(x) is float for x in r.v)
    r.v = (4.0, 5.0, 6.0)
    assert list(r.v) == [4.0, 5.0, 6.0]
    r.tag = b"\x09\x08\x07\x06"
    assert list(r.tag) == [9, 8, 7, 6]
    r.tag = range(4)
    assert list(r.tag) == [0, 1, 2, 3]
    for bad in ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0], ()):
        with pytest.raises(ValueError):
            r.v = bad
    assert list(r.v) == [4.0, 5.0, 6.0]  # unchanged by the failed assignments
    with pytest.raises(ValueError):
        r.tag = b"\x01\x02\x03"


def test_nested_field_assignment_takes_exactly_its_class():
    Rec, Point = T("rec"), T("point_f64x2")
    Other = fastffi.struct("OtherPoint", [("x", "f64"), ("y", "f64")])  # same layout, other class
    r = Rec()
    p = Point(x=1.0, y=2.0)
    r.pos = p
    assert (r.pos.x, r.pos.y) == (1.0, 2.0)
    p.x = 9.0  # a copy was taken
    assert r.pos.x == 1.0
    for bad in (Other(x=1.0, y=2.0), (1.0, 2.0), None, bytes(16)):
        with pytest.raises(TypeError):
            r.pos = bad
    assert (r.pos.x, r.pos.y) == (1.0, 2.0)
    rect = T("rect")(tl=Point(x=1.0, y=2.0))
    rect.br = rect.tl  # a view of the same class is an instance of it
    assert (rect.br.x, rect.br.y) == (1.0, 2.0)


def test_scalar_fields_range_checked():
    S40, Rec = T("s_40"), T("rec")
    s = S40()
    with pytest.raises(OverflowError):
        s.e = 65536
    with pytest.raises(OverflowError):
        s.e = -1
    with pytest.raises(OverflowError):
        s.a = 2**63
    with pytest.raises(OverflowError):
        s.d = 1e39
    with pytest.raises(TypeError):
        s.c = 1.5
    with pytest.raises(TypeError):
        s.b = "1.0"
    s.b = 3
    assert s.b == 3.0 and type(s.b) is float
    s.d = 0.1
    assert s.d == f32(0.1)
    s.d = math.inf
    assert s.d == math.inf
    s.a = -(2**63)
    assert s.a == -(2**63)
    with pytest.raises(OverflowError):
        Rec(id=-1)
    bp = T("s_bool_ptr")()
    bp.flag = True
    assert bp.flag is True
    bp.flag = 0
    assert bp.flag is False
    with pytest.raises(OverflowError):
        bp.flag = 2
    bp.p = 2**64 - 1
    assert bp.p == 2**64 - 1
    with pytest.raises(OverflowError):
        bp.p = -1


def test_buffer_protocol_and_address():
    Rec = T("rec")
    r = Rec(id=3)
    mv = memoryview(r)
    assert mv.format == "B" and mv.nbytes == 40 and len(mv) == 40 and not mv.readonly
    mv[0:4] = struct.pack("<I", 77)
    assert r.id == 77
    assert np.frombuffer(r, dtype=np.uint32)[0] == 77
    addr = fastffi.address_of(r)
    assert addr != 0 and addr == fastffi.address_of(r)
    assert fastffi.address_of(r.pos) == addr + 8
    assert fastffi.address_of(r.v) == addr + 24


def test_from_address_is_a_view():
    Rec = T("rec")
    r = Rec(id=11)
    v = Rec.from_address(fastffi.address_of(r))
    assert type(v) is Rec
    assert v.id == 11
    v.id = 12
    v.pos.x = 0.5
    assert r.id == 12 and r.pos.x == 0.5
    r.tag[0] = 200
    assert v.tag[0] == 200
    with raises_exact(ValueError, "rec.from_address(): address must not be NULL"):
        Rec.from_address(0)


def test_from_address_of_foreign_memory(lib):
    Rec = T("rec")
    addr = lib.function("static_rec_ptr", "pointer", [])()
    fold_ptr = lib.function("fold_rec_ptr", "f64", ["pointer"])
    v = Rec.from_address(addr)
    want = [7, 1.5, -2.5, 0.5, 1.5, 2.5, 1, 2, 3, 4]
    assert get_flat(v, FIXTURE_DECLS["rec"]) == want
    assert fold_ptr(addr) == dfold(want)
    v.pos.y = 10.0
    try:
        assert fold_ptr(addr) == dfold([7, 1.5, 10.0, 0.5, 1.5, 2.5, 1, 2, 3, 4])
        assert fold_ptr(v) == fold_ptr(addr)  # the view passed as a pointer is that address
    finally:
        v.pos.y = -2.5


def test_last_call_read_through_from_address(lib):
    LastCall = T("last_call")
    view = LastCall.from_address(lib.symbol("last_call"))
    s8 = lib.function("sum_8_i64", "i64", ["i64"] * 8)
    args = [-(2**63), 1, 2, 3, 4, 5, 6, 2**63 - 1]
    s8(*args)
    assert view.n == 8
    assert list(view.i)[:8] == args


def test_union_instance_fields_overlap():
    U = T("u_i64_f64")
    assert fastffi.sizeof(U) == 8 and fastffi.alignof(U) == 8
    u = U(d=1.0)
    assert u.i == 0x3FF0000000000000
    u.i = -1
    assert math.isnan(u.d)
    assert bytes(u) == b"\xff" * 8
    B = T("u_u8x12_i32")
    b = B(i=0x01020304)
    assert list(b.b)[:4] == [4, 3, 2, 1] and fastffi.sizeof(B) == 12


def test_array_of_structs(lib, tier):
    Point = T("point_f64x2")
    arr = fastffi.array(Point, 4)
    assert len(arr) == 4
    assert memoryview(arr).nbytes == 64
    fill = make(lib, "fill_points", "void", ["pointer", "i64"], tier)
    fill(arr, 4)
    assert [(p.x, p.y) for p in arr] == [(0.0, 0.0), (1.0, 1.0), (2.0, 4.0), (3.0, 9.0)]
    arr[1].x = 10.0  # elements are live views
    s = make(lib, "sum_points", "f64", ["pointer", "i64"], tier)
    assert s(arr, 4) == dfold([0, 0]) + dfold([10.0, 1]) + dfold([2, 4]) + dfold([3, 9])
    arr2 = fastffi.array(Point, [Point(x=1.0, y=2.0), Point(x=3.0, y=4.0)])
    assert s(arr2, 2) == dfold([1, 2]) + dfold([3, 4])


# --- by value: every shape, every tier -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BYVALUE))
def test_struct_returned_by_value(lib, tier, name):
    cls = T(name)
    fn = make(lib, f"make_{name}", cls, flat_types(name), tier)
    for values in BYVALUE[name][1]:
        r = fn(*values)
        assert type(r) is cls
        assert same_values(get_flat(r, FIXTURE_DECLS[name]), values), (get_flat(r, FIXTURE_DECLS[name]), values)


@pytest.mark.parametrize("name", sorted(BYVALUE))
def test_struct_argument_by_value(lib, tier, name):
    restype, sets = BYVALUE[name]
    fn = make(lib, f"fold_{name}", restype, [T(name)], tier)
    for values in sets:
        assert fn(instance(name, values)) == expected_fold(name, restype, values)


@pytest.mark.parametrize("name", sorted(BYVALUE))
def test_struct_roundtrip_by_value(lib, tier, name):
    cls = T(name)
    fn = make(lib, f"id_{name}", cls, [cls], tier)
    decl = FIXTURE_DECLS[name]
    for values in BYVALUE[name][1]:
        inst = instance(name, values)
        r = fn(inst)
        assert type(r) is cls and r is not inst
        assert same_values(get_flat(r, decl), values)
        assert fastffi.address_of(r) != fastffi.address_of(inst)  # a new instance, not a view


_INT_RANGE = {"i8": 8, "i16": 16, "i32": 32, "i64": 64}


def _value_strategy(t):
    if t in _INT_RANGE:
        b = _INT_RANGE[t]
        return st.integers(-(2 ** (b - 1)), 2 ** (b - 1) - 1)
    if t.startswith("u"):
        return st.integers(0, 2 ** int(t[1:]) - 1)
    if t == "f32":
        return st.floats(width=32, allow_nan=False)
    if t == "f64":
        return st.floats(allow_nan=False)
    if t == "bool":
        return st.booleans()
    if t == "pointer":
        return st.integers(0, 2**64 - 1)
    raise AssertionError(t)


@pytest.mark.parametrize("name", sorted(BYVALUE))
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_struct_by_value_any_field_values(lib, tier, name, data):
    """Arbitrary field values survive make_ (return path) and id_ (both paths) exactly."""
    cls = T(name)
    types = flat_types(name)
    values = [data.draw(_value_strategy(t)) for t in types]
    mk = make(lib, f"make_{name}", cls, types, tier)
    ident = make(lib, f"id_{name}", cls, [cls], tier)
    decl = FIXTURE_DECLS[name]
    assert same_values(get_flat(mk(*values), decl), values)
    assert same_values(get_flat(ident(instance(name, values)), decl), values)


def test_returned_structs_are_independent(lib, tier):
    Point = T("point_f64x2")
    mk = make(lib, "make_point_f64x2", Point, ["f64", "f64"], tier)
    a = mk(1.0, 2.0)
    b = mk(3.0, 4.0)
    assert (a.x, a.y, b.x, b.y) == (1.0, 2.0, 3.0, 4.0)
    a.x = 100.0
    assert b.x == 3.0
    S3 = T("s_i64x3")
    mk3 = make(lib, "make_s_i64x3", S3, ["i64"] * 3, tier)
    c = mk3(1, 2, 3)
    d = mk3(4, 5, 6)
    assert (c.a, c.b, c.c, d.a, d.b, d.c) == (1, 2, 3, 4, 5, 6)


def test_by_value_argument_is_a_copy(lib, tier):
    S3, Point = T("s_i64x3"), T("point_f64x2")
    m3 = make(lib, "mutate_s_i64x3", "i64", [S3], tier)
    s = S3(a=1, b=2, c=3)
    assert m3(s) == 666
    assert (s.a, s.b, s.c) == (1, 2, 3)
    mp = make(lib, "mutate_point_f64x2", "f64", [Point], tier)
    p = Point(x=5.0, y=6.0)
    assert mp(p) == -3.0
    assert (p.x, p.y) == (5.0, 6.0)


def test_views_pass_by_value(lib, tier):
    """A nested view and a from_address view are instances of their class and pass by value."""
    Point, Rect = T("point_f64x2"), T("rect")
    fold = make(lib, "fold_point_f64x2", "f64", [Point], tier)
    r = Rect(tl=Point(x=1.0, y=2.0), br=Point(x=3.0, y=4.0))
    assert fold(r.br) == dfold([3.0, 4.0])
    v = Point.from_address(fastffi.address_of(r) + 16)
    assert fold(v) == dfold([3.0, 4.0])
    rec_fold = make(lib, "fold_rect", "f64", [Rect], tier)
    assert rec_fold(r) == dfold([1.0, 2.0, 3.0, 4.0])


def test_struct_argument_type_errors(lib, tier):
    Point = T("point_f64x2")
    Other = fastffi.struct("OtherPoint", [("x", "f64"), ("y", "f64")])
    fold = make(lib, "fold_point_f64x2", "f64", [Point], tier)
    for bad, tname in [(Other(x=1.0, y=2.0), "OtherPoint"), ((1.0, 2.0), "tuple"), (None, "NoneType"),
                       (bytes(16), "bytes"), (T("s_f64arr2")(), "s_f64arr2"), (1.0, "float")]:
        with raises_exact(TypeError, f"fold_point_f64x2() argument 1: expected point_f64x2, got {tname}"):
            fold(bad)
    two = make(lib, "fold_two_points", "f64", [Point, Point], tier)
    with raises_exact(TypeError, "fold_two_points() argument 2: expected point_f64x2, got OtherPoint"):
        two(Point(), Other())
    assert two(Point(x=1.0, y=2.0), Point(x=3.0, y=4.0)) == dfold([1, 2, 3, 4])
    with raises_exact(TypeError, "fold_two_points() takes 2 arguments (1 given)"):
        two(Point())


def test_struct_in_mixed_call(lib, tier):
    sfi, su8, s3, pt = T("s_f32_i32"), T("s_u8"), T("s_i64x3"), T("point_f64x2")
    fn = make(lib, "fold_mixed_structs", "f64", ["i8", sfi, "f64", su8, s3, pt, "u16"], tier)
    got = fn(-5, sfi(f=1.5, i=-7), 0.25, su8(a=200), s3(a=1, b=-2, c=3), pt(x=0.5, y=-0.5), 65535)
    assert got == dfold([-5, 1.5, -7, 0.25, 200, 1, -2, 3, 0.5, -0.5, 65535])


# --- register exhaustion: the koffi zoo cases -----------------------------------------------------------------


def test_nine_floats_then_struct(lib, tier):
    Point = T("point_f64x2")
    fn = make(lib, "f9_then_point", "f64", ["f32"] * 9 + [Point], tier)
    floats = [0.5 * (k + 1) for k in range(9)]
    assert fn(*floats, Point(x=-1.25, y=8.0)) == dfold(floats + [-1.25, 8.0])


def test_seven_doubles_struct_then_double(lib, tier):
    Point = T("point_f64x2")
    fn = make(lib, "d7_then_point_then_d", "f64", ["f64"] * 7 + [Point, "f64"], tier)
    ds = [0.25 * (k + 1) for k in range(7)]
    assert fn(*ds, Point(x=3.5, y=-4.5), 100.0) == dfold(ds + [3.5, -4.5, 100.0])


def test_five_ints_struct_then_int(lib, tier):
    S = T("s_i32x3")
    fn = make(lib, "i5_then_i32x3_then_i64", "i64", ["i64"] * 5 + [S, "i64"], tier)
    ints = [10, -20, 30, -40, 50]
    s = S(a=-(2**31), b=2**31 - 1, c=-3)
    assert fn(*ints, s, 2**62) == ifold(ints + [-(2**31), 2**31 - 1, -3, 2**62])


def test_six_ints_mixed_struct_then_double(lib, tier):
    S = T("s_i32_f64")
    fn = make(lib, "i6_then_i32_f64_then_d", "f64", ["i64"] * 6 + [S, "f64"], tier)
    ints = [1, 2, 3, 4, 5, 6]
    assert fn(*ints, S(i=-9, d=0.75), -2.5) == dfold(ints + [-9, 0.75, -2.5])


def test_stack_alignment_with_struct_on_stack(lib, tier):
    S3 = T("s_i64x3")
    fn = make(lib, "aligned_i6_s24", "i32", ["i64"] * 6 + [S3], tier)
    assert fn(1, 2, 3, 4, 5, 6, S3(a=-7, b=8, c=-(2**63))) == 1
    last = lib.function("last_call_i", "i64", ["i32"])
    assert [last(k) for k in range(9)] == [1, 2, 3, 4, 5, 6, -7, 8, -(2**63)]
    ret = make(lib, "aligned_ret_s24_i6", S3, ["i64"] * 6, tier)
    r = ret(10, -20, 30, -40, 50, 2**62)
    assert (r.a, r.b, r.c) == (1, ifold([10, -20, 30, -40, 50, 2**62]), 2**62)


def test_memory_return_with_stack_args(lib, tier):
    S3 = T("s_i64x3")
    fn = make(lib, "make_s_i64x3_from_7", S3, ["i64"] * 7, tier)
    xs = [2**62, -3, 5, -(2**63), 11, 13, -17]
    r = fn(*xs)
    assert (r.a, r.b, r.c) == (ifold(xs), wrap_i64(xs[0] - xs[6]), xs[3])


# --- by reference through pointer arguments ---------------------------------------------------------------------


def test_struct_by_pointer_callee_writes_visible(lib, tier):
    Point, Rec, S40 = T("point_f64x2"), T("rec"), T("s_40")
    scale = make(lib, "scale_point_f64x2", "void", ["pointer", "f64"], tier)
    p = Point(x=1.5, y=-2.0)
    scale(p, 2.0)
    assert (p.x, p.y) == (3.0, -4.0)
    rect = T("rect")(br=Point(x=1.0, y=1.0))
    scale(rect.br, 3.0)  # a nested view's address is inside its parent
    assert (rect.br.x, rect.br.y, rect.tl.x) == (3.0, 3.0, 0.0)
    fill = make(lib, "fill_rec", "void", ["pointer", "u32"], tier)
    r = Rec()
    fill(r, 4)
    assert get_flat(r, FIXTURE_DECLS["rec"]) == [4, 2.0, -4.0, 1.0, 1.25, 1.5, 4, 14, 24, 34]
    fold_ptr = make(lib, "fold_rec_ptr", "f64", ["pointer"], tier)
    assert fold_ptr(r) == dfold(get_flat(r, FIXTURE_DECLS["rec"]))
    bump = make(lib, "bump_s_40", "void", ["pointer"], tier)
    s = S40(a=1, b=2.0, c=3, d=4.0, e=65535, f=-1)
    bump(s)
    assert get_flat(s, FIXTURE_DECLS["s_40"]) == [2, 3.0, 4, 5.0, 0, 0]


def test_union_by_pointer_on_libffi(lib, tier):
    U = T("u_i64_f64")
    setd = make(lib, "set_u_i64_f64_d", "void", ["pointer", "f64"], tier)
    u = U()
    setd(u, 1.0)
    assert u.i == 0x3FF0000000000000 and u.d == 1.0


def test_struct_declarations_with_types(lib, tier):
    Point = T("point_f64x2")
    mk = lib.function("struct point_f64x2 make_point_f64x2(double x, double y)",
                      types={"point_f64x2": Point}, tier=struct_tier(tier))
    scale = lib.function("void scale_point_f64x2(struct point_f64x2 *p, double k)",
                         types={"point_f64x2": Point}, tier=tier)
    fold = lib.function("double fold_point_f64x2(point_f64x2 p)", types={"point_f64x2": Point},
                        tier=struct_tier(tier))
    assert mk.restype is Point and fold.argtypes == (Point,)
    assert scale.argtypes == ("pointer", "f64")
    p = mk(1.0, 2.0)
    scale(p, 4.0)
    assert (p.x, p.y) == (4.0, 8.0)
    assert fold(p) == dfold([4.0, 8.0])


@pytest.fixture(scope="module")
def defined_point():
    P = fastffi.struct("TestStructsDefinedPoint", [("x", "f64"), ("y", "f64")])
    fastffi.define("TestStructsDefinedPoint", P)
    return P


def test_struct_declarations_with_define(lib, tier, defined_point):
    mk = lib.function("TestStructsDefinedPoint make_point_f64x2(double, double)", tier=struct_tier(tier))
    mk2 = lib.function("struct TestStructsDefinedPoint id_point_f64x2(struct TestStructsDefinedPoint)",
                       tier=struct_tier(tier))
    r = mk2(mk(-1.0, 0.5))
    assert type(r) is defined_point and (r.x, r.y) == (-1.0, 0.5)


# --- unions and packed structs by value -------------------------------------------------------------------------

UNION_CASES = {
    # name: (make argtypes, make args, fold restype, expected fold, check of the made union)
    "u_i64_f64": (["i64"], [-(2**63) + 5], "i64", -(2**63) + 5, lambda u: u.i == -(2**63) + 5),
    "u_f32x2_f64": (["f32", "f32"], [1.5, -2.5], "f64", dfold([1.5, -2.5]), lambda u: list(u.f) == [1.5, -2.5]),
    "u_u8x12_i32": (["i32", "u8"], [0x01020304, 0xEE], "i64", ifold([4, 3, 2, 1] + [0] * 7 + [0xEE]),
                    lambda u: list(u.b) == [4, 3, 2, 1] + [0] * 7 + [0xEE]),
}
REFUSED_BY_VALUE = sorted(UNION_CASES) + sorted(PACKED)


def _refusal_reason_ok(name, msg):
    if name.startswith("u_"):
        return "union" in msg.lower()
    return "packed" in msg.lower() or "misaligned" in msg.lower() or "align" in msg.lower()


@pytest.mark.parametrize("name", REFUSED_BY_VALUE)
@pytest.mark.parametrize("direction", ["argument", "return"])
def test_libffi_refuses_union_and_packed_by_value(lib, name, direction):
    cls = T(name)
    if direction == "argument":
        fname, restype, argtypes = f"fold_{name}", "i64", [cls]
    else:
        make_args = UNION_CASES[name][0] if name in UNION_CASES else flat_types(name)
        fname, restype, argtypes = f"make_{name}", cls, make_args
    with pytest.raises(fastffi.SignatureError) as ei:
        lib.function(fname, restype, argtypes, tier="libffi")
    msg = str(ei.value)
    assert msg.startswith(f"{fname}: tier 'libffi' refused: "), msg
    assert _refusal_reason_ok(name, msg), msg


@pytest.mark.parametrize("name", REFUSED_BY_VALUE)
def test_libffi_accepts_union_and_packed_by_pointer(lib, name):
    fn = lib.function("id_ptr", "pointer", ["pointer"], tier="libffi")
    inst = T(name)()
    assert fn(inst) == fastffi.address_of(inst)


def _auto_or_refused(lib, fname, restype, argtypes, name):
    """On tier='auto': either a tier other than libffi takes it, or creation raises SignatureError
    and that is the libffi tier refusing (no faster tier took it)."""
    try:
        fn = lib.function(fname, restype, argtypes)
    except fastffi.SignatureError as e:
        msg = str(e)
        assert "libffi" in msg, msg
        assert _refusal_reason_ok(name, msg), msg
        return None
    assert fn.tier != "libffi", f"{fname} by value must not run on the libffi tier"
    assert fn.tier in fastffi.available_tiers()
    return fn


@pytest.mark.parametrize("name", sorted(UNION_CASES))
def test_union_by_value_on_auto(lib, name):
    cls = T(name)
    margs, args, frt, want_fold, check = UNION_CASES[name]
    mk = _auto_or_refused(lib, f"make_{name}", cls, margs, name)
    fold = _auto_or_refused(lib, f"fold_{name}", frt, [cls], name)
    ident = _auto_or_refused(lib, f"id_{name}", cls, [cls], name)
    if mk is not None:
        u = mk(*args)
        assert type(u) is cls and check(u)
    if fold is not None or ident is not None:
        inst = cls()  # the same union as make_{name}(*args), built field by field
        if name == "u_i64_f64":
            inst.i = args[0]
        elif name == "u_f32x2_f64":
            inst.f = args
        else:
            inst.i = args[0]
            inst.b[11] = args[1]
        if fold is not None:
            assert fold(inst) == want_fold
        if ident is not None:
            r = ident(inst)
            assert type(r) is cls and check(r)


@pytest.mark.parametrize("name", sorted(PACKED))
def test_packed_by_value_on_auto(lib, name):
    cls = T(name)
    restype, sets = PACKED[name]
    mk = _auto_or_refused(lib, f"make_{name}", cls, flat_types(name), name)
    fold = _auto_or_refused(lib, f"fold_{name}", restype, [cls], name)
    ident = _auto_or_refused(lib, f"id_{name}", cls, [cls], name)
    decl = FIXTURE_DECLS[name]
    for values in sets:
        if mk is not None:
            assert same_values(get_flat(mk(*values), decl), values)
        if fold is not None:
            assert fold(instance(name, values)) == expected_fold(name, restype, values)
        if ident is not None:
            assert same_values(get_flat(ident(instance(name, values)), decl), values)


@pytest.mark.parametrize("name", sorted(PACKED))
def test_packed_by_value_on_each_tier(lib, tier, name):
    """Every tier other than libffi takes packed structs by value correctly (libffi
    refuses them: test_libffi_refuses_union_and_packed_by_value)."""
    cls = T(name)
    if tier == "libffi":
        with pytest.raises(fastffi.SignatureError, match="misaligned"):
            lib.function(f"fold_{name}", PACKED[name][0], [cls], tier=tier)
        return
    restype, sets = PACKED[name]
    mk = make(lib, f"make_{name}", cls, flat_types(name), tier)
    fold = make(lib, f"fold_{name}", restype, [cls], tier)
    for values in sets:
        assert same_values(get_flat(mk(*values), FIXTURE_DECLS[name]), values)
        assert fold(instance(name, values)) == expected_fold(name, restype, values)


@pytest.mark.parametrize("name", sorted(UNION_CASES))
def test_union_by_value_on_each_tier(lib, tier, name):
    cls = T(name)
    if tier == "libffi":
        with pytest.raises(fastffi.SignatureError, match="unions by value"):
            lib.function(f"fold_{name}", UNION_CASES[name][2], [cls], tier=tier)
        return
    margs, args, frt, want_fold, check = UNION_CASES[name]
    mk = make(lib, f"make_{name}", cls, margs, tier)
    fold = make(lib, f"fold_{name}", frt, [cls], tier)
    u = mk(*args)
    assert check(u)
    assert fold(u) == want_fold
