"""The constant folder against C semantics: literal types, the usual
arithmetic conversions, casts (the values are what GCC computes)."""
import pytest

from fastffi.cdecl import constants as K


def fold(text, names=None, casts=None):
    names = names or {}
    table = {"int": (32, False), "unsigned": (32, True), "long": (64, False), "char": (8, False),
             "unsigned char": (8, True), "double": "float", "void *": "pointer", "fnptr": "pointer"}
    table.update(casts or {})
    v = K.evaluate(K.tokenize(text), lambda n: names.get(n), lambda w: table.get(" ".join(w)),
                   lambda w: {"int": 4, "long": 8}.get(" ".join(w)))
    return None if v is None else K.python_value(v)


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("010", 8), ("0x10", 16), ("0b101", 5), ("-1U", 2**32 - 1), ("~0UL", 2**64 - 1), ("~0", -1),
    ("(1<<31)", -2**31), ("(1U<<31)", 2**31), ("1L<<40", 2**40), ("0xFFFFFFFF", 2**32 - 1),
    ("-0xFFFFFFFF", 1), ("2147483648", 2**31), ("-1 < 0U", 0), ("-1L < 0U", 1), ("7/-2", -3), ("-7%3", -1),
    ("(unsigned char)300", 44), ("(char)200", -56), ("(long)-1", -1), ("(unsigned)-1", 2**32 - 1),
    ("((fnptr)-1)", 2**64 - 1), ("((void *)0)", 0), ("1 ? 2 : 3U", 2), ("0 ? -1 : 3U", 3),
    ("'A'", 65), ("'\\n'", 10), ("'\\x41'", 65), ("sizeof(long) * 2", 16), ("1 && 0 || 1", 1),
    ("1.5f", 1.5), ("1e3", 1000.0), ("0x1p-2", 0.25), ("(double)3", 3.0), ("1 + 0.5", 1.5),
    ('"ab" "c"', "abc"), ('"\\t"', "\t"),
])
def test_values_match_c(text, value):
    assert fold(text) == value


def test_names_fold_through_their_values():
    assert fold("A | (1 << 8)", {"A": K.Int(10)}) == 266


@pytest.mark.parametrize("text", ["f(1)", "x", "1 +", "a = 1", "1, 2", "1 / 0", "1 << 64", "(struct s *)", ""])
def test_non_constants_are_none(text):
    assert fold(text) is None


@pytest.mark.parametrize("text, value", [
    ("(__builtin_huge_val ())", float("inf")), ("(__builtin_huge_valf ())", float("inf")),
    ("(__builtin_huge_vall ())", float("inf")), ("(__builtin_inff ())", float("inf")),
    ("(-__builtin_inf ())", float("-inf")), ("__builtin_huge_val() > 0", 1),
])
def test_math_h_infinities_are_constants(text, value):
    # glibc's HUGE_VAL, INFINITY: GCC builtins, but constant expressions of float type (C11 7.12p3-4)
    assert fold(text) == value


def test_math_h_nan_is_a_constant_and_a_payload_is_not():
    v = fold('(__builtin_nanf (""))')
    assert isinstance(v, float) and v != v
    assert fold('__builtin_nan ("1")') is None and fold("__builtin_inf") is None and fold("__builtin_nan ()") is None


def test_math_h_bound_to_libm_has_infinity_and_nan():
    import math

    import fastffi
    m = fastffi.dlopen("libm.so.6", fastffi.include("math.h"))
    assert m.HUGE_VAL == m.HUGE_VALF == m.INFINITY == math.inf and math.isnan(m.NAN)
    assert m.exp(1000.0) == m.HUGE_VAL
