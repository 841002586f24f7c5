"""Calls through every tier: scalar conversion rules (the issue's Types table), exact error
messages (docs/errors.md), arity, many arguments and stack spill, strings, pointers and buffers,
out-parameters, and narrow returns with garbage in the upper register bits.

Every test that takes ``tier`` runs once per tier in ``fastffi.available_tiers()``. A faster tier may
refuse a signature (exact request -> FFIError "{fn}: tier {tier!r} refused: ..."); then the test is
skipped for that tier. The libffi tier must accept every signature used here."""
from __future__ import annotations

import array
import ctypes
import math
import platform
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastffi
from conftest import raises_exact

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

INT_RANGES = {
    "i8": (-(2**7), 2**7 - 1),
    "i16": (-(2**15), 2**15 - 1),
    "i32": (-(2**31), 2**31 - 1),
    "i64": (-(2**63), 2**63 - 1),
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
}
INT_TYPES = list(INT_RANGES)
FLT_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]


def make(lib, name, restype, argtypes, tier, **kw):
    """lib.function(...) on exactly ``tier``, or -- when a faster tier refuses the
    signature -- the function ``auto`` falls back to (fallback_after_refusal)."""
    try:
        fn = lib.function(name, restype, argtypes, tier=tier, **kw)
    except fastffi.FFIError as e:
        return fallback_after_refusal(e, name, tier, lambda: lib.function(name, restype, argtypes, **kw))
    assert fn.tier == tier
    return fn


def make_decl(lib, decl, name, tier):
    """lib.function(<C declaration>) on exactly ``tier``."""
    try:
        fn = lib.function(decl, tier=tier)
    except fastffi.FFIError as e:
        return fallback_after_refusal(e, name, tier, lambda: lib.function(decl))
    assert fn.tier == tier
    return fn


def fallback_after_refusal(e, name, tier, create_auto):
    """A faster tier may refuse a signature (the JIT takes register-passed
    scalars only): the refusal must be a SignatureError in the exact format,
    and ``auto`` must then fall back to a tier below it, which the test goes
    on to exercise."""
    if tier == "libffi" or type(e) is not fastffi.SignatureError \
            or not str(e).startswith(f"{name}: tier {tier!r} refused: "):
        raise e
    fn = create_auto()
    tiers = fastffi.available_tiers()
    assert fn.tier in tiers[tiers.index(tier) + 1:]
    return fn


def f32(x):
    """What struct.pack('<f') makes of x."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def wrap_i64(v):
    v %= 2**64
    return v - 2**64 if v >= 2**63 else v


def ifold(args):
    """The fixture's integer fold: sum (k+1) * arg_k in wrapping 64-bit arithmetic, as int64."""
    return wrap_i64(sum((a % 2**64) * (k + 1) for k, a in enumerate(args)))


def dfold(args):
    """The fixture's floating fold: sum (k+1) * arg_k left to right in double."""
    s = 0.0
    for k, a in enumerate(args):
        s += float(a) * float(k + 1)
    return s


class Idx:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v


class Flt:
    def __init__(self, v):
        self.v = v

    def __float__(self):
        return self.v


class IntOnly:
    """Has __int__ but not __index__: not an integer for the FFI."""

    def __int__(self):
        return 3


# --- integers -------------------------------------------------------------------------------------------


def int_values(t):
    lo, hi = INT_RANGES[t]
    vals = {lo, hi, 0, 1, lo + 1, hi - 1, hi // 3, (0x5A5A5A5A5A5A5A5A % (hi - lo + 1)) + lo}
    if lo < 0:
        vals |= {-1, -2}
    return sorted(vals)


@pytest.mark.parametrize("t", INT_TYPES)
def test_int_identity_extremes(lib, tier, t):
    fn = make(lib, f"id_{t}", t, [t], tier)
    for v in int_values(t):
        r = fn(v)
        assert type(r) is int
        assert r == v


@pytest.mark.parametrize("t", ["i8", "i16", "i32", "u8", "u16", "u32"])
def test_int_narrow_args_widened_by_callee(lib, tier, t):
    """The callee widens the narrow argument itself: the value must arrive in the right width."""
    wide = "i64" if t.startswith("i") else "u64"
    fn = make(lib, f"widen_{t}", wide, [t], tier)
    for v in int_values(t):
        assert fn(v) == v


@pytest.mark.parametrize(
    "name, t, expected",
    [
        ("ret_i8_min", "i8", -128), ("ret_i8_max", "i8", 127),
        ("ret_i16_min", "i16", -32768), ("ret_i16_max", "i16", 32767),
        ("ret_i32_min", "i32", -(2**31)), ("ret_i32_max", "i32", 2**31 - 1),
        ("ret_i64_min", "i64", -(2**63)), ("ret_i64_max", "i64", 2**63 - 1),
        ("ret_u8_max", "u8", 255), ("ret_u16_max", "u16", 65535),
        ("ret_u32_max", "u32", 2**32 - 1), ("ret_u64_max", "u64", 2**64 - 1),
        ("ret_i8_neg1", "i8", -1), ("ret_i64_neg1", "i64", -1), ("ret_u8_zero", "u8", 0),
    ],
)
def test_int_extreme_returns(lib, tier, name, t, expected):
    r = make(lib, name, t, [], tier)()
    assert type(r) is int and r == expected


@pytest.mark.parametrize("t", INT_TYPES)
def test_int_out_of_range_overflow(lib, tier, t):
    lo, hi = INT_RANGES[t]
    fn = make(lib, f"id_{t}", t, [t], tier)
    for bad in (hi + 1, lo - 1, 2**64, -(2**64), 2**100, -(2**100)):
        with raises_exact(OverflowError, f"id_{t}() argument 1: {bad!r} does not fit {t}"):
            fn(bad)
    assert fn(hi) == hi  # still usable after errors


@pytest.mark.parametrize("t", ["i8", "u8", "i32", "u32", "i64", "u64"])
def test_int_rejects_non_integers(lib, tier, t):
    fn = make(lib, f"id_{t}", t, [t], tier)
    for bad, tname in [(1.0, "float"), (0.5, "float"), ("1", "str"), (None, "NoneType"), (b"1", "bytes"),
                       ([1], "list"), (np.float64(1.0), "float64"), (IntOnly(), "IntOnly"), (1 + 0j, "complex")]:
        with raises_exact(TypeError, f"id_{t}() argument 1: expected {t}, got {tname}"):
            fn(bad)


@pytest.mark.parametrize("t", INT_TYPES)
def test_int_accepts_index_objects_and_numpy(lib, tier, t):
    lo, hi = INT_RANGES[t]
    fn = make(lib, f"id_{t}", t, [t], tier)
    assert fn(Idx(hi)) == hi
    assert fn(Idx(lo)) == lo
    assert fn(True) == 1 and fn(False) == 0  # bool is an int
    np_t = getattr(np, {"i": "int", "u": "uint"}[t[0]] + t[1:])
    assert fn(np_t(hi)) == hi
    assert fn(np_t(lo)) == lo
    assert type(fn(np_t(hi))) is int


def test_int_index_object_out_of_range_message_uses_index_value(lib, tier):
    fn = make(lib, "id_u8", "u8", ["u8"], tier)
    with raises_exact(OverflowError, "id_u8() argument 1: 300 does not fit u8"):
        fn(Idx(300))
    with raises_exact(OverflowError, "id_u8() argument 1: -1 does not fit u8"):
        fn(np.int64(-1))
    g = make(lib, "id_u32", "u32", ["u32"], tier)
    with raises_exact(OverflowError, "id_u32() argument 1: -1 does not fit u32"):
        g(np.int8(-1))
    h = make(lib, "id_i8", "i8", ["i8"], tier)
    with raises_exact(OverflowError, "id_i8() argument 1: 255 does not fit i8"):
        h(np.uint8(255))


@HYP
@given(v=st.integers(min_value=-(2**63), max_value=2**64 - 1))
def test_int_i64_u64_any_value(lib, tier, v):
    i64 = make(lib, "id_i64", "i64", ["i64"], tier)
    u64 = make(lib, "id_u64", "u64", ["u64"], tier)
    if v < 2**63:
        assert i64(v) == v
    else:
        with raises_exact(OverflowError, f"id_i64() argument 1: {v!r} does not fit i64"):
            i64(v)
    if v >= 0:
        assert u64(v) == v
    else:
        with raises_exact(OverflowError, f"id_u64() argument 1: {v!r} does not fit u64"):
            u64(v)


def test_char_is_platform_integer(lib, tier):
    """char is i8 on x86-64, u8 on AArch64."""
    fn = make_decl(lib, "char id_char(char x)", "id_char", tier)
    if platform.machine() in ("x86_64", "AMD64"):
        assert fn.restype == "i8"
        assert fn(-128) == -128
        with pytest.raises(OverflowError):
            fn(200)
    elif platform.machine() in ("aarch64", "arm64"):
        assert fn.restype == "u8"
        assert fn(200) == 200


def test_mixed_widths_in_order(lib, tier):
    fn = make(lib, "wsum_i8_i16_i32_i64", "i64", ["i8", "i16", "i32", "i64"], tier)
    assert fn(-128, 32767, -(2**31), 2**40) == -128 + 2 * 32767 + 3 * -(2**31) + 4 * 2**40
    assert fn(1, 2, 3, 4) == 1 + 4 + 9 + 16


def test_add_sub(lib, tier):
    add = make(lib, "add_i32", "i32", ["i32", "i32"], tier)
    sub = make(lib, "sub_i32", "i32", ["i32", "i32"], tier)
    assert add(2, 3) == 5
    assert add(2**31 - 1, 1) == -(2**31)  # C wraps
    assert sub(10, 3) == 7 and sub(3, 10) == -7
    assert make(lib, "add_i64", "i64", ["i64", "i64"], tier)(2**62, 2**62) == -(2**63)
    assert make(lib, "add_u64", "u64", ["u64", "u64"], tier)(2**64 - 1, 2) == 1


def test_void_return_and_no_args(lib, tier):
    noop = make(lib, "noop", "void", [], tier)
    assert noop() is None
    setc = make(lib, "set_counter", "void", ["i64"], tier)
    getc = make(lib, "get_counter", "i64", [], tier)
    assert setc(-(2**63)) is None
    assert getc() == -(2**63)
    setc(42)
    assert getc() == 42


# --- bool -------------------------------------------------------------------------------------------------


def test_bool_accepts(lib, tier):
    fn = make(lib, "id_bool", "bool", ["bool"], tier)
    for v, want in [(True, True), (False, False), (1, True), (0, False), (np.bool_(True), True), (np.bool_(False), False)]:
        r = fn(v)
        assert r is want
    widen = make(lib, "widen_bool", "i32", ["bool"], tier)
    assert widen(True) == 1 and widen(False) == 0 and widen(1) == 1 and widen(np.bool_(True)) == 1


def test_bool_rejects(lib, tier):
    fn = make(lib, "id_bool", "bool", ["bool"], tier)
    for bad in (2, -1, 256, 2**64):
        with raises_exact(OverflowError, f"id_bool() argument 1: {bad!r} does not fit bool"):
            fn(bad)
    for bad, tname in [(1.0, "float"), (None, "NoneType"), ("True", "str"), (b"\x01", "bytes")]:
        with raises_exact(TypeError, f"id_bool() argument 1: expected bool, got {tname}"):
            fn(bad)


def test_bool_returns(lib, tier):
    assert make(lib, "ret_bool_true", "bool", [], tier)() is True
    assert make(lib, "ret_bool_false", "bool", [], tier)() is False


# --- floating point ---------------------------------------------------------------------------------------

F64_VALUES = [0.0, -0.0, 1.5, -2.25, math.pi, 1e308, -1e-308, 5e-324, 2.2250738585072014e-308,
              1.7976931348623157e308, math.inf, -math.inf, 2.0**53 + 2]


def test_f64_identity_and_bits(lib, tier):
    fn = make(lib, "id_f64", "f64", ["f64"], tier)
    bits = make(lib, "bits_f64", "u64", ["f64"], tier)
    for v in F64_VALUES:
        r = fn(v)
        assert type(r) is float
        assert f64_bits(r) == f64_bits(v)
        assert bits(v) == f64_bits(v)
    assert math.isnan(fn(math.nan))


def test_f64_accepts_int_float_objects_numpy(lib, tier):
    fn = make(lib, "id_f64", "f64", ["f64"], tier)
    assert fn(3) == 3.0 and type(fn(3)) is float
    assert fn(-(2**63)) == float(-(2**63))
    assert fn(2**64 + 1) == float(2**64 + 1)
    assert fn(True) == 1.0
    assert fn(Flt(2.5)) == 2.5
    assert fn(np.float32(1.25)) == 1.25
    assert fn(np.float64(-7.5)) == -7.5
    assert fn(np.int32(9)) == 9.0


def test_f64_rejects(lib, tier):
    fn = make(lib, "id_f64", "f64", ["f64"], tier)
    for bad, tname in [("1.0", "str"), (None, "NoneType"), (b"x", "bytes"), ([1.0], "list"), (1j, "complex")]:
        with raises_exact(TypeError, f"id_f64() argument 1: expected f64, got {tname}"):
            fn(bad)
    with pytest.raises(OverflowError):
        fn(2**1024)  # an int beyond double range cannot be converted


@pytest.mark.parametrize(
    "name, t, check",
    [
        ("ret_f32_max", "f32", lambda r: r == FLT_MAX),
        ("ret_f32_min_normal", "f32", lambda r: r == 2.0**-126),
        ("ret_f32_denorm_min", "f32", lambda r: r == 2.0**-149),
        ("ret_f32_inf", "f32", lambda r: r == math.inf),
        ("ret_f32_neg_inf", "f32", lambda r: r == -math.inf),
        ("ret_f32_nan", "f32", math.isnan),
        ("ret_f32_neg_zero", "f32", lambda r: r == 0.0 and math.copysign(1.0, r) == -1.0),
        ("ret_f64_max", "f64", lambda r: r == 1.7976931348623157e308),
        ("ret_f64_min_normal", "f64", lambda r: r == 2.2250738585072014e-308),
        ("ret_f64_denorm_min", "f64", lambda r: r == 5e-324),
        ("ret_f64_inf", "f64", lambda r: r == math.inf),
        ("ret_f64_neg_inf", "f64", lambda r: r == -math.inf),
        ("ret_f64_nan", "f64", math.isnan),
        ("ret_f64_neg_zero", "f64", lambda r: r == 0.0 and math.copysign(1.0, r) == -1.0),
    ],
)
def test_float_extreme_returns(lib, tier, name, t, check):
    r = make(lib, name, t, [], tier)()
    assert type(r) is float
    assert check(r), r


def test_f32_identity_special(lib, tier):
    fn = make(lib, "id_f32", "f32", ["f32"], tier)
    bits = make(lib, "bits_f32", "u32", ["f32"], tier)
    for v in [0.0, -0.0, 1.5, -2.25, FLT_MAX, -FLT_MAX, 2.0**-149, 2.0**-126, math.inf, -math.inf, 0.1, 1e-50, -1e-50]:
        assert f64_bits(fn(v)) == f64_bits(f32(v)), v
        assert bits(v) == f32_bits(v), v
    assert math.isnan(fn(math.nan))
    assert bits(math.inf) == 0x7F800000
    assert bits(-math.inf) == 0xFF800000
    assert math.isnan(fn(float("-nan")))
    assert fn(2**24 + 1) == 16777216.0  # int rounds like struct.pack
    assert fn(np.float64(0.1)) == f32(0.1)
    assert fn(Flt(0.1)) == f32(0.1)


def test_f32_out_of_range(lib, tier):
    fn = make(lib, "id_f32", "f32", ["f32"], tier)
    half_ulp_above = struct.unpack("<d", struct.pack("<Q", 0x47EFFFFFF0000000))[0]  # FLT_MAX + half ulp: rounds to inf
    just_below = struct.unpack("<d", struct.pack("<Q", 0x47EFFFFFEFFFFFFF))[0]  # rounds down to FLT_MAX
    assert fn(just_below) == FLT_MAX
    for bad in (1e39, -1e39, 1e308, half_ulp_above, -half_ulp_above, 3.5e38):
        with pytest.raises(OverflowError):
            struct.pack("<f", bad)  # the reference agrees these are out of range
        with raises_exact(OverflowError, f"id_f32() argument 1: {bad!r} does not fit f32"):
            fn(bad)
    with raises_exact(OverflowError, "id_f32() argument 1: 1e+39 does not fit f32"):
        fn(Flt(1e39))  # the value after __float__
    with pytest.raises(OverflowError):
        fn(10**40)


@HYP
@given(x=st.floats(allow_nan=False, width=64))
def test_f32_rounds_like_struct_pack(lib, tier, x):
    bits = make(lib, "bits_f32", "u32", ["f32"], tier)
    fn = make(lib, "id_f32", "f32", ["f32"], tier)
    try:
        want = f32_bits(x)
    except OverflowError:
        with raises_exact(OverflowError, f"bits_f32() argument 1: {x!r} does not fit f32"):
            bits(x)
        return
    assert bits(x) == want
    assert f64_bits(fn(x)) == f64_bits(f32(x))


@HYP
@given(x=st.floats(width=32, allow_nan=False))
def test_f32_exact_values_pass_through(lib, tier, x):
    widen = make(lib, "widen_f32", "f64", ["f32"], tier)
    assert f64_bits(widen(x)) == f64_bits(x)


def test_f32_rejects(lib, tier):
    fn = make(lib, "id_f32", "f32", ["f32"], tier)
    for bad, tname in [("1.0", "str"), (None, "NoneType"), (b"x", "bytes")]:
        with raises_exact(TypeError, f"id_f32() argument 1: expected f32, got {tname}"):
            fn(bad)


def test_float_mixed_args(lib, tier):
    fn = make(lib, "wsum_f32_f64_i32", "f64", ["f32", "f64", "i32"], tier)
    assert fn(0.1, 0.25, -3) == f32(0.1) + 2 * 0.25 + 3 * -3.0
    add32 = make(lib, "add_f32", "f32", ["f32", "f32"], tier)
    assert add32(0.1, 0.2) == f32(f32(0.1) + f32(0.2))
    assert make(lib, "sub_f64", "f64", ["f64", "f64"], tier)(1.0, 0.25) == 0.75


# --- all kinds in one call ------------------------------------------------------------------------------


def test_mix_scalars_11_recorded(lib, tier):
    types = ["i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "bool"]
    fn = make(lib, "mix_scalars_11", "i64", types, tier)
    last_i = make(lib, "last_call_i", "i64", ["i32"], "libffi")
    last_u = make(lib, "last_call_u", "u64", ["i32"], "libffi")
    last_d = make(lib, "last_call_d", "f64", ["i32"], "libffi")
    args = [-128, 255, -32768, 65535, -(2**31), 2**32 - 1, -(2**63), 2**64 - 1, 0.1, -1e300, True]
    r = fn(*args)
    for k in range(8):
        got = last_u(k) if types[k] == "u64" else last_i(k)
        assert got == args[k], (k, types[k])
    assert last_d(8) == f32(0.1)
    assert last_d(9) == -1e300
    assert last_i(10) == 1
    ints = args[:8] + [0, 0, 1]
    assert r == ifold(ints)


# --- many arguments, stack spill --------------------------------------------------------------------------


def recorded(lib, n, kind="i"):
    getter = make(lib, f"last_call_{kind}", {"i": "i64", "u": "u64", "d": "f64"}[kind], ["i32"], "libffi")
    return [getter(k) for k in range(n)]


def test_sum_8_i64(lib, tier):
    fn = make(lib, "sum_8_i64", "i64", ["i64"] * 8, tier)
    args = [1, 2, 3, 4, 5, 6, 7, 8]
    assert fn(*args) == ifold(args)
    args = [-(2**63), 2**63 - 1, -1, 0, 1, 2**40, -(2**40), 12345]
    assert fn(*args) == ifold(args)
    assert recorded(lib, 8) == args


def test_sum_12_i64_spills(lib, tier):
    fn = make(lib, "sum_12_i64", "i64", ["i64"] * 12, tier)
    args = [(k + 1) * (-1) ** k * 1000003 for k in range(12)]
    assert fn(*args) == ifold(args)
    assert recorded(lib, 12) == args
    args = [2**63 - 1 - k for k in range(12)]
    assert fn(*args) == ifold(args)
    assert recorded(lib, 12) == args


def test_sum_16_i32_negative_on_stack(lib, tier):
    fn = make(lib, "sum_16_i32", "i64", ["i32"] * 16, tier)
    args = [-(2**31) if k % 3 == 0 else (2**31 - 1 if k % 3 == 1 else -k) for k in range(16)]
    assert fn(*args) == ifold(args)
    assert recorded(lib, 16) == args


def test_sum_10_u64(lib, tier):
    fn = make(lib, "sum_10_u64", "u64", ["u64"] * 10, tier)
    args = [2**64 - 1 - k for k in range(10)]
    assert fn(*args) == sum(a * (k + 1) for k, a in enumerate(args)) % 2**64
    assert recorded(lib, 10, "u") == args


@pytest.mark.parametrize("n", [10, 12])
def test_sum_f64_spills(lib, tier, n):
    fn = make(lib, f"sum_{n}_f64", "f64", ["f64"] * n, tier)
    args = [(k + 1) * 0.5 * (-1) ** k for k in range(n)]
    assert fn(*args) == dfold(args)
    assert recorded(lib, n, "d") == args


def test_sum_16_f32_spills(lib, tier):
    fn = make(lib, "sum_16_f32", "f64", ["f32"] * 16, tier)
    exact = [0.125 * (k + 1) * (-1) ** k for k in range(16)]
    assert fn(*exact) == dfold(exact)
    assert recorded(lib, 16, "d") == exact
    rounded = [0.1 * (k + 1) * (-1) ** k for k in range(16)]
    fn(*rounded)
    assert recorded(lib, 16, "d") == [f32(a) for a in rounded]


def test_mix_10i_10d_interleaved(lib, tier):
    types = ["i64", "f64"] * 10
    fn = make(lib, "mix_10i_10d", "f64", types, tier)
    args = []
    for j in range(10):
        args += [(j + 1) * 7 * (-1) ** j, (j + 1) * 0.25]
    assert fn(*args) == dfold(args)
    ints = recorded(lib, 20, "i")
    dbls = recorded(lib, 20, "d")
    assert [ints[2 * j] for j in range(10)] == args[0::2]
    assert [dbls[2 * j + 1] for j in range(10)] == args[1::2]


@HYP
@given(
    ints=st.lists(st.integers(-(2**63), 2**63 - 1), min_size=10, max_size=10),
    dbls=st.lists(st.floats(allow_nan=False), min_size=10, max_size=10),
)
def test_mix_10i_10d_any_values(lib, tier, ints, dbls):
    fn = make(lib, "mix_10i_10d", "f64", ["i64", "f64"] * 10, tier)
    args = [v for pair in zip(ints, dbls) for v in pair]
    fn(*args)
    got_i = recorded(lib, 20, "i")
    got_d = recorded(lib, 20, "d")
    assert got_i[0::2] == ints
    assert [f64_bits(x) for x in got_d[1::2]] == [f64_bits(x) for x in dbls]


def test_stack_narrow(lib, tier):
    types = ["i64"] * 6 + ["i8", "u8", "i16", "u16", "i32", "u32", "bool", "i64"]
    fn = make(lib, "stack_narrow", "i64", types, tier)
    args = [11, -22, 33, -44, 55, -66, -128, 255, -32768, 65535, -(2**31), 2**32 - 1, True, -(2**63)]
    want = [int(a) for a in args]
    assert fn(*args) == ifold(want)
    assert recorded(lib, 14) == want
    args2 = [0] * 6 + [127, 0, 32767, 0, 2**31 - 1, 0, False, 2**63 - 1]
    assert fn(*args2) == ifold([int(a) for a in args2])
    assert recorded(lib, 14) == [int(a) for a in args2]


def test_stack_f32(lib, tier):
    types = ["f64"] * 8 + ["f32", "i32", "f64", "f32"]
    fn = make(lib, "stack_f32", "f64", types, tier)
    args = [0.5 * k for k in range(8)] + [1.25, -7, -3.5, 0.1]
    want = [float(a) for a in args[:-1]] + [f32(0.1)]
    fn(*args)
    assert recorded(lib, 12, "d") == want


@pytest.mark.parametrize(
    "name, types",
    [("aligned_0", []), ("aligned_i7", ["i64"] * 7), ("aligned_i8", ["i64"] * 8),
     ("aligned_i9", ["i64"] * 9), ("aligned_d9", ["f64"] * 9)],
)
def test_callee_stack_is_aligned(lib, tier, name, types):
    """Odd and even numbers of stack slots: the callee's frame must be 16-byte aligned."""
    fn = make(lib, name, "i32", types, tier)
    args = [(k + 1) * (-3) ** k for k in range(len(types))]
    if types and types[0] == "f64":
        args = [a / 4 for a in args]
    assert fn(*args) == 1
    if args:
        assert recorded(lib, len(args), "d" if types[0] == "f64" else "i") == args


# --- arity and keywords ----------------------------------------------------------------------------------


def test_arity_messages(lib, tier):
    add = make(lib, "add_i32", "i32", ["i32", "i32"], tier)
    one = make(lib, "id_i32", "i32", ["i32"], tier)
    noop = make(lib, "noop", "void", [], tier)
    with raises_exact(TypeError, "add_i32() takes 2 arguments (1 given)"):
        add(1)
    with raises_exact(TypeError, "add_i32() takes 2 arguments (3 given)"):
        add(1, 2, 3)
    with raises_exact(TypeError, "add_i32() takes 2 arguments (0 given)"):
        add()
    with raises_exact(TypeError, "id_i32() takes 1 argument (0 given)"):
        one()
    with raises_exact(TypeError, "id_i32() takes 1 argument (2 given)"):
        one(1, 2)
    with raises_exact(TypeError, "noop() takes 0 arguments (1 given)"):
        noop(1)
    many = make(lib, "sum_12_i64", "i64", ["i64"] * 12, tier)
    with raises_exact(TypeError, "sum_12_i64() takes 12 arguments (11 given)"):
        many(*range(11))
    with raises_exact(TypeError, "sum_12_i64() takes 12 arguments (13 given)"):
        many(*range(13))


def test_keyword_arguments_rejected(lib, tier):
    add = make(lib, "add_i32", "i32", ["i32", "i32"], tier)
    noop = make(lib, "noop", "void", [], tier)
    with raises_exact(TypeError, "add_i32() takes no keyword arguments"):
        add(1, 2, b=3)
    with raises_exact(TypeError, "noop() takes no keyword arguments"):
        noop(x=1)
    assert add(1, 2) == 3


def test_error_positions_are_one_based(lib, tier):
    add = make(lib, "add_i32", "i32", ["i32", "i32"], tier)
    with raises_exact(TypeError, "add_i32() argument 2: expected i32, got float"):
        add(1, 2.5)
    with raises_exact(TypeError, "add_i32() argument 1: expected i32, got str"):
        add("1", 2.5)
    with raises_exact(OverflowError, "add_i32() argument 2: 2147483653 does not fit i32"):
        add(1, 2147483653)
    many = make(lib, "sum_12_i64", "i64", ["i64"] * 12, tier)
    with raises_exact(TypeError, "sum_12_i64() argument 12: expected i64, got NoneType"):
        many(*range(11), None)
    mix = make(lib, "mix_10i_10d", "f64", ["i64", "f64"] * 10, tier)
    args = [1, 1.0] * 10
    args[19] = "x"
    with raises_exact(TypeError, "mix_10i_10d() argument 20: expected f64, got str"):
        mix(*args)
    args[19] = 1.0
    args[10] = 2**63
    with raises_exact(OverflowError, f"mix_10i_10d() argument 11: {2**63} does not fit i64"):
        mix(*args)


def test_function_from_address_uses_its_name(lib, tier):
    addr = lib.symbol("add_i32")
    try:
        add = fastffi.function(addr, "i32", ["i32", "i32"], name="add", tier=tier)
    except fastffi.FFIError as e:
        if tier != "libffi":
            pytest.skip(str(e))
        raise
    assert add.__name__ == "add" and add.address == addr and add.tier == tier
    assert add(2, 3) == 5
    with raises_exact(TypeError, "add() takes 2 arguments (1 given)"):
        add(1)
    with raises_exact(OverflowError, "add() argument 1: 2147483653 does not fit i32"):
        add(2147483653, 1)


def test_declaration_string_calls(lib, tier):
    fn = make_decl(lib, "int64_t sum_8_i64(int64_t, int64_t, int64_t, int64_t, long, long, long long, ssize_t)",
                   "sum_8_i64", tier)
    assert fn(*range(1, 9)) == ifold(range(1, 9))
    s = lib.function("unsigned char id_u8(unsigned char x)", tier="libffi")
    assert s(255) == 255


# --- pointers and buffers -----------------------------------------------------------------------------------


def test_pointer_ints_and_none(lib, tier):
    fn = make(lib, "id_ptr", "pointer", ["pointer"], tier)
    for v in [0, 1, 0x1000, 2**63, 2**64 - 1, 0xDEADBEEFCAFE]:
        r = fn(v)
        assert type(r) is int and r == v
    assert fn(None) == 0
    assert fn(Idx(0x1234)) == 0x1234
    # numpy integer scalars are __index__ objects ("int ... or __index__ object") even though they
    # also export the buffer protocol: their value is the address
    assert fn(np.uint64(2**64 - 1)) == 2**64 - 1
    assert fn(np.int64(0x1000)) == 0x1000
    is_null = make(lib, "is_null", "i32", ["pointer"], tier)
    assert is_null(None) == 1 and is_null(0) == 1 and is_null(8) == 0


def test_pointer_returns(lib, tier):
    assert make(lib, "ret_ptr_null", "pointer", [], tier)() == 0
    assert make(lib, "ret_ptr_max", "pointer", [], tier)() == 2**64 - 1
    assert make(lib, "ret_ptr_high", "pointer", [], tier)() == 0x8000000000000001


def test_pointer_rejects(lib, tier):
    fn = make(lib, "id_ptr", "pointer", ["pointer"], tier)
    for bad in (-1, 2**64, -(2**63)):
        with raises_exact(OverflowError, f"id_ptr() argument 1: {bad!r} does not fit pointer"):
            fn(bad)
    for bad, tname in [("abc", "str"), (1.0, "float"), ([1], "list"), (object(), "object")]:
        with raises_exact(TypeError, f"id_ptr() argument 1: expected pointer, got {tname}"):
            fn(bad)


def _wsum(data):
    return sum(b * (k + 1) for k, b in enumerate(data))


def test_pointer_buffers_are_read_in_place(lib, tier):
    fn = make(lib, "sum_u8_buf", "u64", ["pointer", "i64"], tier)
    data = bytes(range(1, 41))
    assert fn(data, len(data)) == _wsum(data)  # read-only bytes accepted
    assert fn(bytearray(data), 40) == _wsum(data)
    assert fn(memoryview(data), 40) == _wsum(data)
    assert fn(memoryview(data)[3:], 37) == _wsum(data[3:])
    assert fn(array.array("B", data), 40) == _wsum(data)
    assert fn(np.frombuffer(data, dtype=np.uint8), 40) == _wsum(data)
    ro = np.arange(10, dtype=np.uint8)
    ro.flags.writeable = False
    assert fn(ro, 10) == _wsum(range(10))
    two_d = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert fn(two_d, 12) == _wsum(range(12))
    assert fn(two_d[1:], 8) == _wsum(range(4, 12))  # a contiguous slice: offset address


def test_pointer_buffer_addresses(lib, tier):
    fn = make(lib, "id_ptr", "pointer", ["pointer"], tier)
    a = np.zeros(16, dtype=np.float64)
    assert fn(a) == a.ctypes.data
    assert fn(a[4:]) == a.ctypes.data + 32
    ba = bytearray(32)
    base = ctypes.addressof(ctypes.c_char.from_buffer(ba))
    assert fn(ba) == base
    assert fn(memoryview(ba)[5:]) == base + 5
    assert fn(ba) == fastffi.address_of(ba)


def test_pointer_writable_buffers_zero_copy(lib, tier):
    fill = make(lib, "fill_u8_buf", "void", ["pointer", "i64", "u8"], tier)
    ba = bytearray(10)
    fill(ba, 10, 250)
    assert ba == bytes((250 + k) % 256 for k in range(10))
    ba = bytearray(12)
    fill(memoryview(ba)[4:8], 4, 1)
    assert ba == bytes(4) + bytes([1, 2, 3, 4]) + bytes(4)
    a = np.zeros(6, dtype=np.uint8)
    fill(a, 6, 7)
    assert a.tolist() == [7, 8, 9, 10, 11, 12]
    arr = array.array("B", bytes(3))
    fill(arr, 3, 0)
    assert arr.tolist() == [0, 1, 2]


def test_pointer_non_contiguous_rejected(lib, tier):
    fn = make(lib, "sum_u8_buf", "u64", ["pointer", "i64"], tier)
    a = np.arange(20, dtype=np.uint8)
    with raises_exact(ValueError, "sum_u8_buf() argument 1: buffer is not C-contiguous"):
        fn(a[::2], 10)
    f = np.asfortranarray(np.arange(12, dtype=np.uint8).reshape(3, 4))
    with raises_exact(ValueError, "sum_u8_buf() argument 1: buffer is not C-contiguous"):
        fn(f, 12)
    with raises_exact(ValueError, "sum_u8_buf() argument 1: buffer is not C-contiguous"):
        fn(memoryview(bytes(range(10)))[::2], 5)
    g = make(lib, "sum_f64_arr", "f64", ["pointer", "i64"], tier)
    with raises_exact(ValueError, "sum_f64_arr() argument 1: buffer is not C-contiguous"):
        g(np.zeros((4, 4))[:, 1], 4)


def test_pointer_takes_function(lib, tier):
    add = make(lib, "add_i32", "i32", ["i32", "i32"], "libffi")
    sub = make(lib, "sub_i32", "i32", ["i32", "i32"], "libffi")
    call = make(lib, "call_binop_i32", "i32", ["pointer", "i32", "i32"], tier)
    assert call(add, 3, 4) == 7
    assert call(sub, 10, 3) == 7
    assert call(sub, 3, 10) == -7
    ident = make(lib, "id_ptr", "pointer", ["pointer"], tier)
    assert ident(add) == add.address == lib.symbol("add_i32")


def test_pointer_takes_box_array_struct(lib, tier):
    ident = make(lib, "id_ptr", "pointer", ["pointer"], tier)
    box = fastffi.new("i64")
    arr = fastffi.array("i32", 4)
    P = fastffi.struct("PtrTestPoint", [("x", "f64"), ("y", "f64")])
    p = P(x=1.0, y=2.0)
    assert ident(box) == fastffi.address_of(box) != 0
    assert ident(arr) == fastffi.address_of(arr) != 0
    assert ident(p) == fastffi.address_of(p) != 0
    sum_i32 = make(lib, "sum_i32_arr", "i64", ["pointer", "i64"], tier)
    arr[0], arr[1], arr[2], arr[3] = 1, -2, 3, -4
    assert sum_i32(arr, 4) == 1 - 4 + 9 - 16


def test_pointer_arithmetic_roundtrip(lib, tier):
    off = make(lib, "ptr_offset", "pointer", ["pointer", "i64"], tier)
    to_u = make(lib, "ptr_to_uint", "u64", ["pointer"], tier)
    ba = bytearray(64)
    base = fastffi.address_of(ba)
    assert off(ba, 17) == base + 17
    assert to_u(base + 17) == base + 17


# --- strings ---------------------------------------------------------------------------------------------------


def fnv1a(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h ^= b
        h = (h * 16777619) % 2**32
    return h


def test_string_args(lib, tier):
    ln = make(lib, "len_str", "i64", ["string"], tier)
    assert ln("hello") == 5
    assert ln("") == 0
    assert ln("h\u00e9llo") == 6  # UTF-8 bytes
    assert ln("\U0001f40d") == 4
    assert ln(b"abc") == 3
    assert ln(b"a\0b") == 1  # bytes as is: the callee stops at the NUL
    assert ln(bytearray(b"ab\0cd")) == 2
    assert ln(None) == -1


def test_string_exact_bytes(lib, tier):
    h = make(lib, "fnv1a_str", "u32", ["string"], tier)
    for s in ["", "abc", "h\u00e9llo \u20ac \U0001f40d", "x" * 1000]:
        assert h(s) == fnv1a(s.encode("utf-8"))
    assert h(b"\xff\xfe") == fnv1a(b"\xff\xfe")


@HYP
@given(s=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0")))
def test_string_any_text_arrives_as_utf8(lib, tier, s):
    h = make(lib, "fnv1a_str", "u32", ["string"], tier)
    assert h(s) == fnv1a(s.encode("utf-8"))


def test_string_rejects(lib, tier):
    ln = make(lib, "len_str", "i64", ["string"], tier)
    with raises_exact(ValueError, "len_str() argument 1: embedded null character"):
        ln("a\0b")
    for bad, tname in [(5, "int"), (1.0, "float"), (["a"], "list")]:
        with raises_exact(TypeError, f"len_str() argument 1: expected string, got {tname}"):
            ln(bad)
    cc = make(lib, "count_char", "i64", ["i64", "string", "i32"], tier)
    assert cc(3, "banana", ord("a")) == 3003
    with raises_exact(ValueError, "count_char() argument 2: embedded null character"):
        cc(1, "a\0", 97)


def test_string_order(lib, tier):
    cmp = make(lib, "cmp_str", "i32", ["string", "string"], tier)
    assert cmp("a", "b") == -1
    assert cmp("b", "a") == 1
    assert cmp(b"same", "same") == 0


def test_string_writable_buffer(lib, tier):
    up = make(lib, "upper_str", "i32", ["string", "string"], tier)
    out = bytearray(16)
    assert up("hello, World", out) == 12
    assert out[:13] == b"HELLO, WORLD\0"
    fill = make(lib, "fill_str", "string", ["string", "i32", "i32"], tier)
    buf = bytearray(8)
    assert fill(buf, 8, ord("z")) == "zzzzzzz"
    assert buf == b"zzzzzzz\0"


def test_string_returns(lib, tier):
    assert make(lib, "ret_static_str", "string", [], tier)() == "hello, fastffi"
    assert make(lib, "ret_empty_str", "string", [], tier)() == ""
    assert make(lib, "ret_null_str", "string", [], tier)() is None
    assert make(lib, "ret_utf8_str", "string", [], tier)() == "h\u00e9llo \u20ac \U0001f40d"
    bad = make(lib, "ret_bad_utf8_str", "string", [], tier)()
    assert bad == b"ab\xff\xfecd\xc3".decode("utf-8", "surrogateescape")
    assert type(bad) is str


def test_string_echo(lib, tier):
    echo = make(lib, "echo_str", "string", ["string"], tier)
    assert echo("h\u00e9llo") == "h\u00e9llo"
    assert echo(b"abc") == "abc"
    assert echo(None) is None


# --- out-parameters: new() and array() -----------------------------------------------------------------------


def test_divmod_out_params(lib, tier):
    fn = make(lib, "divmod_i32", "i32", ["i32", "i32", "pointer", "pointer"], tier)
    q, r = fastffi.new("i32"), fastffi.new("i32")
    assert fn(17, 5, q, r) == 0
    assert (q.value, r.value) == (3, 2)
    assert fn(-17, 5, q, r) == 0
    assert (q.value, r.value) == (-3, -2)  # C truncates
    q2, r2 = fastffi.new("i32", 99), fastffi.new("i32", -99)
    assert fn(7, 0, q2, r2) == -1
    assert (q2.value, r2.value) == (99, -99)


def test_divmod_declared_with_int_pointers(lib, tier):
    fn = make_decl(lib, "int divmod_i32(int a, int b, int *q, int *r)", "divmod_i32", tier)
    q, r = fastffi.new("int"), fastffi.new("i32")
    assert fn(-100, 7, q, r) == 0
    assert (q.value, r.value) == (-14, -2)


SCALAR_BOX_VALUES = {
    **{t: [INT_RANGES[t][0], INT_RANGES[t][1], 0] for t in INT_TYPES},
    "f32": [FLT_MAX, -2.0**-149, math.inf],
    "f64": [1.7976931348623157e308, 5e-324, -math.inf],
    "bool": [True, False],
    "ptr": [0, 2**64 - 1, 0x1000],
}


@pytest.mark.parametrize("t", list(SCALAR_BOX_VALUES))
def test_store_load_through_boxes(lib, tier, t):
    ft = "pointer" if t == "ptr" else t
    store = make(lib, f"store_{t}", "void", ["pointer", ft], tier)
    load = make(lib, f"load_{t}", ft, ["pointer"], tier)
    box = fastffi.new(ft)
    assert box.value == (False if ft == "bool" else 0)
    for v in SCALAR_BOX_VALUES[t]:
        store(box, v)
        assert box.value == v
        assert type(box.value) is type(v)
        assert load(box) == v
        assert load(fastffi.new(ft, v)) == v


def test_box_value_range_checked():
    box = fastffi.new("u8")
    with pytest.raises(OverflowError):
        box.value = 256
    with pytest.raises(OverflowError):
        box.value = -1
    with pytest.raises(TypeError):
        box.value = 1.5
    box.value = 255
    assert box.value == 255
    with pytest.raises(OverflowError):
        fastffi.new("i8", 128)
    fb = fastffi.new("f32", 0.1)
    assert fb.value == f32(0.1)


def test_swap_boxes(lib, tier):
    swap = make(lib, "swap_i64", "void", ["pointer", "pointer"], tier)
    a, b = fastffi.new("i64", -(2**63)), fastffi.new("i64", 2**63 - 1)
    swap(a, b)
    assert (a.value, b.value) == (2**63 - 1, -(2**63))


def test_arrays_as_out_params(lib, tier):
    fill = make(lib, "fill_i32_seq", "void", ["pointer", "i64", "i32", "i32"], tier)
    arr = fastffi.array("i32", 6)
    assert len(arr) == 6 and list(arr) == [0] * 6
    fill(arr, 6, -3, 2)
    assert list(arr) == [-3, -1, 1, 3, 5, 7]
    assert arr[-1] == 7 and arr[0] == -3
    assert np.frombuffer(arr, dtype=np.int32).tolist() == [-3, -1, 1, 3, 5, 7]
    assert memoryview(arr).nbytes == 24
    s = make(lib, "sum_f64_arr", "f64", ["pointer", "i64"], tier)
    vals = [0.5, -1.25, 3.0, 8.0]
    assert s(fastffi.array("f64", vals), 4) == dfold(vals)
    assert s(np.array(vals), 4) == dfold(vals)
    assert s(array.array("d", vals), 4) == dfold(vals)


def test_minmax_out_params(lib, tier):
    mm = make(lib, "minmax_f64", "void", ["pointer", "i64", "pointer", "pointer"], tier)
    lo, hi = fastffi.new("f64"), fastffi.new("f64")
    data = np.array([3.5, -1.0, 9.25, 0.0])
    mm(data, 4, lo, hi)
    assert (lo.value, hi.value) == (-1.0, 9.25)
    lo_hi = np.zeros(2)
    mm(fastffi.array("f64", [2.0, 1.0]), 2, lo_hi[0:1], lo_hi[1:2])  # contiguous one-element views
    assert lo_hi.tolist() == [1.0, 2.0]


# --- garbage in the upper bits of narrow returns ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name, t, expected",
    [
        ("ret_u8_garbage", "u8", 128),
        ("ret_i8_garbage", "i8", -128),
        ("ret_u16_garbage", "u16", 32769),
        ("ret_i16_garbage", "i16", -32767),
        ("ret_u32_garbage", "u32", 2147483649),
        ("ret_i32_garbage", "i32", -2147483647),
        ("ret_bool_garbage", "bool", True),
        ("ret_bool_garbage_false", "bool", False),
        ("ret_f32_garbage", "f32", 1.5),
    ],
)
def test_narrow_return_ignores_upper_bits(lib, tier, name, t, expected):
    r = make(lib, name, t, [], tier)()
    assert type(r) is type(expected)
    assert r == expected
    if t == "bool":
        assert r is expected


def test_garbage_fixture_is_really_asm(lib):
    if platform.machine() in ("x86_64", "aarch64"):
        assert lib.function("garbage_is_asm", "i32", [])() == 1
