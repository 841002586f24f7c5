"""C declarations: every spelling of the Types table maps to its canonical name, what is not
supported is refused with a pointed message, and struct names resolve through fastffi.define()
and types=.

Declarations are only parsed here (the declared symbol is libc's `abs`, never called with the
declared signature)."""
from __future__ import annotations

import itertools
import platform
import subprocess
import sys
import textwrap

import pytest

import fastffi

MACHINE = platform.machine()
SYM = "abs"  # exists in libc; the declaration's types are what is under test

SPELLINGS = [
    ("_Bool", "bool"), ("bool", "bool"),
    ("int8_t", "i8"), ("int16_t", "i16"), ("int32_t", "i32"), ("int64_t", "i64"),
    ("signed char", "i8"), ("short", "i16"), ("short int", "i16"), ("signed short", "i16"),
    ("int", "i32"), ("signed", "i32"), ("signed int", "i32"), ("const int", "i32"),
    ("long", "i64"), ("long int", "i64"), ("signed long", "i64"),
    ("long long", "i64"), ("long long int", "i64"),
    ("ssize_t", "i64"), ("intptr_t", "i64"), ("ptrdiff_t", "i64"),
    ("uint8_t", "u8"), ("uint16_t", "u16"), ("uint32_t", "u32"), ("uint64_t", "u64"),
    ("unsigned char", "u8"), ("unsigned short", "u16"), ("unsigned short int", "u16"),
    ("unsigned", "u32"), ("unsigned int", "u32"),
    ("unsigned long", "u64"), ("unsigned long int", "u64"),
    ("unsigned long long", "u64"), ("unsigned long long int", "u64"),
    ("size_t", "u64"), ("uintptr_t", "u64"),
    ("float", "f32"), ("double", "f64"), ("const double", "f64"),
    ("enum color", "i32"),
    ("void *", "pointer"), ("const void *", "pointer"), ("void **", "pointer"),
    ("int *", "pointer"), ("double *", "pointer"), ("unsigned char *", "pointer"),
    ("const unsigned char *", "pointer"), ("signed char *", "pointer"),
    ("FILE *", "pointer"), ("sqlite3 *", "pointer"), ("struct tm *", "pointer"),
    ("const struct tm *", "pointer"), ("struct never_seen **", "pointer"),
    ("char **", "pointer"), ("const char **", "pointer"), ("char *const *", "pointer"),
    ("int (*)(void *, int)", "pointer"),
    ("char *", "string"), ("const char *", "string"), ("char const *", "string"),
]

PLATFORM_SPELLINGS = {
    "x86_64": [("char", "i8"), ("wchar_t", "i32")],
    "aarch64": [("char", "u8"), ("wchar_t", "u32")],
}



def _param(spelling, name):
    """`T name` for an ordinary type, `R (*name)(A)` for a function pointer."""
    if "(*)" in spelling:
        return spelling.replace("(*)", f"(*{name})")
    return f"{spelling} {name}" if not spelling.endswith("*") else f"{spelling}{name}"


@pytest.mark.parametrize("spelling, canonical", SPELLINGS, ids=[s for s, _ in SPELLINGS])
def test_argument_spelling(libc, spelling, canonical):
    fn = libc.function(f"int {SYM}({_param(spelling, 'x')})")
    assert fn.argtypes == (canonical,)
    assert fn.restype == "i32"
    unnamed = libc.function(f"int {SYM}({spelling})")
    assert unnamed.argtypes == (canonical,)


@pytest.mark.parametrize("spelling, canonical",
                         [s for s in SPELLINGS if "(*)" not in s[0]],
                         ids=[s for s, _ in SPELLINGS if "(*)" not in s])
def test_return_spelling(libc, spelling, canonical):
    sep = "" if spelling.endswith("*") else " "
    fn = libc.function(f"{spelling}{sep}{SYM}(void)")
    assert fn.restype == canonical
    assert fn.argtypes == ()


@pytest.mark.parametrize("spelling, canonical",
                         [s for s in SPELLINGS if "(*)" not in s[0]],
                         ids=[s for s, _ in SPELLINGS if "(*)" not in s])
def test_spelling_in_list_form(libc, spelling, canonical):
    fn = libc.function(SYM, spelling, [spelling, canonical])
    assert fn.restype == canonical
    assert fn.argtypes == (canonical, canonical)


@pytest.mark.parametrize("spelling, canonical", PLATFORM_SPELLINGS.get(MACHINE, []))
def test_platform_integers(libc, spelling, canonical):
    assert libc.function(f"int {SYM}({spelling} c)").argtypes == (canonical,)
    assert libc.function(f"{spelling} {SYM}(void)").restype == canonical
    assert libc.function(SYM, spelling, [spelling]).argtypes == (canonical,)


def test_platform_is_known():
    assert MACHINE in PLATFORM_SPELLINGS, f"no char/wchar_t expectation for {MACHINE}"


def test_void_return_and_empty_parameter_lists(libc):
    f_void = libc.function(f"void {SYM}(void)")
    f_empty = libc.function(f"void {SYM}()")
    assert f_void.restype == "void" and f_empty.restype == "void"
    assert f_void.argtypes == () and f_empty.argtypes == ()
    assert libc.function(SYM, "void", []).argtypes == ()


def test_many_parameters_named_and_unnamed(libc):
    fn = libc.function(f"unsigned long {SYM}(unsigned long crc, const unsigned char *buf, unsigned int len)")
    assert fn.restype == "u64"
    assert fn.argtypes == ("u64", "pointer", "u32")
    fn = libc.function(f"double {SYM}(int, double, char *, FILE *, struct tm *, size_t, _Bool, float)")
    assert fn.argtypes == ("i32", "f64", "string", "pointer", "pointer", "u64", "bool", "f32")


def test_whitespace_and_trailing_semicolon(libc):
    fn = libc.function(f"  unsigned   long\n{SYM} ( const char * s ,int  n ) ;  ")
    assert fn.restype == "u64"
    assert fn.argtypes == ("string", "i32")
    assert fn.__name__ == SYM


@pytest.mark.parametrize("text, n", [
    ("int abs(int); long labs(long)", 2),
    ("int abs(int); long labs(long);", 2),
    ("int abs(int), labs(int)", 2),
    ("int abs(int); int x; long labs(long)", 3),
])
def test_one_declaration_per_string(libc, text, n):
    # The last declaration used to win silently: labs was bound under abs's text.
    with pytest.raises(fastffi.SignatureError) as e:
        libc.function(text)
    assert str(e.value) == (f"one declaration per string: {text.rstrip(';')!r} declares {n} "
                            f"(declare each function in its own string)")
    with pytest.raises(fastffi.SignatureError, match="one declaration per string"):
        fastffi.dlopen(None, {"abs": text})


def test_a_type_text_names_one_type():
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.sizeof("int x; int")
    assert str(e.value) == "not a single type: 'int x; int'"


def test_name_comes_from_the_declaration(libc):
    fn = libc.function("int abs(int)")
    assert fn.__name__ == "abs"
    assert fn.address == libc.symbol("abs")
    assert fn(-3) == 3


def test_canonical_names_and_spellings_mix_in_list_form(libc):
    fn = libc.function(SYM, "long long", ["i8", "unsigned short", "FILE *", "char *", "f32"])
    assert fn.restype == "i64"
    assert fn.argtypes == ("i8", "u16", "pointer", "string", "f32")


def test_declarations_repeat_consistently(libc):
    # parsed declarations may be cached: the same text must keep giving the same answer
    for _ in range(3):
        assert libc.function("double abs(double, int *)").argtypes == ("f64", "pointer")


# ---------------------------------------------------------------- not supported

def _split(message, decl):
    """(first line, caret column) of a pointed message: docs/errors.md says the first line is
    followed by "a line with the declaration and a line with a caret under the offending token"."""
    lines = message.split("\n")
    assert len(lines) == 3, f"expected 3 lines, got {message!r}"
    first, line2, line3 = lines
    assert line2 == decl, f"second line is not the declaration: {line2!r}"
    assert line3.rstrip().lstrip(" ") == "^", f"third line is not one caret: {line3!r}"
    return first, line3.index("^")


def test_long_double_complex_exact_message(libc):
    decl = f"double {SYM}(long double _Complex x)"
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(decl)
    col = decl.index("long double")
    assert str(info.value) == f"long double _Complex is not supported yet\n{decl}\n{' ' * col}^"


def test_long_double_and_complex_declare(libc):
    # issue 16: these are types now (tests/test_floats_ext.py calls them)
    assert str(libc.function(f"long double {SYM}(long double x)").__doc__) == f"long double {SYM}(long double x);"
    assert libc.function(SYM, "f64", ["long double"]).argtypes == ("longdouble",)
    assert libc.function(f"double complex {SYM}(float complex)").argtypes == ("c64",)
    assert libc.function(f"_Complex double {SYM}(double _Complex)").restype == "c128"


@pytest.mark.parametrize("decl, token", [
    (f"int {SYM}(FILE f)", "FILE"),
    (f"int {SYM}(int a, struct tm t)", "struct tm"),
    (f"struct tm {SYM}(int)", "struct tm"),
    (f"sqlite3 {SYM}(void)", "sqlite3"),
    (f"int {SYM}(union never_seen u)", "union never_seen"),
])
def test_not_supported_points_at_the_token(libc, decl, token):
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(decl)
    first, col = _split(str(info.value), decl)
    assert first.endswith(" is not supported yet"), first
    # the caret sits under the token; for `struct tm` either under `struct` or under the tag
    cols = {decl.index(token)}
    if " " in token:
        cols.add(decl.index(token) + token.index(" ") + 1)
    assert col in cols


def test_bitfields_not_supported(libc):
    decl = f"int {SYM}(struct bits {{ int a : 3; int b : 5; }} s)"
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(decl)
    lines = str(info.value).split("\n")
    assert lines[0].endswith(" is not supported yet"), lines[0]
    assert len(lines) == 3 and lines[1] == decl and lines[2].strip() == "^"


def test_unknown_type_name_in_list_form(libc):
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(SYM, "i32", ["i32", "no_such_type"])
    assert str(info.value) == "unknown type 'no_such_type'"
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(SYM, "imaginary_t", [])
    assert str(info.value) == "unknown type 'imaginary_t'"


def test_void_argument(libc):
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(SYM, "i32", ["void"])
    assert str(info.value) == "void is not a valid argument type"
    with pytest.raises(fastffi.SignatureError) as info:
        libc.function(SYM, "i32", ["i32", "void"])
    assert str(info.value) == "void is not a valid argument type"


def test_malformed_declaration_is_a_signature_error(libc):
    with pytest.raises(fastffi.SignatureError):
        libc.function("int abs(int")
    with pytest.raises(fastffi.SignatureError):
        libc.function("int abs(int x y)")
    with pytest.raises(fastffi.SignatureError):
        libc.function("int abs(int) garbage(")


def test_the_parser_is_loaded_only_to_parse():
    """pycparser is imported by the first declaration the fast path (cdecl/fastdecl.py) cannot
    read, not by import fastffi, the list form or a declaration of a common shape."""
    script = textwrap.dedent(f"""
        import sys, fastffi
        libc = fastffi.dlopen(None)
        libc.function("{SYM}", "i32", ["int"])
        print("pycparser" in sys.modules)
        libc.function("int {SYM}(int)")
        print("pycparser" in sys.modules)
        libc.function("int {SYM}(int a[4])")
        print("pycparser" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True"]


# ---------------------------------------------------------------- registered structs

def _unique(prefix, counter=itertools.count()):
    return f"{prefix}{next(counter)}"


def test_define_registers_both_spellings(libc):
    name = _unique("DeclRec")
    rec = fastffi.struct(name, [("id", "u32"), ("x", "f64")])
    # not registered automatically
    with pytest.raises(fastffi.SignatureError):
        libc.function(f"{name} {SYM}(int)")
    fastffi.define(name, rec)
    a = libc.function(f"{name} {SYM}(struct {name} r, {name} *p, const struct {name} *q)")
    assert a.restype is rec
    assert a.argtypes == (rec, "pointer", "pointer")
    b = libc.function(f"struct {name} {SYM}(void)")
    assert b.restype is rec
    assert libc.function(SYM, name, [name, f"struct {name}"]).argtypes == (rec, rec)
    # the same class again is fine
    fastffi.define(name, rec)


def test_declarations_follow_the_registry_as_it_changes(libc):
    """Parsed declarations are cached; undefine/define must not leave a stale one."""
    name = _unique("DeclRedef")
    decl = f"struct {name} {SYM}({name} *p)"
    first = fastffi.struct(name, [("a", "i32")])
    fastffi.define(name, first)
    assert libc.function(decl).restype is first
    assert libc.function(decl).restype is first          # cached
    fastffi.undefine(name)
    with pytest.raises(fastffi.SignatureError,
                       match=f"^unknown type 'struct {name}' used by value is not supported yet"):
        libc.function(decl)
    second = fastffi.struct(name, [("a", "i64"), ("b", "f64")])
    fastffi.define(name, second)
    assert libc.function(decl).restype is second


def test_define_existing_name_with_different_layout_raises():
    name = _unique("DeclClash")
    first = fastffi.struct(name, [("a", "i32")])
    fastffi.define(name, first)
    other = fastffi.struct(name, [("a", "i64")])
    with pytest.raises((fastffi.FFIError, ValueError)):
        fastffi.define(name, other)
    reordered = fastffi.struct(name, [("a", "i32"), ("b", "i32")])
    with pytest.raises((fastffi.FFIError, ValueError)):
        fastffi.define(name, reordered)


def test_types_per_call_wins_over_registry(libc):
    name = _unique("DeclWin")
    registered = fastffi.struct(name, [("x", "f64")])
    local = fastffi.struct(name, [("x", "f64"), ("y", "f64")])
    fastffi.define(name, registered)
    fn = libc.function(f"{name} {SYM}(struct {name})", types={name: local})
    assert fn.restype is local
    assert fn.argtypes == (local,)
    assert libc.function(f"{name} {SYM}(void)").restype is registered


def test_types_per_call_without_registration(libc):
    name = _unique("DeclLocal")
    local = fastffi.struct(name, [("i", "i32"), ("d", "f64")])
    fn = libc.function(f"struct {name} {SYM}({name} a, struct {name} *b)", types={name: local})
    assert fn.restype is local
    assert fn.argtypes == (local, "pointer")
    with pytest.raises(fastffi.SignatureError):
        libc.function(f"struct {name} {SYM}(void)")


# ---- nesting limits (fuzz finding: a deep declarator raised RecursionError) ----------

DEEP = [
    ("int f(int" + "*" * 1000 + ")", "more than 128 levels of declarators and operators"),
    ("int" + "*" * 1000 + " f(void)", "more than 128 levels of declarators and operators"),
    ("void f(" + "void (*)(" * 800 + ")" * 800 + ")", "more than 64 levels of brackets"),
    ("int f(int " + "(" * 3000 + "x" + ")" * 3000 + ")", "more than 64 levels of brackets"),
    ("int f(enum {A = " + "+".join(["1"] * 3000) + "} x)", "more than 128 levels of declarators and operators"),
    # pycparser recurses per unary operator: within the bracket limit, past the stack
    ("int f(enum {A = " + "-" * 3000 + "1} x)", "for the Python stack"),
]


@pytest.mark.parametrize("text, why", DEEP, ids=range(len(DEEP)))
def test_a_deep_declaration_is_a_signature_error(text, why):
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.function(1, text)
    assert str(e.value) == f"declaration nests too deeply ({why})"
    # Nothing is left in a bad state: the same thread's next parse works.
    assert fastffi.function(1, "int g(char ***p)").argtypes == ("pointer",)


def test_sizeof_a_deep_pointer_type_is_a_signature_error():
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.sizeof("int" + "*" * 1000)
    assert str(e.value) == "declaration nests too deeply (more than 128 levels of declarators and operators)"
    assert fastffi.sizeof("int" + "*" * 100) == 8
    assert fastffi.sizeof("char ***") == 8


def test_realistic_nesting_parses():
    # signal(): a function returning a pointer to a function, taking one.
    fn = fastffi.function(1, "void (*signal(int sig, void (*handler)(int)))(int)")
    assert fn.argtypes[0] == "i32"
    # C11 5.2.4.1's minimum: 12 declarators, and 63 levels of parentheses.
    fastffi.function(1, "int f(int " + "*" * 12 + "p)")
    fastffi.function(1, "int f(int " + "(" * 63 + "*p" + ")" * 63 + ")")


def test_a_deep_declaration_on_a_deep_stack_is_a_signature_error():
    # Within the limits, but called with little Python stack left.
    def at_depth(n):
        if n:
            return at_depth(n - 1)
        with pytest.raises(fastffi.SignatureError) as e:
            fastffi.function(1, "int h(int " + "(" * 60 + "*p" + ")" * 60 + ")")
        return str(e.value)
    assert at_depth(sys.getrecursionlimit() - 60) == "declaration nests too deeply (for the Python stack)"
    assert fastffi.function(1, "int h(int " + "(" * 60 + "*p" + ")" * 60 + ")").argtypes == ("pointer",)


# ---- C11 6.7p3: one declaration per identifier in a scope ----------------------------

@pytest.mark.parametrize("text, message", [
    ("int f(int x, int x)", "duplicate parameter name 'x'\nint f(int x, int x)\n                 ^"),
    ("int f(int x, const char *y, double *x)",
     "duplicate parameter name 'x'\nint f(int x, const char *y, double *x)\n" + " " * 35 + "^"),
    ("int f(void (*cb)(int y, int y))", "duplicate parameter name 'y'\nint f(void (*cb)(int y, int y))\n"
     + " " * 28 + "^"),
    ("int f(enum {A, B, A} x)", "duplicate enumeration constant 'A': 'int f(enum {A, B, A} x)'"),
])
def test_a_name_declared_twice_in_one_scope_is_refused(text, message):
    with pytest.raises(fastffi.SignatureError) as e:
        fastffi.function(1, text)
    assert str(e.value) == message


def test_names_in_different_scopes_and_unnamed_parameters_are_fine():
    # A function pointer parameter's parameters have their own prototype scope (C11 6.2.1p4).
    assert fastffi.function(1, "int f(int x, int (*cb)(int x))").argtypes == ("i32", "pointer")
    assert fastffi.function(1, "int f(int, int)").argtypes == ("i32", "i32")


def test_a_struct_with_a_field_declared_twice_is_refused():
    # In a declaration, struct bodies are refused outright; fastffi.struct checks names.
    with pytest.raises(fastffi.SignatureError, match="struct definition inside a declaration"):
        fastffi.function(1, "int f(struct S {int a; int a;} *p)")
    with pytest.raises(ValueError) as e:
        fastffi.struct("S", [("a", "i32"), ("a", "i32")])
    assert str(e.value) == "duplicate field name 'a'"
