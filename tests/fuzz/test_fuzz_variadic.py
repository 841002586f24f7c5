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

import struct

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
