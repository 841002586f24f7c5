"""The libffi tier's struct descriptions (fastffi/tiers/libffi.py): arrays are
expanded element by element, long ones in nested chunks whose layout libffi
must compute exactly as ours."""
from __future__ import annotations

import pytest

import fastffi
from fastffi.tiers import libffi

CHUNKED = fastffi.struct("chunked", [("tag", "u8"), ("f", "f32[65]"), ("i", "i32"), ("d", "f64[4097]"),
                                     ("tail", "u16[3]")])


@pytest.mark.parametrize("spec, elements", [
    ("u8[4000000]", 67),      # 15 * 64**3 + 16 * 64**2 + 36 * 64: chunks of chunks of chunks
    ("f64[64]", 64),          # up to _CHUNK copies stay flat
    ("f64[65]", 2),           # one chunk of 64 and one left over
    ("i16[4097]", 65),        # 64 * 64 + 1: one left over and 64 chunks
    ("u32[130]", 4),          # two left over, two chunks
])
def test_long_arrays_are_described_in_chunks_with_our_layout(spec, elements):
    S = fastffi.struct("S", [("a", spec)])
    assert len(libffi._elements(S._layout_)) == elements
    assert libffi.struct_refusal(S) is None      # libffi's size and alignment equal ours
    described = libffi.ffi_struct_type(S)
    assert (described.size, described.alignment) == (fastffi.sizeof(S), fastffi.alignof(S))


def test_a_struct_of_long_arrays_by_value_both_ways(lib):
    total = lib.function("chunked_sum", "f64", [CHUNKED], tier="libffi")
    make = lib.function("chunked_make", CHUNKED, ["i32"], tier="libffi")
    s = make(5)
    assert (s.tag, s.f[0], s.f[64], s.i, s.d[0], s.d[4096], list(s.tail)) == \
        (5, 5.0, 69.0, -5, 2.5, 4098.5, [35, 36, 37])
    expected = 5 + 3.0 * -5 + sum((k + 1) * (5.0 + k) for k in range(65)) + \
        sum((k + 1) * (2.5 + k) for k in range(4097)) + sum((k + 1) * (35 + k) for k in range(3))
    assert total(s) == expected
    assert total(s) == lib.function("chunked_sum", "f64", [CHUNKED], tier="plan")(s)
