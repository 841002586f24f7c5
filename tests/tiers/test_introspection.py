"""inspect.signature(fn), fn.__doc__ and help(fn) on Functions (fastffi/tiers/introspection.py)."""
from __future__ import annotations

import inspect
import pydoc
import sys

import pytest

import fastffi

P = inspect.Parameter


@pytest.fixture(scope="module")
def libm():
    return fastffi.dlopen("libm.so.6")



def params(fn):
    return [(p.name, p.kind, p.annotation) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("tier", ["jit", "plan", "libffi"])
def test_declared_names_and_c_types(libm, tier):
    fn = libm.function("double  pow(double x,\n double y)", tier=tier)
    assert fn.__doc__ == "double pow(double x, double y);"
    sig = inspect.signature(fn)
    assert str(sig) == "(x: 'double', y: 'double', /) -> 'double'"
    assert params(fn) == [("x", P.POSITIONAL_ONLY, "double"), ("y", P.POSITIONAL_ONLY, "double")]
    assert inspect.signature(fn) is sig   # made once, then kept


def test_list_form_renders_a_declaration(libm):
    fn = libm.function("fmax", "f64", ["f64", "f64"])
    assert fn.__doc__ == "double fmax(double, double);"
    assert str(inspect.signature(fn)) == "(arg1: 'double', arg2: 'double', /) -> 'double'"
    assert libm.function("ldexp", "f64", ["f64", "i32"]).__doc__ == "double ldexp(double, int32_t);"


def test_void_and_pointer_spellings(libc):
    assert str(inspect.signature(libc.function("int rand(void)"))) == "() -> 'int32_t'"
    strdup = libc.function("char *strdup(const char *s)")
    assert str(inspect.signature(strdup)) == "(s: 'const char *', /) -> 'char *'"
    fclose = libc.function("int fclose(FILE *from)")   # a Python keyword gets a trailing _
    assert params(fclose) == [("from_", P.POSITIONAL_ONLY, "FILE *")]
    rand = libc.function("rand", "i32", [])
    assert rand.__doc__ == "int32_t rand(void);"
    memcpy = libc.function("memcpy", "pointer", ["pointer", "pointer", "u64"])
    assert memcpy.__doc__ == "void * memcpy(void *, void *, uint64_t);"


def test_structs_by_value_and_by_pointer(libc):
    S = fastffi.struct("IntroS", [("x", "f64")])
    U = fastffi.union("IntroU", [("i", "i32")])
    fn = libc.function("abs", "i32", [S, U])
    assert fn.__doc__ == "int32_t abs(struct IntroS, union IntroU);"
    fn = libc.function("int abs(struct IntroS *p, const struct IntroS *q)", types={"struct IntroS": S})
    assert params(fn) == [("p", P.POSITIONAL_ONLY, "struct IntroS *"), ("q", P.POSITIONAL_ONLY, "const struct IntroS *")]


def test_variadic_declaration_and_its_concrete_functions(libc):
    snprintf = libc.function("int snprintf(char *s, size_t n, const char *fmt, ...)")
    assert snprintf.__doc__ == "int snprintf(char *s, size_t n, const char *fmt, ...);"
    assert str(inspect.signature(snprintf)) == "(s: 'char *', n: 'uint64_t', fmt: 'const char *', /, *args) -> 'int32_t'"
    two = snprintf.variadic("int", "double")
    assert two.__doc__ == snprintf.__doc__
    assert [p.name for p in inspect.signature(two).parameters.values()] == ["s", "n", "fmt", "arg4", "arg5"]


def test_dlopen_definitions_and_raw_addresses(libm):
    lib = fastffi.dlopen("libm.so.6", {"cos": "double cos(double angle)", "sin": ("f64", ["f64"])})
    assert lib.cos.__doc__ == "double cos(double angle);"
    assert str(inspect.signature(lib.cos)) == "(angle: 'double', /) -> 'double'"
    assert lib.sin.__doc__ == "double sin(double);"
    raw = fastffi.function(lib.cos.address, "double cosine(double t)")
    assert raw.__doc__ == "double cosine(double t);"
    assert str(inspect.signature(raw)) == "(t: 'double', /) -> 'double'"


def test_signature_binds_like_the_call(libm):
    fn = libm.function("double hypot(double x, double y)")
    sig = inspect.signature(fn)
    assert sig.bind(3.0, 4.0).args == (3.0, 4.0)
    with pytest.raises(TypeError):
        sig.bind(x=3.0, y=4.0)   # positional-only, as the call is


def test_help_shows_the_declaration(libm):
    fn = libm.function("double cbrt(double x)")
    text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
    assert "double cbrt(double x);" in text
    # 3.14's pydoc prints string annotations unquoted
    if sys.version_info >= (3, 14):
        assert "cbrt(x: double, /) -> double" in text
    else:
        assert "cbrt(x: 'double', /) -> 'double'" in text


@pytest.mark.parametrize("form, expected", [
    ("int cmp(const void *a, const void *b)", "(a: 'const void *', b: 'const void *', /) -> 'int32_t'"),
    ("int(const void *, const void *)", "(arg1: 'const void *', arg2: 'const void *', /) -> 'int32_t'"),
    ("int (*)(const void *x, int y)", "(x: 'const void *', y: 'int32_t', /) -> 'int32_t'"),
    (("i64", ["i32", "f64"]), "(arg1: 'int32_t', arg2: 'double', /) -> 'int64_t'"),
    ("void done(void)", "() -> 'void'"),
])
def test_callback_signature(form, expected):
    with fastffi.callback(form, lambda *args: 0) as cb:
        assert str(inspect.signature(cb)) == expected
        assert inspect.signature(cb) is inspect.signature(cb)


def test_callback_signature_matches_its_python_call():
    with fastffi.callback("double twice(double v)", lambda v: 2 * v) as cb:
        sig = inspect.signature(cb)
        assert list(sig.parameters) == ["v"]
        assert cb(*sig.bind(1.5).args) == 3.0


def test_a_declaration_on_a_library_bound_to_a_header():
    z = fastffi.dlopen("libz.so.1", fastffi.include("zlib.h"))
    crc = z.function("uLong crc32(uLong crc, const Bytef *buf, uInt len)")   # the header's typedef names
    assert crc(0, b"abc", 3) == 0x352441C2
    assert str(inspect.signature(crc)) == "(crc: 'uint64_t', buf: 'const uint8_t *', len: 'uint32_t', /) -> 'uint64_t'"
