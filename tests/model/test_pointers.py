"""function_key: when a callback's signature matches a function-pointer type
(C11 6.7.6.3p15, with const ignored as the issue asks)."""
import pytest

import fastffi
from conftest import raises_exact
from fastffi.cdecl.spelling import parse_declaration, parse_function_type, resolve_type
from fastffi.model.pointers import FunctionType, function_key, pointer_to
from fastffi.model.scalars import SCALARS


def key(text):
    return function_key(resolve_type(text))


@pytest.mark.parametrize("a, b", [
    ("int (*)(const void *, const void *)", "int (*)(void *, void *)"),          # const ignored
    ("int (*)(const int, int)", "int (*)(int, const int)"),                      # top-level qualifiers too
    ("int (*)(int a, int b)", "int (*)(int, int)"),                              # names ignored
    ("long (*)(pid_t)", "int64_t (*)(int)"),                                     # typedefs resolved
    ("void (*)(int (*)(const char *))", "void (*)(int (*)(char *))"),             # nested, by key
    ("int (*)(int[3])", "int (*)(int *)"),                                        # parameters decay
    ("int (*)(void)", "int (*)()"),
    ("void *(*)(void *)", "const void *(*)(pointer)"),                           # 'pointer' is void *
    ("char *(*)(string)", "const char *(*)(const char *)"),                      # 'string' is char *
    ("int (*)(FILE *)", "int (*)(const FILE *)"),
])
def test_equal_keys(a, b):
    assert key(a) == key(b)
    assert hash(key(a)) == hash(key(b))


@pytest.mark.parametrize("a, b", [
    ("int (*)(int, int)", "int (*)(int, long)"),
    ("int (*)(int)", "unsigned (*)(int)"),
    ("int (*)(int)", "int (*)(int, int)"),
    ("void (*)(int)", "int (*)(int)"),
    ("int (*)(void *)", "int (*)(int *)"),
    ("int (*)(int *)", "int (*)(int **)"),
    ("int (*)(char *)", "int (*)(signed char *)"),        # string and pointer kinds differ
    ("int (*)(float)", "int (*)(double)"),
    ("void (*)(int (*)(int))", "void (*)(int (*)(long))"),
    ("int (*)(FILE *)", "int (*)(DIR *)"),
    ("int (*)(const char *, ...)", "int (*)(const char *)"),
])
def test_unequal_keys(a, b):
    assert key(a) != key(b)


def test_a_signature_a_function_type_and_a_pointer_agree():
    ptr = resolve_type("int (*)(const void *, const void *)")
    assert function_key(parse_function_type("int cmp(const void *a, const void *b)")) == function_key(ptr)
    assert function_key(ptr.pointee) == function_key(ptr)
    assert function_key(parse_function_type(("i32", ["pointer", "pointer"]))) == function_key(ptr)


def test_variadic_signature_compares_by_its_fixed_part():
    printf_t = resolve_type("int (*)(const char *, ...)")
    sig = parse_declaration("int printf(const char *, ...)")
    assert function_key(sig) == function_key(printf_t)
    per_types = sig._replace(argtypes=sig.argtypes + (SCALARS["i32"],))   # a per-types Function's signature
    assert function_key(per_types) == function_key(printf_t)


def test_structs_compare_by_tag_and_layout():
    # C11 6.2.7: structs are compatible when their tags and members agree -- a
    # class made again with the same layout (a second cdef of the header) is
    # the same type; another tag is not, whatever its members.
    A = fastffi.struct("key_a", [("x", "i32"), ("y", "f64")])
    A2 = fastffi.struct("key_a", [("x", "i32"), ("y", "f64")])
    B = fastffi.struct("key_b", [("x", "i32"), ("y", "f64")])
    A3 = fastffi.struct("key_a", [("x", "i32"), ("y", "f32")])
    by_value = lambda s: function_key(parse_function_type(("void", [s])))   # noqa: E731
    by_pointer = lambda s: function_key(FunctionType(SCALARS["i32"], (pointer_to(s),)))   # noqa: E731
    for k in (by_value, by_pointer):
        assert k(A) == k(A2)
        assert k(A) != k(B)
        assert k(A) != k(A3)


def test_refuses_what_is_not_a_function():
    with raises_exact(TypeError, "function_key() expected a function type or a signature, got <fastffi type i32>"):
        function_key(SCALARS["i32"])
