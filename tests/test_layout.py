"""Struct/union layout against the C compiler.

fastffi.sizeof / alignof / offsetof must equal what the C compiler says for C generated from the
same field table (tests/layout_oracle.py). Hand-picked shapes first, then hypothesis-generated
tables measured in batches (one compilation per batch)."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastffi
from layout_oracle import FIXTURE_DECLS, FIXTURE_HEADER, Decl, build, c_declaration, measure

# --- helpers ------------------------------------------------------------------------------------------


def _all_decls(decls):
    out, seen = [], set()

    def visit(d):
        if d.name in seen:
            return
        for _, ft in d.fields:
            while isinstance(ft, tuple):
                ft = ft[0]
            if isinstance(ft, Decl):
                visit(ft)
        seen.add(d.name)
        out.append(d)

    for d in decls:
        visit(d)
    return out


def fastffi_layout(decl):
    cls = build(decl)
    return (
        fastffi.sizeof(cls),
        fastffi.alignof(cls),
        {name: fastffi.offsetof(cls, name) for name, _ in decl.fields},
    )


def assert_layouts_match(decls, batch=None):
    """``batch``: a larger list measured in one compilation (cached), of which ``decls`` is part."""
    decls = _all_decls(decls)
    oracle = measure(_all_decls(batch) if batch is not None else decls)
    problems = []
    for d in decls:
        want = oracle[d.name]
        got = fastffi_layout(d)
        if got != (want.size, want.align, want.offsets):
            problems.append(
                f"{c_declaration(d)}\n  C:       size={want.size} align={want.align} offsets={want.offsets}"
                f"\n  fastffi: size={got[0]} align={got[1]} offsets={got[2]}"
            )
    assert not problems, "layout differs from the C compiler:\n" + "\n".join(problems)


def S(name, fields, pack=None):
    return Decl(name, tuple(fields), "struct", pack)


def U(name, fields, pack=None):
    return Decl(name, tuple(fields), "union", pack)


# --- the fixture library's own types -------------------------------------------------------------------


def test_fixture_tables_match_fixture_header():
    """The Python tables used by the struct tests describe exactly the structs in fixture.h."""
    from_tables = measure(FIXTURE_DECLS.values())
    from_header = measure(FIXTURE_DECLS.values(), header=FIXTURE_HEADER)
    assert from_tables == from_header


@pytest.mark.parametrize("name", sorted(FIXTURE_DECLS))
def test_fixture_struct_layout(name):
    assert_layouts_match([FIXTURE_DECLS[name]], batch=list(FIXTURE_DECLS.values()))


# --- hand-picked shapes ----------------------------------------------------------------------------------

_P = S("P2", [("x", "f64"), ("y", "f64")])
_CS = S("CS", [("c", "i8"), ("s", "i16")])
_PACKED_INNER = S("PackedInner", [("a", "u8"), ("b", "u32"), ("c", "u16")], pack=1)
_UNION_INNER = U("UInner", [("i", "i32"), ("d", "f64"), ("b", "u8[3]")])

SHAPES = [
    S("One", [("a", "u8")]),
    S("CharShort", [("c", "i8"), ("s", "i16")]),
    S("CharDouble", [("c", "i8"), ("d", "f64")]),
    S("DoubleChar", [("d", "f64"), ("c", "i8")]),
    S("ShortCharShort", [("a", "i16"), ("b", "i8"), ("c", "i16")]),
    S("CharIntChar", [("a", "u8"), ("b", "i32"), ("c", "u8")]),
    S("FloatDoubleFloat", [("a", "f32"), ("b", "f64"), ("c", "f32")]),
    S("BoolPtrBool", [("a", "bool"), ("p", "pointer"), ("b", "bool")]),
    S("AllScalars", [(f"f_{t}", t) for t in
                     ["i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "pointer"]]),
    S("Arrays", [("a", "u8[3]"), ("b", ("i32", 2)), ("c", "i8"), ("d", ("f64", 1))]),
    S("CharArrays", [("a", "u8[5]"), ("b", "u16[3]"), ("c", "u8")]),
    S("Nested", [("c", "i8"), ("p", _P), ("t", "i16")]),
    S("NestedSmall", [("a", _CS), ("b", "i8"), ("c", _CS)]),
    S("ArrayOfStructs", [("n", "u8"), ("pts", (_P, 3)), ("z", "u8")]),
    S("ArrayOfSmallStructs", [("cs", (_CS, 3)), ("z", "u8")]),
    S("ContainsPacked", [("a", "u8"), ("in_", _PACKED_INNER), ("b", "u8")]),
    S("ContainsUnion", [("tag", "u8"), ("u", _UNION_INNER)]),
    S("Size", [("size", "u32"), ("align", "u8"), ("offset", "u16")]),  # fields named like the helpers
    S("Pack1", [("a", "i8"), ("b", "i32"), ("c", "f64"), ("d", "i16")], pack=1),
    S("Pack2", [("a", "i8"), ("b", "i32"), ("c", "f64"), ("d", "i16")], pack=2),
    S("Pack4", [("a", "i8"), ("b", "i32"), ("c", "f64"), ("d", "i16")], pack=4),
    S("Pack8", [("a", "i8"), ("b", "i32"), ("c", "f64"), ("d", "i16")], pack=8),
    S("Pack16", [("a", "i8"), ("b", "i32"), ("c", "f64"), ("d", "i16")], pack=16),
    S("Pack2Nested", [("a", "u8"), ("p", _P), ("b", "u8")], pack=2),
    S("Pack1Arrays", [("a", "u8"), ("b", "u16[3]"), ("c", "f64[2]")], pack=1),
    S("Pack4Chars", [("a", "u8"), ("b", "u8"), ("c", "u8")], pack=4),
    U("UIntDouble", [("i", "i64"), ("d", "f64")]),
    U("UCharArrayInt", [("b", "u8[5]"), ("i", "i32")]),
    U("UShortChars", [("s", "i16"), ("c", "u8[3]")]),
    U("UStruct", [("p", _P), ("c", "u8[17]")]),
    U("UPacked", [("b", "u8[5]"), ("i", "i32")], pack=1),
    U("UPack2", [("d", "f64"), ("b", "u8[7]")], pack=2),
    S("Deep", [("a", "u8"), ("n", S("Mid", [("b", "i16"), ("in_", S("Leaf", [("c", "u8"), ("d", "f64")]))]))]),
]


@pytest.mark.parametrize("decl", SHAPES, ids=[d.name for d in SHAPES])
def test_shape_layout(decl):
    assert_layouts_match([decl], batch=SHAPES)


C_SPELLINGS = [
    "char", "signed char", "unsigned char", "short", "unsigned short", "int", "unsigned int",
    "long", "unsigned long", "long long", "unsigned long long", "float", "double", "_Bool",
    "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t",
    "size_t", "ssize_t", "intptr_t", "uintptr_t", "ptrdiff_t", "wchar_t", "void *", "int *",
    "char **", "FILE *",
]


def _safe(text):
    return "".join(ch if ch.isalnum() else "_" for ch in text)


# one compilation for all of these: measure() caches by source, and every test passes the same list
_SPELLING_DECLS = (
    [S("Sp_" + _safe(t), [("c", "u8"), ("x", t), ("z", "u8")]) for t in C_SPELLINGS]
    + [S("SpArr_" + _safe(t), [("c", "u8"), ("x", t), ("z", "u8")])
       for t in ["unsigned char[4]", "unsigned short[3]", "long long[2]", "double[3]"]]
)


def _spelling_oracle(name):
    return measure(_SPELLING_DECLS)[name]


@pytest.mark.parametrize("spelling", C_SPELLINGS)
def test_c_spelling_field(spelling):
    """A C spelling as a field type lays out like the compiler's type."""
    name = "Sp_" + _safe(spelling)
    want = _spelling_oracle(name)
    cls = fastffi.struct(name, [("c", "u8"), ("x", spelling), ("z", "u8")])
    assert (fastffi.sizeof(cls), fastffi.alignof(cls), fastffi.offsetof(cls, "x"), fastffi.offsetof(cls, "z")) == (
        want.size, want.align, want.offsets["x"], want.offsets["z"],
    )


@pytest.mark.parametrize("spelling", ["unsigned char[4]", "unsigned short[3]", "long long[2]", "double[3]"])
def test_c_spelling_array_field(spelling):
    name = "SpArr_" + _safe(spelling)
    want = _spelling_oracle(name)
    cls = fastffi.struct(name, [("c", "u8"), ("x", spelling), ("z", "u8")])
    assert (fastffi.sizeof(cls), fastffi.alignof(cls), fastffi.offsetof(cls, "x"), fastffi.offsetof(cls, "z")) == (
        want.size, want.align, want.offsets["x"], want.offsets["z"],
    )


_SCALAR_NAMES = ["i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "pointer",
                 "char", "short", "int", "long", "long long", "size_t", "double", "float", "void *", "wchar_t"]
_SCALAR_DECLS = [S("Scalar_" + _safe(t), [("c", "u8"), ("x", t)]) for t in _SCALAR_NAMES]


@pytest.mark.parametrize("type_name", _SCALAR_NAMES)
def test_scalar_sizeof_alignof(type_name):
    """sizeof/alignof of a type name equal the compiler's (alignment measured as the offset after a char)."""
    want = measure(_SCALAR_DECLS)["Scalar_" + _safe(type_name)]
    assert fastffi.sizeof(type_name) == want.size - want.offsets["x"]
    assert fastffi.alignof(type_name) == want.offsets["x"]


def test_struct_of_struct_is_the_same_class_layout():
    """A nested class contributes its own size and alignment, not a re-derived one."""
    inner = fastffi.struct("InnerP", [("a", "u8"), ("b", "u32")], pack=1)
    outer = fastffi.struct("OuterP", [("x", "u8"), ("in_", inner), ("y", "u16")])
    want = measure([S("OuterP", [("x", "u8"), ("in_", S("InnerP", [("a", "u8"), ("b", "u32")], pack=1)), ("y", "u16")])])
    assert fastffi.sizeof(outer) == want["OuterP"].size
    assert fastffi.offsetof(outer, "in_") == want["OuterP"].offsets["in_"]
    assert fastffi.offsetof(outer, "y") == want["OuterP"].offsets["y"]


# --- generated tables, measured in batches -----------------------------------------------------------------

_names = itertools.count()

GEN_SCALARS = [
    "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64", "bool", "pointer",
    "char", "unsigned char", "short", "unsigned short", "int", "unsigned int", "long", "long long",
    "float", "double", "size_t", "int16_t", "uint32_t",
    "c64", "c128", "longdouble", "long double", "double _Complex", "_Complex float",   # issue 16
]


@st.composite
def decl_strategy(draw, depth=0):
    n = draw(st.integers(min_value=1, max_value=7))
    fields = []
    for i in range(n):
        choice = draw(st.sampled_from(["scalar"] * 6 + ["array", "array_str"] + (["nested", "nested_array"] if depth < 2 else [])))
        if choice == "scalar":
            ftype = draw(st.sampled_from(GEN_SCALARS))
        elif choice == "array":
            ftype = (draw(st.sampled_from(GEN_SCALARS)), draw(st.integers(1, 5)))
        elif choice == "array_str":
            ftype = f"{draw(st.sampled_from(['i8', 'u8', 'i16', 'u16', 'i32', 'f32', 'f64', 'u64']))}[{draw(st.integers(1, 9))}]"
        elif choice == "nested":
            ftype = draw(decl_strategy(depth + 1))
        else:
            ftype = (draw(decl_strategy(depth + 1)), draw(st.integers(1, 3)))
        fields.append((f"f{i}", ftype))
    kind = draw(st.sampled_from(["struct", "struct", "struct", "union"]))
    pack = draw(st.sampled_from([None, None, None, 1, 2, 4, 8, 16]))
    return Decl(f"G{next(_names)}", tuple(fields), kind, pack)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(decl_strategy(), min_size=8, max_size=24))
def test_generated_layouts(batch):
    assert_layouts_match(batch)


# --- huge arrays: no per-element work at definition ---------------------------------------------------------

_HUGE = [
    S("HugeBytes", [("a", "u8[4000000]")]),
    S("HugeMixed", [("c", "u8"), ("a", "u64[4000000]"), ("z", "u16")]),
    S("HugeOfStructs", [("c", "u8"), ("pts", (_P, 1000000)), ("z", "u8")]),
    S("HugePacked", [("c", "u8"), ("a", "u32[4000000]"), ("z", "u8")], pack=1),
    U("HugeUnion", [("i", "i32"), ("b", "u8[4000001]")]),
]


def _time_build(decl):
    import time
    t0 = time.perf_counter()
    cls = build(decl)
    return cls, time.perf_counter() - t0


@pytest.mark.parametrize("decl", _HUGE, ids=[d.name for d in _HUGE])
def test_huge_array_layout_is_immediate_and_matches_the_compiler(decl):
    """Defining a struct with a multi-million element array does constant work per member (it
    took seconds when the layout was flattened element by element). The bound is generous for a
    loaded machine; the definition itself takes well under a millisecond."""
    for inner in _all_decls([decl])[:-1]:
        build(inner)                      # nested classes first, outside the timing
    cls, seconds = _time_build(decl)
    assert seconds < 0.05
    assert_layouts_match([decl], batch=_HUGE)
    lay = cls._layout_
    assert (lay.misaligned, lay.has_union) == (decl.pack == 1, decl.kind == "union")


def test_huge_array_by_pointer_and_instance():
    huge = fastffi.struct("HugeUse", [("n", "u32"), ("a", "u8[4000000]")])
    h = huge(n=7)
    h.a[3999999] = 255
    assert (h.n, h.a[3999999], len(h.a), fastffi.sizeof(h)) == (7, 255, 4000000, 4000004)


def _misaligned_by_leaves(lay):
    return any(leaf.offset % leaf.type.align for leaf in lay.leaves)


def _residues_by_leaves(lay):
    return {(leaf.type.align, leaf.offset % leaf.type.align) for leaf in lay.leaves}


def test_misaligned_of_arrays_of_packed_structs():
    """Element 0 of an array can be aligned while element 1 is not: a packed struct's size need
    not be a multiple of its members' alignment."""
    inner = fastffi.struct("MisInner", [("i", "i32"), ("c", "u8")], pack=1)   # 5 bytes, i at 0
    one = fastffi.struct("MisOne", [("x", (inner, 1))])
    two = fastffi.struct("MisTwo", [("x", (inner, 2))])
    none = fastffi.struct("MisNone", [("c", "u8"), ("x", (inner, 0))])
    assert (inner._layout_.misaligned, one._layout_.misaligned, two._layout_.misaligned) == (False, False, True)
    assert none._layout_.misaligned is False
    # misaligned inside, aligned again where it is placed: i64 at 4 of a packed struct, placed at 4
    packed = fastffi.struct("MisPacked", [("i", "i32"), ("q", "i64"), ("c", "i8")], pack=1)
    outer = fastffi.struct("MisOuter", [("s", "i16"), ("p", packed)])
    assert (packed._layout_.misaligned, fastffi.offsetof(outer, "p"), outer._layout_.misaligned) == (True, 2, True)
    outer4 = fastffi.struct("MisOuter4", [("s", "i32"), ("p", packed)], pack=4)
    assert (fastffi.offsetof(outer4, "p"), outer4._layout_.misaligned) == (4, False)
    for cls in (inner, one, two, none, packed, outer, outer4):
        assert cls._layout_.misaligned == _misaligned_by_leaves(cls._layout_)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(decl_strategy())
def test_misaligned_and_leaf_residues_agree_with_the_flat_leaves(decl):
    """The per-member derivation equals the definition over every expanded leaf (a nested
    aggregate's misaligned leaf can be aligned again by its offset: the derivation must keep
    residues, not one bit)."""
    for d in _all_decls([decl]):
        lay = build(d)._layout_
        assert lay.misaligned == _misaligned_by_leaves(lay), c_declaration(d)
        assert lay.leaf_residues == _residues_by_leaves(lay), c_declaration(d)
