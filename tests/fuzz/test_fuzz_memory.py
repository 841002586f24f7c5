"""Fuzz (b): the memory helpers and the struct/array/box API on fastffi's own objects.

Each example allocates random objects (boxes of every scalar, arrays, structs and unions with
nested struct and array fields, struct views over a bytearray) and runs a random sequence of
helper calls on them, at random offsets and sizes *inside* each object, with random values.
A bytearray model of every object's bytes, updated with ``struct.pack`` on each successful
store, is the oracle: every read, copy, view and string must equal the model, and a store that
raises (only TypeError, OverflowError, ValueError, IndexError are documented) must leave the
object unchanged.  Accesses that reach outside an object are not fuzzed here: on today's main
they read and write the heap (issue 12 item 2); test_fuzz_known_crashes.py holds them as
strict xfails, each run in a child process."""
from __future__ import annotations

import array
import math
import operator
import re
import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing

# canonical type -> struct format (little-endian, standard sizes: x86-64 and AArch64 alike)
FORMATS = {"bool": "?", "i8": "b", "u8": "B", "i16": "h", "u16": "H", "i32": "i", "u32": "I",
           "i64": "q", "u64": "Q", "f32": "f", "f64": "d", "pointer": "Q"}
KINDS = sorted(FORMATS)
INT_RANGE = {"i8": (-2**7, 2**7), "u8": (0, 2**8), "i16": (-2**15, 2**15), "u16": (0, 2**16),
             "i32": (-2**31, 2**31), "u32": (0, 2**32), "i64": (-2**63, 2**63), "u64": (0, 2**64),
             "pointer": (0, 2**64)}
ERRORS = (TypeError, OverflowError, ValueError, IndexError)

Inner = fastffi.struct("FuzzInner", [("x", "u16"), ("d", "f64")])
Outer = fastffi.struct("FuzzOuter", [("a", "i8"), ("in_", Inner), ("v", "f32[3]"), ("p", "pointer"),
                                     ("q", "u64"), ("b", "bool"), ("t", "u8[5]")])
Packed = fastffi.struct("FuzzPacked", [("c", "u8"), ("i", "i32"), ("d", "f64")], pack=1)
Mixed = fastffi.union("FuzzUnion", [("i", "i64"), ("f", "f32"), ("s", Inner), ("raw", "u8[16]")])
AGGREGATES = [Inner, Outer, Packed, Mixed]


class Index:
    """An __index__ object (numpy-style int)."""

    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Floaty:
    def __init__(self, v):
        self.v = v

    def __float__(self):
        return self.v


def values_for(kind: str):
    """Values a store of ``kind`` may be given: fitting, out of range, of the wrong type."""
    # (A pointer takes None as NULL; buffers it takes too, by address, are left to the
    # argument harness: a stored address outlives its buffer, issue 12 item 7.)
    wrong = st.sampled_from([None, "1", 1j, [], object()] + ([] if kind == "pointer" else [b"1"]))
    if kind == "bool":
        return st.one_of(st.booleans(), st.integers(-2, 3), st.sampled_from([np.bool_(True), 1.0]), wrong)
    if kind in ("f32", "f64"):
        return st.one_of(st.floats(width=32 if kind == "f32" else 64), st.floats(), st.integers(-2**70, 2**70),
                         st.floats().map(Floaty), st.sampled_from([np.float32(1.5), np.float64(-0.0)]), wrong)
    lo, hi = INT_RANGE[kind]
    return st.one_of(st.integers(lo, hi - 1), st.integers(lo - 2**65, hi + 2**65),
                     st.integers(lo, hi - 1).map(Index), st.sampled_from([np.int8(-3), np.uint64(7), 2.0]), wrong)


def expected_store(kind: str, value):
    """The bytes a store of ``value`` as ``kind`` must write, or None if it must raise."""
    fmt = "<" + FORMATS[kind]
    if kind in ("f32", "f64"):
        if isinstance(value, (str, bytes, complex, list, type(None))) or not hasattr(value, "__float__"):
            return None
        x = float(value)
        if kind == "f32" and math.isfinite(x) and abs(x) > 3.4028234663852886e38:
            try:
                return struct.pack(fmt, x)   # rounds to FLT_MAX when within half an ulp
            except OverflowError:
                return None
        return struct.pack(fmt, x)
    if kind == "pointer" and value is None:
        return struct.pack(fmt, 0)
    if kind == "bool" and isinstance(value, np.bool_):   # documented: numpy.bool_ passes as bool
        return struct.pack(fmt, bool(value))
    if isinstance(value, float) or not hasattr(value, "__index__"):
        return None
    x = operator.index(value)
    if kind == "bool":
        return struct.pack(fmt, bool(x)) if x in (0, 1) else None
    lo, hi = INT_RANGE[kind]
    return struct.pack(fmt, x) if lo <= x < hi else None


def expected_read(kind: str, raw: bytes):
    x = struct.unpack("<" + FORMATS[kind], raw)[0]
    return bool(raw[0]) if kind == "bool" else x


def same(a, b) -> bool:
    if isinstance(b, float):
        return isinstance(a, float) and (math.isnan(a) and math.isnan(b) or
                                          a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


class Target:
    """A fastffi object and the model of its bytes."""

    def __init__(self, obj, keep=None):
        self.obj, self.keep = obj, keep
        self.size = fastffi.sizeof(obj)
        self.model = bytearray(memoryview(obj).cast("B")) if self.size else bytearray()

    def check(self):
        assert fastffi.to_bytes(self.obj, self.size) == bytes(self.model)


@st.composite
def targets(draw):
    what = draw(st.sampled_from(["box", "array", "struct", "from_buffer"]))
    if what == "box":
        return Target(fastffi.new(draw(st.sampled_from(KINDS))))
    if what == "array":
        elem = draw(st.sampled_from(KINDS + AGGREGATES))
        return Target(fastffi.array(elem, draw(st.integers(0, 9))))
    cls = draw(st.sampled_from(AGGREGATES))
    if what == "struct":
        return Target(cls())
    backing = bytearray(draw(st.binary(min_size=fastffi.sizeof(cls), max_size=fastffi.sizeof(cls) + 8)))
    return Target(cls.from_buffer(backing), keep=backing)


def op_read(draw, t):
    kind = draw(st.sampled_from(KINDS))
    n = struct.calcsize(FORMATS[kind])
    if t.size < n:
        return
    off = draw(st.integers(0, t.size - n))
    got = fastffi.read(t.obj, kind, off)
    assert same(got, expected_read(kind, bytes(t.model[off:off + n]))), (kind, off)
    # The same bytes through the raw address (unchecked, documented) must agree.
    assert same(fastffi.read(fastffi.address_of(t.obj) + off, kind), got)


def op_write(draw, t):
    kind = draw(st.sampled_from(KINDS))
    n = struct.calcsize(FORMATS[kind])
    if t.size < n:
        return
    off = draw(st.integers(0, t.size - n))
    value = draw(values_for(kind))
    want = expected_store(kind, value)
    try:
        fastffi.write(t.obj, kind, value, off)
    except ERRORS:
        assert want is None, (kind, value)
    else:
        assert want is not None, (kind, value)
        t.model[off:off + n] = want


def op_bytes(draw, t):
    k = draw(st.integers(0, t.size))
    assert fastffi.to_bytes(t.obj, k) == bytes(t.model[:k])
    v = fastffi.view(t.obj, k, readonly=draw(st.booleans()))
    assert v.nbytes == k and bytes(v) == bytes(t.model[:k])
    if k:
        j = draw(st.integers(0, k - 1))
        b = draw(st.integers(0, 255))
        if v.readonly:
            try:
                v[j] = b
            except TypeError:
                pass
            else:
                raise AssertionError("a read-only view took a store")
        else:
            v[j] = b
            t.model[j] = b


def op_write_bytes(draw, t):
    data = draw(st.binary(max_size=t.size))
    wrap = draw(st.sampled_from([bytes, bytearray, memoryview, lambda d: array.array("B", d),
                                 lambda d: np.frombuffer(d, dtype=np.uint8)]))
    fastffi.write_bytes(t.obj, wrap(data))
    t.model[:len(data)] = data


def op_string(draw, t):
    k = draw(st.integers(0, t.size))
    raw = bytes(t.model[:k]).split(b"\0")[0]
    assert fastffi.to_string(t.obj, k, encoding=None) == raw
    assert fastffi.to_string(t.obj, k) == raw.decode("utf-8", "surrogateescape")
    if b"\0" in t.model:
        assert fastffi.to_string(t.obj, encoding=None) == bytes(t.model).split(b"\0")[0]


def op_aggregate(draw, t):
    """A struct value read or written whole at a random offset inside the object."""
    cls = draw(st.sampled_from(AGGREGATES))
    if t.size < cls._size_:
        return
    off = draw(st.integers(0, t.size - cls._size_))
    if draw(st.booleans()):
        got = fastffi.read(t.obj, cls, off)
        assert type(got) is cls and bytes(got) == bytes(t.model[off:off + cls._size_])
    else:
        src = cls.from_buffer(bytearray(draw(st.binary(min_size=cls._size_, max_size=cls._size_))))
        fastffi.write(t.obj, cls, src, off)
        t.model[off:off + cls._size_] = bytes(src)


def op_fields(draw, t):
    """Fields, elements and box values: the typed API over the same bytes."""
    obj = t.obj
    if isinstance(obj, fastffi.Box):
        kind = obj._type_.name if obj._type_.name in FORMATS else "pointer"
        value = draw(values_for(kind))
        want = expected_store(kind, value)
        try:
            obj.value = value
        except ERRORS:
            assert want is None, (kind, value)
        else:
            assert want is not None, (kind, value)
            t.model[:len(want)] = want
        assert same(obj.value, expected_read(kind, bytes(t.model[:t.size])))
    elif isinstance(obj, fastffi.Array):
        n = len(obj)
        i = draw(st.integers(-n - 2, n + 2))
        if not -n <= i < n:
            for access in (lambda: obj[i], lambda: obj.__setitem__(i, 0)):
                try:
                    access()
                except IndexError:
                    pass
                else:
                    raise AssertionError(f"index {i} of {n} did not raise IndexError")
            return
        elem = obj._elem_
        if isinstance(elem, type):   # an array of structs: element views share the bytes
            off = (i % n) * elem._size_
            assert bytes(obj[i]) == bytes(t.model[off:off + elem._size_])
            return
        kind = elem.name if elem.name in FORMATS else "pointer"
        value = draw(values_for(kind))
        want = expected_store(kind, value)
        off = (i % n) * elem.size
        try:
            obj[i] = value
        except ERRORS:
            assert want is None, (kind, value)
        else:
            assert want is not None, (kind, value)
            t.model[off:off + elem.size] = want
        assert same(obj[i], expected_read(kind, bytes(t.model[off:off + elem.size])))
    else:
        layout = type(obj)._layout_
        f = draw(st.sampled_from(layout.fields))
        if f.count is not None:
            got = getattr(obj, f.name)
            esize = fastffi.sizeof(f.type)
            assert len(got) == f.count
            assert bytes(memoryview(got).cast("B")) == bytes(t.model[f.offset:f.offset + esize * f.count])
        elif isinstance(f.type, type):
            assert bytes(getattr(obj, f.name)) == bytes(t.model[f.offset:f.offset + f.type._size_])
        else:
            kind = f.type.name if f.type.name in FORMATS else "pointer"
            value = draw(values_for(kind))
            want = expected_store(kind, value)
            try:
                setattr(obj, f.name, value)
            except ERRORS:
                assert want is None, (f.name, value)
            else:
                assert want is not None, (f.name, value)
                t.model[f.offset:f.offset + len(want)] = want
            n = struct.calcsize(FORMATS[kind])
            assert same(getattr(obj, f.name), expected_read(kind, bytes(t.model[f.offset:f.offset + n])))


OPS = [op_read, op_write, op_bytes, op_write_bytes, op_string, op_aggregate, op_fields]


@fuzzing.settings_for()
@given(data=st.data())
def test_helpers_inside_objects_match_a_byte_model(data):
    objects = data.draw(st.lists(targets(), min_size=1, max_size=3))
    steps = data.draw(st.integers(1, 25))
    for _ in range(steps):
        t = data.draw(st.sampled_from(objects))
        data.draw(st.sampled_from(OPS))(data.draw, t)
        t.check()
    fuzzing.tick("memory", steps)


@fuzzing.settings_for(0.5)
@given(cls=st.sampled_from(AGGREGATES), n=st.integers(0, 40), readonly=st.booleans())
def test_from_buffer_takes_exactly_the_buffers_that_fit(cls, n, readonly):
    backing = bytes(n) if readonly else bytearray(n)
    try:
        view = cls.from_buffer(backing)
    except TypeError:
        assert readonly
    except ValueError as e:
        assert not readonly and n < cls._size_
        assert str(e) == f"{cls.__name__}.from_buffer(): buffer has {n} bytes, need {cls._size_}"
    else:
        assert not readonly and n >= cls._size_
        assert fastffi.address_of(view) == fastffi.address_of(backing)
    fuzzing.tick("from_buffer")


# The wide kinds (c64, c128, longdouble, i128, u128) through the same helpers, with bounds.
WIDE_SIZES = {"c64": 8, "c128": 16, "longdouble": 16, "i128": 16, "u128": 16}
WIDE_INTS = {"i128": (-2**127, 2**127), "u128": (0, 2**128)}
WIDE = sorted(WIDE_SIZES)
#: x87 extended keeps 10 meaningful bytes in its 16 (x86-64 psABI 3.1.2), the rest is padding
#: whose contents a store may choose; binary128 (AArch64) uses all 16.
LD_BYTES = 10 if np.finfo(np.longdouble).nmant == 63 else 16
WideHolder = fastffi.struct("FuzzWide", [("c", "u8"), ("x", "longdouble"), ("z", "c64"), ("i", "i128"),
                                         ("u", "u128"), ("w", "c128")])


def wide_values(kind: str):
    wrong = st.sampled_from([None, "1", [], object(), b"1"])
    if kind in WIDE_INTS:
        lo, hi = WIDE_INTS[kind]
        return st.one_of(st.integers(lo, hi - 1), st.integers(lo - 2**130, hi + 2**130),
                         st.sampled_from([lo, hi - 1, lo - 1, hi, np.int64(-3), np.uint64(2**64 - 1), 2.0, 1j]),
                         st.integers(lo, hi - 1).map(Index), wrong)
    if kind == "longdouble":
        bits = st.binary(min_size=16, max_size=16).map(lambda b: np.frombuffer(b, dtype=np.longdouble)[0])
        return st.one_of(bits, st.floats(), st.integers(-2**64 + 1, 2**64 - 1),
                         st.sampled_from([2**64, -2**64, 10**400, np.float32(1.5), 1j]), wrong)
    return st.one_of(st.builds(complex, st.floats(), st.floats()), st.floats(), st.integers(-2**60, 2**60),
                     st.sampled_from([np.complex64(1 - 2j), np.complex128(complex(1e300, 1)), 3.4028235677973366e38]),
                     wrong)


def wide_store(kind: str, value):
    """The meaningful bytes a store of ``value`` as ``kind`` must write, or None if it must raise."""
    if kind in WIDE_INTS:
        if isinstance(value, (float, complex)) or not hasattr(value, "__index__"):
            return None
        x = operator.index(value)
        lo, hi = WIDE_INTS[kind]
        return x.to_bytes(16, "little", signed=kind == "i128") if lo <= x < hi else None
    if kind == "longdouble":
        if isinstance(value, np.longdouble):
            return value.tobytes()[:LD_BYTES]
        if isinstance(value, int):
            if abs(value) >= 2**64:
                return None
            a = abs(value)
            x = np.longdouble(a >> 32) * np.longdouble(2**32) + np.longdouble(a & 0xffffffff)   # exact
            return (-x if value < 0 else x).tobytes()[:LD_BYTES]
        if isinstance(value, (float, np.float32)):
            return np.longdouble(value).tobytes()[:LD_BYTES]
        return None
    if isinstance(value, (str, bytes, list, type(None))) or not hasattr(value, "__complex__") and \
            not hasattr(value, "__float__"):
        return None
    z = complex(value)
    try:
        return struct.pack("<ff" if kind == "c64" else "<dd", z.real, z.imag)
    except OverflowError:   # a finite part beyond float32 (within half an ulp of FLT_MAX rounds to it)
        return None


def wide_read(kind: str, raw: bytes):
    if kind in WIDE_INTS:
        return int.from_bytes(raw, "little", signed=kind == "i128")
    if kind == "longdouble":
        return raw[:LD_BYTES]
    return complex(*struct.unpack("<ff" if kind == "c64" else "<dd", raw))


def wide_same(kind, got, want) -> bool:
    if kind == "longdouble":
        return type(got) is np.longdouble and got.tobytes()[:LD_BYTES] == want
    if kind in WIDE_INTS:
        return type(got) is int and got == want
    return type(got) is complex and same(got.real, want.real) and same(got.imag, want.imag)


def wide_put(t, kind, off, value, store):
    """Run ``store`` (a write of ``value`` as ``kind`` at ``off``) and update the model."""
    want = wide_store(kind, value)
    try:
        store()
    except ERRORS:
        assert want is None, (kind, value)
    else:
        assert want is not None, (kind, value)
        t.model[off:off + len(want)] = want
        n = WIDE_SIZES[kind]
        # the padding of an x87 long double: whatever the store left there
        t.model[off + len(want):off + n] = fastffi.to_bytes(t.obj, off + n)[off + len(want):]


@fuzzing.settings_for()
@given(data=st.data())
def test_wide_kinds_in_boxes_arrays_and_raw_memory(data):
    draw = data.draw
    what = draw(st.sampled_from(["box", "array", "struct", "bytes"]))
    kind = draw(st.sampled_from(WIDE))
    if what == "box":
        t = Target(fastffi.new(kind))
    elif what == "array":
        t = Target(fastffi.array(kind, draw(st.integers(0, 5))))
    elif what == "struct":
        t = Target(WideHolder())
    else:
        t = Target(fastffi.array("u8", draw(st.integers(0, 40))))
    steps = draw(st.integers(1, 12))
    for _ in range(steps):
        kind = draw(st.sampled_from(WIDE))
        n = WIDE_SIZES[kind]
        op = draw(st.sampled_from(["read", "write", "typed", "raw"]))
        off = draw(st.integers(-2, t.size + 2))
        inside = 0 <= off and off + n <= t.size
        if op in ("read", "write") and not inside:
            value = draw(wide_values(kind))
            for name, access in (("read", lambda: fastffi.read(t.obj, kind, off)),
                                 ("write", lambda: fastffi.write(t.obj, kind, value, off))):
                try:
                    access()
                except IndexError as e:
                    assert re.fullmatch(rf"{name}\(\): offset {off}, size {n} is outside .+ \(size {t.size}\)",
                                        str(e)), e
                else:
                    raise AssertionError(f"{kind} at {off} of {t.size} bytes did not raise IndexError")
        elif op == "read" or op == "raw" and inside:
            got = fastffi.read(t.obj, kind, off) if op == "read" else \
                fastffi.read(fastffi.address_of(t.obj) + off, kind)
            assert wide_same(kind, got, wide_read(kind, bytes(t.model[off:off + n]))), (kind, off)
        elif op == "write":
            value = draw(wide_values(kind))
            wide_put(t, kind, off, value, lambda: fastffi.write(t.obj, kind, value, off))
        elif op == "typed":
            obj = t.obj
            if isinstance(obj, fastffi.Box) and obj._type_.name in WIDE_SIZES:
                k, o, setter, getter = obj._type_.name, 0, lambda v: setattr(obj, "value", v), lambda: obj.value
            elif isinstance(obj, fastffi.Array) and obj._elem_.name in WIDE_SIZES and len(obj):
                i = draw(st.integers(0, len(obj) - 1))
                k, o = obj._elem_.name, i * WIDE_SIZES[obj._elem_.name]
                setter, getter = lambda v: obj.__setitem__(i, v), lambda: obj[i]
            elif isinstance(obj, WideHolder):
                f = draw(st.sampled_from([f for f in WideHolder._layout_.fields if f.type.name in WIDE_SIZES]))
                k, o = f.type.name, f.offset
                setter, getter = lambda v: setattr(obj, f.name, v), lambda: getattr(obj, f.name)
            else:
                continue
            value = draw(wide_values(k))
            wide_put(t, k, o, value, lambda: setter(value))
            assert wide_same(k, getter(), wide_read(k, bytes(t.model[o:o + WIDE_SIZES[k]]))), (k, o)
        t.check()
    fuzzing.tick("memory", steps)
