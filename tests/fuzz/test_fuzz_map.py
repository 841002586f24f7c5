"""Fuzz (d): the ``fn.map()`` validator with random columns, outputs and thread counts.

Columns are numpy arrays of random dtypes (matching or not, non-native byte order too),
lengths, offsets and strides (negative too), 2-D and 0-D arrays, array.array, memoryviews,
fastffi arrays, broadcast values and things that are no column at all; ``out`` is None or a
random array (wrong dtype, length, read-only, strided).  Every tier does the same: ``map()``
raises TypeError, ValueError or OverflowError with ``out`` untouched (everything is
validated before the first call) with the same message on each, or returns exactly what
calling ``fn`` row by row gives, the same values on each."""
from __future__ import annotations

import array

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing

TIERS = fastffi.available_tiers()
ERRORS = (TypeError, ValueError, OverflowError)

SIGNATURES = [
    ("add_i32", "i32", ["i32", "i32"]), ("add_i64", "i64", ["i64", "i64"]), ("add_u64", "u64", ["u64", "u64"]),
    ("add_f32", "f32", ["f32", "f32"]), ("add_f64", "f64", ["f64", "f64"]),
    ("wsum_i8_i16_i32_i64", "i64", ["i8", "i16", "i32", "i64"]), ("wsum_f32_f64_i32", "f64", ["f32", "f64", "i32"]),
    ("widen_u8", "u64", ["u8"]), ("widen_i16", "i64", ["i16"]), ("widen_u32", "u64", ["u32"]),
    ("widen_f32", "f64", ["f32"]), ("widen_bool", "i32", ["bool"]), ("id_ptr", "pointer", ["pointer"]),
    ("sum_8_i64", "i64", ["i64"] * 8),
    ("fe_c64_id", "c64", ["c64"]), ("fe_c128_id", "c128", ["c128"]), ("fe_ld_id", "longdouble", ["longdouble"]),
    ("fe_c64_mul", "c64", ["c64", "c64"]), ("fe_c128_mul", "c128", ["c128", "c128"]),
]
NP = {"i8": "i1", "u8": "u1", "i16": "i2", "u16": "u2", "i32": "i4", "u32": "u4", "i64": "i8", "u64": "u8",
      "f32": "f4", "f64": "f8", "bool": "?", "pointer": "u8", "c64": "c8", "c128": "c16", "longdouble": "g"}
DTYPES = sorted(set(NP.values())) + [">i4", ">f8", ">c16", "<u8", "=i2"]
TYPECODES = "bBhHiIlLqQfd"


@st.composite
def column(draw, kind, rows):
    """(column object, row values or None for a broadcast value, the broadcast value)."""
    choice = draw(st.integers(0, 19))   # mostly columns that fit, so most calls run
    n = rows if draw(st.integers(0, 19)) else draw(st.integers(0, 12))
    if choice <= 13:
        dtype = np.dtype(NP[kind] if choice <= 11 else draw(st.sampled_from(DTYPES)))
        step = draw(st.sampled_from([1, 1, 2, -1, -3]))
        start = draw(st.integers(0, 3))
        base = np.frombuffer(bytearray(draw(st.binary(min_size=(start + abs(step) * n + 1) * dtype.itemsize,
                                                          max_size=(start + abs(step) * n + 1) * dtype.itemsize))),
                             dtype=dtype)
        if dtype.kind == "b":
            base = base.astype(np.uint8).astype(bool)   # numpy's bools hold 0 or 1
        col = base[start::step][:n] if step > 0 else base[len(base) - 1 - start::step][:n]
        if draw(st.integers(0, 19)) == 0:
            col = col.reshape(1, -1) if draw(st.booleans()) or not len(col) else col[:1].reshape(())
        return col, None
    if choice == 14:
        code = draw(st.sampled_from(TYPECODES))
        a = array.array(code, bytes(array.array(code, [0]).itemsize * n))
        return a, None
    if choice == 15:
        return fastffi.array(kind, n), None
    if choice == 16:
        if NP[kind] in ("c8", "c16", "g"):   # no struct format character: numpy's own export ('Zf', 'Zd', 'g')
            return memoryview(np.zeros(n, dtype=NP[kind])), None
        return memoryview(bytearray(np.dtype(NP[kind]).itemsize * n)).cast(np.dtype(NP[kind]).char), None
    if choice in (17, 18):
        return draw(st.sampled_from([0, 1, -1, 2**64, 1.5, float("nan"), True])), "broadcast"
    return draw(st.sampled_from([None, "abc", [1, 2], b"", object()])), "broadcast"


def rows_of(col, kind):
    if isinstance(col, memoryview) and col.format in ("Zf", "Zd", "g"):
        col = np.asarray(col)   # memoryview indexes struct formats only
    if isinstance(col, np.ndarray):
        return [v.item() for v in col]
    return [col[i] for i in range(len(col))]


def output(draw, restype, rows):
    choice = draw(st.integers(0, 7))
    if choice <= 1:
        return None
    dtype = np.dtype(NP[restype] if choice <= 6 else draw(st.sampled_from(DTYPES)))
    n = rows if draw(st.integers(0, 9)) else draw(st.integers(0, 12))
    out = np.frombuffer(bytearray(np.dtype(dtype).itemsize * n * (2 if choice == 3 else 1)), dtype=dtype)
    if choice == 3:
        out = out[::2]
    if draw(st.integers(0, 9)) == 0:
        out.setflags(write=False)
    return out


@fuzzing.settings_for()
@given(data=st.data())
def test_map_validates_or_equals_row_by_row(fixture_lib, data):
    draw = data.draw
    name, restype, argtypes = draw(st.sampled_from(SIGNATURES))
    rows = draw(st.integers(0, 10))
    cols = [draw(column(k, rows)) for k in argtypes]
    out = output(draw, restype, rows)
    threads = draw(st.sampled_from([1, 1, 1, 2, 3, 0, True]))
    before = None if out is None else out.tobytes()
    runs = 0
    outcomes = {}   # tier -> what map() did: every tier must do the same
    for tier in TIERS:
        try:
            fn = fixture_lib.function(name, restype, argtypes, tier=tier)
        except fastffi.FFIError:
            continue
        try:
            got = fn.map(*(c for c, _ in cols), out=out, threads=threads)
        except ERRORS as e:
            assert out is None or out.tobytes() == before, "map() wrote out before failing"
            outcomes[tier] = (type(e), str(e))
            runs += 1
            continue
        # Floats by value: an x87 long double's six padding bytes are whatever the tier's store
        # left there.
        values_got = tuple(map(repr, got.tolist())) if got.dtype.kind in "fc" else np.ascontiguousarray(got).tobytes()
        outcomes[tier] = (got.dtype.str, got.shape, values_got)
        runs += 1
        assert out is None or got is out
        values = [[c] * len(got) if b == "broadcast" else rows_of(c, k) for (c, b), k in zip(cols, argtypes)]
        expected = [fn(*row) for row in zip(*values)]
        assert len(expected) == len(got)
        want = np.array(expected, dtype=got.dtype)
        if got.dtype.kind in "fc":
            # NaNs compare by NaN-ness: a float32 signalling NaN is quieted on its way through
            # a Python float in the row-by-row call, not in the loop.  Complex numbers part by part.
            parts = [(want, got)] if got.dtype.kind == "f" else [(want.real, got.real), (want.imag, got.imag)]
            same = all(np.array_equal(w, g, equal_nan=True) and np.array_equal(np.signbit(w), np.signbit(g))
                       for w, g in parts)
        else:
            same = want.tobytes() == np.ascontiguousarray(got).tobytes()
        assert same, (name, tier, cols, got, expected)
        if out is not None:
            before = out.tobytes()
        fuzzing.tick("map rows", len(got))
    assert len(set(outcomes.values())) <= 1, (name, cols, outcomes)
    fuzzing.tick("map", runs)


#: Signatures map() refuses before any call: no numpy dtype for the kind (declared on harmless
#: fixture functions -- nothing is called).
UNMAPPABLE = [("i128_id", "i128", ["i128"], "its result is i128 (numpy has no 128-bit integer dtype)"),
              ("u128_not", "u128", ["u128"], "its result is u128 (numpy has no 128-bit integer dtype)"),
              ("id_i64", "i64", ["u128"], "argument 1 is u128 (numpy has no 128-bit integer dtype)"),
              ("wstr_len", "i64", ["wstring"],
               "argument 1 is wstring (a wchar_t * column would need a converted copy per row)")]


@fuzzing.settings_for(0.25)
@given(data=st.data())
def test_map_refuses_kinds_without_a_column(fixture_lib, data):
    draw = data.draw
    name, restype, argtypes, why = draw(st.sampled_from(UNMAPPABLE))
    rows = draw(st.integers(0, 6))
    cols = [draw(column("i64", rows))[0] for _ in argtypes]
    out = output(draw, "i64", rows)
    before = None if out is None else out.tobytes()
    for tier in TIERS:
        try:
            fn = fixture_lib.function(name, restype, argtypes, tier=tier)
        except fastffi.FFIError:
            continue
        try:
            fn.map(*cols, out=out, threads=draw(st.sampled_from([1, 2])))
        except TypeError as e:
            assert str(e) == f"{name}.map(): {why}; call {name} per row", e
        else:
            raise AssertionError(f"{name}.map() took its columns")
        assert out is None or out.tobytes() == before
        fuzzing.tick("map", 1)
