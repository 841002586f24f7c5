"""Fuzz (e): the variadic part, random Python values into ``va_hash`` (tests/fixture/variadic.c)
on every tier, typed by inference.

``va_hash(types, ...)`` reads each extra argument with ``va_arg`` by the type letter it is given
and folds it into a hash; the harness gives the letter of the type inference must pick for each
value (tiers/variadic.py: bool -> int, int -> long long or unsigned long long, float -> double,
str/bytes -> const char *, None/buffers/boxes -> void *, numpy scalars promoted), so a wrong
promotion or a wrong register (x86-64 %al, stack spills past 6 integer / 8 float registers) is a
wrong hash.  Values that cannot be passed must raise the documented class and message, naming the
first such argument; every tier agrees."""
from __future__ import annotations

import math
import re
import struct
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing

TIERS = fastffi.available_tiers()
M = 2**64 - 1
DECL = "uint64_t va_hash(const char *types, ...)"


def mix(h, v):
    h = ((h ^ (v & M)) * 0x100000001b3) & M
    return h ^ (h >> 29)


def dbits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


class Index:
    """An int in all but type: inference does not call __index__."""

    def __index__(self):
        return 1


def value(draw, position):
    """(object, letter or None, folded values, error): error is (class, message) or None."""
    where = f"va_hash() argument {position}"
    choice = draw(st.integers(0, 13))
    if choice <= 2:
        v = draw(st.integers(-2**63, 2**63 - 1))
        return v, "l", [v], None
    if choice == 3:
        v = draw(st.integers(2**63, 2**64 - 1))
        return v, "U", [v], None
    if choice == 4:
        v = draw(st.one_of(st.integers(2**64, 2**80), st.integers(-2**80, -2**63 - 1)))
        return v, None, [], (OverflowError, f"{where}: {v} does not fit a 64-bit integer "
                                            "(the widest a variadic int is passed as)")
    if choice == 5:
        v = draw(st.booleans())
        return v, "i", [int(v)], None
    if choice == 6:
        v = draw(st.floats(allow_nan=False))
        return v, "d", [dbits(v)], None
    if choice == 7:
        s = draw(st.text(st.characters(blacklist_categories=("Cs",)), max_size=8))
        if "\0" in s:
            return s, None, [], (ValueError, f"{where}: embedded null character")
        return s, "s", list(s.encode()), None
    if choice == 8:
        b = draw(st.binary(max_size=8))
        return b, "s", list(b.split(b"\0")[0]), None
    if choice == 9:
        obj = draw(st.sampled_from(["none", "bytearray", "box"]))
        o = None if obj == "none" else bytearray(b"x") if obj == "bytearray" else fastffi.new("i32", 3)
        return o, "p", [0 if o is None else fastffi.address_of(o)], None
    if choice == 10:
        v = draw(st.sampled_from([np.int8(-5), np.uint16(65535), np.int32(-7), np.bool_(True)]))
        return v, "i", [int(v) & M], None
    if choice == 11:
        v = draw(st.sampled_from([np.float32(0.1), np.float64(-2.5), np.float16(1.5)]))
        return v, "d", [dbits(float(v))], None
    if choice == 12:
        v = draw(st.sampled_from([np.int64(-2**63), np.uint64(2**64 - 1)]))
        return v, ("l" if v.dtype.kind == "i" else "U"), [int(v) & M], None
    o = draw(st.sampled_from([[], {}, object(), 1j, Index(), np.complex64(1)]))
    if isinstance(o, np.generic):
        return o, None, [], (TypeError, f"{where}: cannot pass numpy.{type(o).__name__} as a variadic argument "
                                        "(numpy scalars of integer, bool and up to 64-bit float dtypes are)")
    return o, None, [], (TypeError, f"{where}: cannot infer a C type for a variadic argument from "
                                    f"{type(o).__name__} (int, float, str, bytes, None, a buffer or a fastffi "
                                    "object; or give the types: va_hash.variadic(type, ...))")


@fuzzing.settings_for()
@given(data=st.data())
def test_inferred_variadic_arguments(fixture_lib, data):
    draw = data.draw
    n = draw(st.integers(0, 14))
    drawn = [value(draw, 2 + i) for i in range(n)]
    # Inference (every argument, in order) comes before any conversion (again in order).
    errors = [d[3] for d in drawn if d[3] is not None and d[1] is None and d[0].__class__ is not str]
    errors += [d[3] for d in drawn if d[3] is not None and d[0].__class__ is str]
    letters = "".join(d[1] or "i" for d in drawn).encode()
    h = 0xcbf29ce484222325
    for _, _, folded, _ in drawn:
        for v in folded:
            h = mix(h, v)
    for tier in TIERS:
        fn = fixture_lib.function(DECL, tier=tier)
        try:
            got = fn(letters, *[d[0] for d in drawn])
        except fastffi.SignatureError as e:
            # An exact tier request holds for the Function a call dispatches to.
            assert tier == "jit" and "tier 'jit' refused" in str(e), e
            continue
        except (TypeError, OverflowError, ValueError) as e:
            assert errors, (tier, e)
            assert (type(e), str(e)) == errors[0], tier
        else:
            assert not errors, (tier, errors)
            assert got == h, tier
        fuzzing.tick("variadic")


# ---- typed extras of the wide kinds: fn.variadic("longdouble", "c128", "f64", "i64", ...) ----------
#: x87 extended: the sign and exponent in the top two of its ten meaningful bytes.
X87 = np.finfo(np.longdouble).nmant == 63
HEX = re.compile(r"(-?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]\d+)")
SPECIAL = {"inf": math.inf, "-inf": -math.inf}


def hex_value(text: str):
    """The exact value of C's %a / %La output, as a Fraction (or +-inf)."""
    if text in SPECIAL:
        return SPECIAL[text]
    sign, whole, frac, exp = HEX.fullmatch(text).groups()
    frac = frac or ""
    v = Fraction(int(whole + frac, 16), 16 ** len(frac)) * Fraction(2) ** int(exp)
    return -v if sign else v


def exact(x):
    x = np.longdouble(x)
    if np.isinf(x):
        return math.inf if x > 0 else -math.inf
    return Fraction(*x.as_integer_ratio())


def finite_longdouble(draw):
    """A finite numpy.longdouble from random bits (x87: a canonical encoding, integer bit set
    exactly when the exponent is not zero), or a float/inf."""
    if draw(st.booleans()):
        return np.longdouble(draw(st.floats(allow_nan=False)))
    if not X87:
        raw = draw(st.binary(min_size=16, max_size=16))
        x = np.frombuffer(raw, dtype=np.longdouble)[0]
        return x if np.isfinite(x) else np.longdouble(0.5)
    sign_exp = draw(st.integers(0, 2**16 - 1))
    if sign_exp & 0x7fff == 0x7fff:
        sign_exp ^= 1   # inf/nan exponent: one below
    mant = draw(st.integers(0, 2**63 - 1)) | ((1 << 63) if sign_exp & 0x7fff else 0)
    return np.frombuffer(mant.to_bytes(8, "little") + sign_exp.to_bytes(2, "little") + bytes(6),
                         dtype=np.longdouble)[0]



@fuzzing.settings_for()
@given(data=st.data())
def test_typed_wide_variadic_extras_through_snprintf(libc, data):
    """snprintf prints each extra exactly (%La, %a, %lld): a value in the wrong register file,
    the wrong stack slot, or rounded, prints another value."""
    draw = data.draw
    kinds, values, fmts, want = [], [], [], []
    sse = 0   # vector registers used so far (both ABIs have 8 for variadic doubles)
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["longdouble", "longdouble", "c128", "f64", "i64"]))
        if kind == "c128" and sse == 7:
            kind = "f64"   # one register left: the pair goes to the stack, no longer two %a's
        if kind == "longdouble":
            v = finite_longdouble(draw)
            values.append(v if draw(st.booleans()) or not np.isfinite(v) or v != np.longdouble(float(v))
                          else float(v))
            fmts.append("%La")
            want.append(exact(v))
            sse += 0 if X87 else 1   # x86-64: memory class (psABI 3.2.3); AArch64: a q register
        elif kind == "c128":
            z = complex(draw(st.floats(allow_nan=False)), draw(st.floats(allow_nan=False)))
            values.append(z)
            fmts.append("%a %a")
            want += [exact(z.real), exact(z.imag)]
            sse += 2
        elif kind == "f64":
            x = draw(st.floats(allow_nan=False))
            values.append(x)
            fmts.append("%a")
            want.append(exact(x))
            sse += 1
        else:
            i = draw(st.integers(-2**63, 2**63 - 1))
            values.append(i)
            fmts.append("%lld")
            want.append(i)
        kinds.append(kind)
    fmt = " ".join(fmts).encode()
    for tier in TIERS:
        try:
            fn = libc.function("int snprintf(char *s, size_t n, const char *fmt, ...)", tier=tier).variadic(*kinds)
        except fastffi.SignatureError as e:
            assert tier == "jit" and "tier 'jit' refused" in str(e), e
            continue
        buf = bytearray(2048)
        n = fn(buf, len(buf), fmt, *values)
        words = bytes(buf[:n]).decode().split()
        got = [int(w) if k == "%lld" else hex_value(w) for w, k in zip(words, " ".join(fmts).split())]
        assert len(words) == len(want) and got == want, (tier, kinds, values, words)
        fuzzing.tick("variadic")


@fuzzing.settings_for(0.5)
@given(data=st.data())
def test_typed_i128_extras(fixture_lib, data):
    """i128_sum_va(n, ...) reads n __int128s: each in a register pair or 16-byte aligned on the
    stack; one out of range is an OverflowError naming it."""
    draw = data.draw
    vals = draw(st.lists(st.one_of(st.integers(-2**127, 2**127 - 1), st.integers(-2**140, 2**140)), max_size=10))
    bad = next((k for k, v in enumerate(vals) if not -2**127 <= v < 2**127), None)
    leading = draw(st.sampled_from([vals, [True] + vals[1:] if vals else vals]))
    for tier in TIERS:
        try:
            fn = fixture_lib.function("__int128 i128_sum_va(int n, ...)", tier=tier).variadic(*["i128"] * len(vals))
        except fastffi.SignatureError as e:
            assert tier != "plan" and f"tier {tier!r} refused" in str(e), e
            continue
        try:
            got = fn(len(vals), *leading)
        except OverflowError as e:
            assert bad is not None and str(e) == f"i128_sum_va() argument {bad + 2}: {vals[bad]} does not fit i128"
        else:
            assert bad is None
            s = sum((k + 1) * int(v) for k, v in enumerate(leading)) % 2**128
            assert got == (s - 2**128 if s >= 2**127 else s), (tier, vals)
        fuzzing.tick("variadic")
