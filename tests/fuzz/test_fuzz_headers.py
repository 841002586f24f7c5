"""Fuzz (h): the header front end and the fast declaration path.

cdef() on mutated C text either returns a Header whose every entry decodes,
or raises SignatureError (a ValueError), TypeError or ValueError -- no other
exception, no hang, no crash.  The fast declaration path, on mutated
declarations, either declines (None) or gives exactly what the parser gives."""
from __future__ import annotations


from hypothesis import given

import fastffi
import fuzzing
from fastffi.cdecl import parser
from fastffi.cdecl.fastdecl import fast_signature
from fastffi.model.namespace import DEFAULT

CORPUS = [
    "#define A (1 << 3)\n#define S \"x\" \"y\"\n#define F 1.5f\nint f(int, ...);\n",
    "typedef struct p { int x, y; } p_t;\nstruct q { p_t a; unsigned b:3; int :0; char c[4]; };\n",
    "struct __attribute__((packed)) pk { char c; int i; };\nstruct al { int i __attribute__((aligned(16))); };\n",
    "enum e { A, B = 5, C = B * 2 };\nextern int counter;\nextern struct al origin;\n",
    "struct an { int a; union { int u; float f; }; struct { short s; }; char tail[]; };\n",
    "typedef void (*cb_t)(void *);\n#define T ((cb_t)-1)\nlong double ld(long double);\n",
    "static inline int inl(int x) { return x + 1; }\nint g(int) __asm__(\"real_g\");\n",
    "typedef int r_t __attribute__ ((__mode__ (__DI__)));\nstruct bf { long a:40; _Bool b:1; };\n",
    "#include <complex.h>\ndouble complex cexp(double complex);\nstruct z { float _Complex f; long double l; };\n",
    "#include <wchar.h>\nsize_t wcslen(const wchar_t *);\n__int128 h(unsigned __int128, long double _Complex);\n",
]
TOKENS = ["int", "unsigned", "char", "long", "double", "void", "_Bool", "const", "struct", "union", "enum",
          "typedef", "extern", "static", "inline", "__attribute__((packed))", "__asm__(\"x\")", "*", "(", ")",
          "[", "]", "[0]", "{", "}", ",", ";", "...", ":", ":0", ":65", "=", "0", "-1", "1 << 63", "1/0", "'a'",
          '"s"', "x", "#define X", "#define", "#include <a.h>", "#if 1", "\n", "\\\n", "sizeof(int)", "__int128",
          "_Complex", "__builtin_va_list", "_Float128", "complex", "long double", "wchar_t", "unsigned __int128"]


def mutated(corpus):
    return fuzzing.mutated_text(corpus, TOKENS)


@fuzzing.settings_for()
@given(text=mutated(CORPUS))
def test_mutated_cdef_text_raises_only_documented_errors(text):
    try:
        h = fastffi.cdef(text)
    except (fastffi.SignatureError, TypeError, ValueError):
        fuzzing.tick("headers")
        return
    # Every entry of a Header that was made decodes, and says what it is.
    assert isinstance(repr(h), str)
    for entry in list(h.functions.values()) + list(h.variables.values()):
        assert entry is not None
    for name in h.types:
        h.type(name)
    fuzzing.tick("headers")


DECLS = ["int f(int a, const char *b, double c)", "unsigned long crc32(unsigned long, const unsigned char *, unsigned)",
         "void *memset(void *s, int c, size_t n)", "struct stat *g(struct stat *p, FILE *f, ...)",
         "pid_t getpid(void)", "char **argv(int, char **)", "const char *echo(const char *)"]


@fuzzing.settings_for()
@given(text=mutated(DECLS))
def test_the_fast_path_declines_or_agrees(text):
    fast = fast_signature(text, DEFAULT)
    if fast is not None:
        assert parser.function_signature(text, DEFAULT) == fast, text
    fuzzing.tick("fast declarations")
