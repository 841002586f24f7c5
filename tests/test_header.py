"""fastffi.cdef: every construct of C declaration text, and its errors."""
import pytest

import fastffi
from conftest import raises_exact
from fastffi import SignatureError, sizeof, alignof, offsetof

TEXT = r"""
#define A 1
#define B (A << 3)
#define NAME "ab" "c"
#define RATIO 1.5f
#define NEG (-1U)
#define TWICE(x) ((x) * 2)
typedef struct point { int x, y; } point_t;
typedef void (*destructor)(void *);
#define TRANSIENT ((destructor)-1)
struct __attribute__((packed)) pk { char c; int i; };
struct al { char c; int i __attribute__((aligned(16))); };
struct anon { int a; union { int u; float f; }; struct { short s; }; char tail[]; };
struct nest { struct inner { char c; double d; } in; int n[3]; };
enum color { RED, GREEN = 5, BLUE, LAST = BLUE * 2 };
extern int counter;
extern struct point origin;
int add(int, int);
int printf(const char *, ...);
long double _Complex ld(long double);
static inline int inl(int x) { return x + 1; }
struct bf { int a:3; unsigned b:2; int :0; unsigned char c:4; };
struct ldv { long double _Complex x; };
extern int renamed(int) __asm__("" "real_renamed");
typedef int register_t __attribute__ ((__mode__ (__DI__)));
"""


@pytest.fixture(scope="module")
def h():
    return fastffi.cdef(TEXT)


def test_constants(h):
    c = h.constants
    assert (c["A"], c["B"], c["NAME"], c["RATIO"], c["NEG"], c["TRANSIENT"]) == (1, 8, "abc", 1.5, 2**32 - 1, 2**64 - 1)
    assert (c["RED"], c["GREEN"], c["BLUE"], c["LAST"]) == (0, 5, 6, 12)
    assert "TWICE" not in c and h.macros["TWICE"] == "#define TWICE(x) ((x) * 2)"


def test_types_and_layouts(h):
    point = h.type("point_t")
    assert point is h.type("struct point") and point.__name__ == "point"
    assert (sizeof(h.type("struct pk")), alignof(h.type("struct pk")), offsetof(h.type("struct pk"), "i")) == (5, 1, 1)
    assert (sizeof(h.type("struct al")), offsetof(h.type("struct al"), "i")) == (32, 16)
    assert sizeof(h.type("struct nest")) == 32 and offsetof(h.type("struct nest"), "n") == 16
    assert type(getattr(h.type("struct nest")(), "in")) is h.type("struct inner")
    assert h.type("register_t") is fastffi.types.resolve_type("i64")
    assert h.type("enum color") is fastffi.types.resolve_type("i32")
    assert h.type("destructor").spelling() == "void (pointer) *"


def test_bit_fields(h):
    bf = h.type("struct bf")
    assert (sizeof(bf), alignof(bf)) == (8, 4)
    v = bf(a=-4, b=3, c=15)
    assert (v.a, v.b, v.c) == (-4, 3, 15)
    assert bytes(v) == bytes([0b00011100, 0, 0, 0, 15, 0, 0, 0])
    with pytest.raises(OverflowError, match=r"^bf\.a: 4 does not fit i32:3$"):
        v.a = 4


def test_anonymous_members_read_and_write(h):
    anon = h.type("struct anon")
    assert (sizeof(anon), offsetof(anon, "tail")) == (12, 10)
    v = anon(a=1, u=7, s=3)
    assert (v.a, v.u, v.s) == (1, 7, 3)
    v.f = 1.0
    assert v.u == 0x3F800000


def test_functions_and_refusals(h):
    f = h.functions
    assert str(f["add"]) == "i32 add(i32, i32)"
    assert f["printf"].nfixed == 1
    assert f["ld"].reason == "'long double _Complex': long double _Complex has no fastffi type"
    assert f["inl"].kind == "inline"
    assert h.symbol("renamed") == "real_renamed" and h.symbol("add") == "add"
    assert h.unsupported == {"struct ldv": "'long double _Complex': long double _Complex has no fastffi type"}
    with pytest.raises(SignatureError, match=r"^struct ldv: 'long double _Complex': long double _Complex has no "
                                             r"fastffi type$"):
        h.type("struct ldv")
    with pytest.raises(SignatureError, match=r"^<cdef> declares no type 'struct nothere'$"):
        h.type("struct nothere")


def test_variables_and_repr(h):
    assert h.variables == {"counter": fastffi.types.resolve_type("i32"), "origin": h.type("struct point")}
    assert repr(h) == "<fastffi.Header '<cdef>': 5 functions, 10 constants, 12 types, 2 variables>"


def test_memoised_and_merged(h):
    assert fastffi.cdef(TEXT) is h
    other = fastffi.cdef("#define OTHER 2\nint sub(int, int);")
    both = h + other
    assert both.constants["OTHER"] == 2 and both.constants["A"] == 1 and "sub" in both.functions


@pytest.mark.parametrize("directive", ["#include <stdio.h>", "#if 1", "#ifdef X", "#endif"])
def test_preprocessor_directives_point_to_include(directive):
    word = directive.split()[0]
    with pytest.raises(SignatureError) as e:
        fastffi.cdef(f"int f(int);\n{directive}\n")
    assert str(e.value) == (f"<cdef>:2: {word} needs a preprocessor: cdef() reads declarations only; "
                            f"use fastffi.include() for a header\n{directive}")


def test_syntax_error_has_file_line_and_caret():
    with pytest.raises(SignatureError) as e:
        fastffi.cdef("int f(int);\nint g(int x y);\n")
    assert str(e.value) == "<cdef>:2:13: before: y\nint g(int x y);\n            ^"


def test_types_argument_names_outside_types():
    h = fastffi.cdef("size_t count(thing_t *);\nthing_t make(void);", types={"thing_t": "i64"})
    assert str(h.functions["make"]) == "i64 make()"


def test_bound_to_the_fixture_library(fixture_lib_path):
    h = fastffi.cdef("int add_i32(int a, int b);\n#define SEVEN 7\nint not_exported(void);")
    with fastffi.dlopen(fixture_lib_path, h) as lib:
        assert lib.add_i32(3, 4) == 7 and lib.SEVEN == 7 and lib["add_i32"] is lib.add_i32
        with pytest.raises(fastffi.SymbolError):
            lib.not_exported


def test_enumerators_fold_defines_and_other_enums():
    h = fastffi.cdef("#define BASE 4\nenum a { X = BASE + 1 };\nenum b { Y = X * 2, Z = sizeof(long) };")
    assert (h.constants["X"], h.constants["Y"], h.constants["Z"]) == (5, 10, 8)


def test_an_enumerator_naming_nothing_refuses_its_enum():
    h = fastffi.cdef("enum e { A, B = NOPE };\nenum e pick(enum e);\nint take(enum e *);")
    assert h.constants == {}
    assert h.unsupported == {"enum e": "enumerator 'B' is not an integer constant expression"}
    assert h.functions["pick"].reason == "enumerator 'B' is not an integer constant expression"
    assert str(h.functions["take"]) == "i32 take(pointer)"


def test_cdef_from_threads():
    import threading

    results, errors = {}, []

    def work(i):
        try:
            h = fastffi.cdef(f"struct t{i} {{ int a; char b[{i + 1}]; }};\nint f{i}(struct t{i} *);")
            results[i] = (sizeof(h.type(f"struct t{i}")), str(h.functions[f"f{i}"]))
        except Exception as e:   # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {i: ((4 + i + 1 + 3) // 4 * 4, f"i32 f{i}(pointer)") for i in range(8)}


@pytest.mark.parametrize("decl, reason", [
    ("long double _Complex f(long double);", "'long double _Complex': long double _Complex has no fastffi type"),
    ("_Complex long double f(void);", "'_Complex long double': long double _Complex has no fastffi type"),
    ("int f(int, __builtin_va_list);", "va_list has no fastffi type"),
    ("_Float128 f(void);", "_Float128 has no fastffi type"),
    ("_Complex _Float128 f(void);", "_Complex _Float128 has no fastffi type"),
    ("struct inc; struct inc f(void);", "'struct inc' is incomplete (the header declares no members for it)"),
])
def test_types_fastffi_lacks_refuse_their_function_by_name(decl, reason):
    h = fastffi.cdef(decl + "\nint ok(__int128 *p, long double *q);")
    assert h.functions["f"].reason == reason
    assert str(h.functions["ok"]) == "i32 ok(pointer, pointer)"   # pointers to them still bind


def test_complex_h_with_gnu_source_binds_the_rest():
    h = fastffi.include("complex.h", defines={"_GNU_SOURCE": None})
    assert h.functions["cacosf128"].reason == "_Complex _Float128 has no fastffi type"
    assert str(h.functions["cacos"]) == "c128 cacos(c128)"   # issue 16
    assert h.functions["cacosl"].reason == "'long double _Complex': long double _Complex has no fastffi type"


def test_aligned_takes_a_constant_expression():
    h = fastffi.cdef("struct a { char c; long x __attribute__((aligned(2 * sizeof(long)))); }"
                     " __attribute__((aligned(_Alignof(double) * 4)));")
    a = h.type("struct a")
    assert (sizeof(a), alignof(a), offsetof(a, "x")) == (32, 32, 16)
    h = fastffi.cdef("struct b { int x __attribute__((aligned(3))); };\nint f(struct b);")
    assert h.unsupported == {"struct b": "aligned(3) is not a constant power of two"}


def test_text_the_parser_gives_up_on_is_a_signature_error():
    # Found by tests/fuzz/test_fuzz_headers.py.  pycparser 3.12 says where; 3.11 (what pip gives
    # CPython 3.10) says what without a place; 2.x asserts.
    import pycparser
    version = tuple(int(p) for p in pycparser.__version__.split(".")[:2])
    if version >= (3, 12):
        expected = "<cdef>:2:11: before: }\nstruct y; } p_t;\n          ^"
    elif version >= (3, 0):
        expected = "cannot parse <cdef>: Unmatched '}'"
    else:
        expected = "<cdef>: the C parser gave up on this text (AssertionError)"
    with raises_exact(SignatureError, expected):
        fastffi.cdef("typedef struct p { int x, y; } p_t;\nstruct y; } p_t;\n")


def test_cdef_takes_complex_h_spelling():
    # complex.h's `complex` (a macro for _Complex) as function() takes it: cdef
    # text is not preprocessed, so `double complex z` was a parse error.
    h = fastffi.cdef("double cabs(double complex z);\ntypedef float complex cf;\n"
                     "struct zq { double complex z; complex float f; int complex_count; };\ncf csqrtf(cf);")
    assert str(h.functions["cabs"]) == "f64 cabs(c128)" and str(h.functions["csqrtf"]) == "c64 csqrtf(c64)"
    assert h.type("cf") is fastffi.types.resolve_type("c64")
    zq = h.type("struct zq")
    assert (sizeof(zq), offsetof(zq, "f"), offsetof(zq, "complex_count")) == (32, 16, 24)
    m = fastffi.dlopen("libm.so.6", h)
    assert m.cabs(3 + 4j) == 5.0 and m.csqrtf(-4) == 2j


def test_multi_dimensional_member_is_one_flat_row_major_array():
    # docs/structs.md: no array-of-rows type; the elements are C's, in C's order
    h = fastffi.cdef("struct grid { char c; int m[2][3]; short t[2][2][2]; };")
    grid = h.type("struct grid")
    assert (sizeof(grid), offsetof(grid, "m"), offsetof(grid, "t")) == (44, 4, 28)
    g = grid()
    assert len(g.m) == 6 and len(g.t) == 8
    g.m[1 * 3 + 2] = 7   # C's g.m[1][2]
    assert bytes(g)[4 + 4 * 5:4 + 4 * 6] == (7).to_bytes(4, "little")
