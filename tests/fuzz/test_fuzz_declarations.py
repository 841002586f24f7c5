"""Fuzz (a): the declaration parser on mutated C text.

Every entry point that reads C text -- ``fastffi.function(address, text)``,
``lib.function(text)``, type strings (``fastffi.sizeof``, ``fastffi.new``) and struct field
specs -- either succeeds or raises one of the documented classes: SignatureError (a
ValueError), TypeError, ValueError, and for ``lib.function`` SymbolError (the name is not in
the library).  Any other exception, a hang or a crash fails.  The texts are valid
declarations (the corpus below) mutated token by token and character by character."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

import fastffi
import fuzzing

CORPUS = [
    "int32_t add_i32(int32_t a, int32_t b)",
    "unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned int len)",
    "double frexp(double x, int *exp)",
    "long strtol(const char *s, char **end, int base)",
    "void *memset(void *s, int c, size_t n)",
    "char *strdup(const char *)",
    "int stat(const char *path, struct stat *buf)",
    "int sqlite3_open(const char *filename, sqlite3 **ppDb)",
    "int32_t call_binop_i32(int32_t (*f)(int32_t, int32_t), int32_t a, int32_t b)",
    "void noop(void)",
    "_Bool id_bool(_Bool x)",
    "signed char f(unsigned short a, long long b, float c, double d)",
    "enum color { RED, GREEN = 2, BLUE = GREEN << 3 } pick(enum color c)",
    "const char *echo_str(const char *s)",
    "uint64_t sum_u8_buf(const uint8_t *p, int64_t n)",
    "void f(int a[], double b[4], const volatile int * restrict c)",
    "ssize_t read(int fd, void *buf, size_t count)",
    "pid_t getpid(void)",
    "static inline int g(int)",
    "struct Point make_point(double x, double y)",
    "double _Complex cexp(double _Complex z)",
    "float complex fe_c64_id(float complex z)",
    "long double frexpl(long double x, int *exp)",
    "__int128 i128_id(__int128 x)",
    "unsigned __int128 u128_not(unsigned __int128 x)",
    "size_t wcslen(const wchar_t *s)",
    "c128 f(c64 a, longdouble b, i128 c, u128 d, wstring e)",
]

TOKENS = [
    "int", "unsigned", "signed", "char", "short", "long", "float", "double", "void", "_Bool", "bool",
    "const", "volatile", "restrict", "static", "extern", "inline", "typedef", "struct", "union", "enum",
    "size_t", "int32_t", "uint8_t", "pid_t", "FILE", "i32", "u64", "pointer", "string", "long double",
    "_Complex", "complex", "__int128", "wchar_t", "c64", "c128", "longdouble", "i128", "u128", "wstring",
    "f80", "f128", "__attribute__((packed))", "*", "**", "(", ")", "[", "]", "[4]", "{", "}", ",", ";", "...",
    ":", ":3", "=", "0", "1", "-1", "0x7fffffffffffffff", "1 << 63", "1/0", "'a'", '"s"', "x", "f", "_",
    "a1", "#define", "\\", "\n", "\t", "\x00", "\u00e9", "\ud800", "/*", "*/", "//", " ",
]

#: Array bounds and enum sizes a mutation may grow without limit: a type string like
#: "u8[99999999]" takes time in proportion to its element count today (issue 12 item 12,
#: tests/fuzz/test_fuzz_known_crashes.py), so the struct-field target sees small bounds only.
_BIG_NUMBER = re.compile(r"\d{5,}|0x[0-9a-fA-F]{4,}|<<")

ALLOWED = (fastffi.SignatureError, TypeError, ValueError)


@st.composite
def mutated(draw) -> str:
    """A corpus declaration with up to 8 token- or character-level edits, or random tokens."""
    if draw(st.integers(0, 9)) == 0:
        return "".join(draw(st.lists(st.sampled_from(TOKENS), max_size=20)))
    return draw(fuzzing.mutated_text(CORPUS, TOKENS, repeat=4, characters=True))


def _expect_documented(call, *allowed):
    try:
        return call()
    except ALLOWED + allowed:
        return None


@fuzzing.settings_for()
@given(text=mutated())
def test_mutated_declarations_raise_only_documented_errors(fixture_lib, text):
    address = fixture_lib.symbol("noop")   # never called: only the text is under test
    fn = _expect_documented(lambda: fastffi.function(address, text))
    if fn is not None:
        # A signature that parsed is a whole function: its description must build too.
        assert isinstance(fn.explain(), str)
    _expect_documented(lambda: fixture_lib.function(text), fastffi.SymbolError)
    fuzzing.tick("declarations", 2)


@fuzzing.settings_for()
@given(text=mutated(), count=st.one_of(st.none(), st.integers(0, 64)))
def test_mutated_type_strings_raise_only_documented_errors(text, count):
    # The text as a type string: its tail after the name, as people write "const char *".
    spec = text.split("(")[0].rsplit(" ", 1)[0] if "(" in text else text
    size = _expect_documented(lambda: fastffi.sizeof(spec))
    if size is not None:
        assert isinstance(size, int) and size >= 0
    calls = 1
    if not _BIG_NUMBER.search(spec):
        field = spec if count is None else (spec, count)
        _expect_documented(lambda: fastffi.struct("Fuzzed", [("a", "i32"), ("b", field)]))
        _expect_documented(lambda: fastffi.union("Fuzzed", [("b", field)]))
        value = _expect_documented(lambda: fastffi.new(spec))
        if value is not None:
            assert fastffi.sizeof(value) == size
        calls += 3
    fuzzing.tick("type strings", calls)


@fuzzing.settings_for(0.5)
@given(name=st.text(max_size=12), spec=st.sampled_from(CORPUS + TOKENS), key=st.text(max_size=8))
def test_random_names_and_types_mappings_raise_only_documented_errors(fixture_lib, name, spec, key):
    address = fixture_lib.symbol("noop")
    _expect_documented(lambda: fastffi.struct(name, [(name, "i32")]))
    _expect_documented(lambda: fastffi.function(address, spec, types={key: "i32"}))
    _expect_documented(lambda: fastffi.function(address, "i32", [spec], name=name or None))
    fuzzing.tick("names", 3)
