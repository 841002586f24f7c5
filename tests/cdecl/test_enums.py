"""Enums take the size the C compiler gives them, and pass their values unchanged."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastffi
from conftest import compile_shared

ENUMS = {
    # name: (enumerators, the type fastffi gives it)
    "small": ("S0 = 0, S1 = 0x7fffffff", "i32"),
    "negative": ("N0 = -5, N1 = 7", "i32"),
    "above_int": ("A0 = 0, A1 = 0x80000000", "u32"),
    "wide": ("W0 = 0, W1 = 0x100000000", "u64"),
    "wide_negative": ("V0 = -1, V1 = 0x100000000", "i64"),
    "from_constants": ("K0 = 1 << 20, K1, K2 = K1 * 4096LL + 0x1u", "u64"),
}


@pytest.fixture(scope="module")
def enums_lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("enums")
    lines = []
    for name, (values, _) in ENUMS.items():
        lines.append(f"enum {name} {{ {values} }};")
        lines.append(f"unsigned long size_{name}(void) {{ return sizeof(enum {name}); }}")
        lines.append(f"int signed_{name}(void) {{ return (enum {name})-1 < (enum {name})0; }}")
        lines.append(f"enum {name} echo_{name}(enum {name} v) {{ return v; }}")
    src = d / "enums.c"
    src.write_text("\n".join(lines) + "\n")
    return fastffi.dlopen(compile_shared([src], d, "enums"))


@pytest.mark.parametrize("name", ENUMS)
def test_enum_type_matches_the_compiler(enums_lib, name):
    values, expected = ENUMS[name]
    echo = enums_lib.function(f"enum {name} {{ {values} }} echo_{name}(enum {name} {{ {values} }} v)")
    assert echo.restype == expected and echo.argtypes == (expected,)
    size = enums_lib.function(f"size_{name}", "u64", [])()
    assert fastffi.sizeof(expected) == size
    if size == 8:   # fastffi keeps i32 for int-range enums (their constants' own type, C11 6.7.2.2)
        assert expected.startswith("i") == bool(enums_lib.function(f"signed_{name}", "i32", [])())


def test_wide_enum_values_pass_unchanged(enums_lib):
    decl = "enum wide {W0 = 0, W1 = 0x100000000}"
    echo = enums_lib.function(f"{decl} echo_wide({decl} v)")
    assert echo(0x100000000) == 0x100000000
    with pytest.raises(OverflowError):
        echo(-1)
    neg = "enum wide_negative {V0 = -1, V1 = 0x100000000}"
    echo = enums_lib.function(f"{neg} echo_wide_negative({neg} v)")
    assert echo(-1) == -1 and echo(0x100000000) == 0x100000000


def test_enum_without_values_is_int_sized():
    assert fastffi.dlopen(None).function("int abs(enum never_defined x)").argtypes == ("i32",)


def test_enum_values_beyond_64_bits_are_refused():
    decl = "int abs(enum huge {H0 = -1, H1 = 0x8000000000000000} h)"
    with pytest.raises(fastffi.SignatureError) as info:
        fastffi.dlopen(None).function(decl)
    assert str(info.value) == (f"enum values from -1 to {2**63} fit no C integer type: "
                               f"'int abs(enum huge {{H0 = -1, H1 = 0x8000000000000000}} h)'")


def test_octal_and_suffixed_enum_values():
    decl = "enum o {O0 = 010, O1 = 0x10u, O2 = 0, O3 = 7UL}"
    sig = fastffi.cdecl.spelling.parse_declaration(f"int abs({decl} v)")
    assert sig.argtypes[0].name == "i32"
    from pycparser import c_parser
    from fastffi.cdecl.enums import enumerator_values
    node = c_parser.CParser().parse(decl + ";").ext[0].type
    assert enumerator_values(node, decl) == {"O0": 8, "O1": 16, "O2": 0, "O3": 7}


@pytest.mark.parametrize("values, message", [
    ("A = 1/0", "enum value divides by zero"),
    ("A = 5 % 0", "enum value divides by zero"),
    ("A = 1 << -1", "enum value shifts by -1 bits"),
    ("A = 1 >> 64", "enum value shifts by 64 bits"),
    ("A = 1 << 63, B = A * A", f"enum value {2**126} fits no C integer type"),
])
def test_bad_constant_expressions_are_signature_errors(values, message):
    decl = f"int abs(enum e {{{values}}} x)"
    with pytest.raises(fastffi.SignatureError) as info:
        fastffi.dlopen(None).function(decl)
    assert str(info.value) == f"{message}: {decl!r}"


def test_division_truncates_toward_zero_exactly():
    from pycparser import c_parser
    from fastffi.cdecl.enums import enumerator_values
    decl = "enum e {A = -7/2, B = -7 % 2, C = 0x7fffffffffffffff / 1, D = 7 / -2}"
    node = c_parser.CParser().parse(decl + ";").ext[0].type
    assert enumerator_values(node, decl) == {"A": -3, "B": -1, "C": 2**63 - 1, "D": -3}


_atoms = st.sampled_from(["0", "1", "-1", "7", "0x7fffffff", "0xffffffffffffffff", "63", "64", "A"])
_exprs = st.recursive(_atoms, lambda e: st.builds(lambda a, op, b: f"({a} {op} {b})", e,
                                                  st.sampled_from(["+", "-", "*", "/", "%", "<<", ">>", "&", "|",
                                                                   "^"]), e) | st.builds("-{}".format, e),
                      max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_exprs)
def test_any_constant_expression_gives_a_type_or_a_signature_error(expr):
    """An attacker's enum never escapes as another exception, nor computes huge numbers."""
    decl = f"int abs(enum e {{A = 3, B = {expr}}} x)"
    try:
        fn = fastffi.dlopen(None).function(decl)
    except fastffi.SignatureError:
        return
    assert fn.argtypes[0] in ("i32", "u32", "i64", "u64")
