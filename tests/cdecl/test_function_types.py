"""Function types and function-pointer types as C text: a callback's signature
(parse_function_type), type names everywhere a type goes, typedefs of them."""
import pytest

import fastffi
from conftest import raises_exact
from fastffi.cdecl.spelling import parse_declaration, parse_function_type, resolve_type
from fastffi.errors import SignatureError
from fastffi.model.pointers import FunctionType
from fastffi.model.scalars import SCALARS, VOID
from fastffi.model.signature import Signature

I32, F64, PTR = SCALARS["i32"], SCALARS["f64"], SCALARS["pointer"]


@pytest.fixture
def cmp_t():
    fastffi.define("cmp_t", "int (*)(const void *, const void *)")
    yield "cmp_t"
    fastffi.undefine("cmp_t")


@pytest.mark.parametrize("text, name", [
    ("int(const void *, const void *)", "callback"),
    ("int (*)(const void *, const void *)", "callback"),
    ("int cmp(const void *a, const void *b)", "cmp"),
    ("int (*cmp)(const void *a, const void *b)", "cmp"),
    ("  int cmp(const void *, const void *);  ", "cmp"),
])
def test_every_spelling_gives_the_signature(text, name):
    sig = parse_function_type(text)
    assert sig == Signature(name, I32, (resolve_type("const void *"), resolve_type("const void *")))
    assert sig.argtypes[0].const and sig.argtypes[0].pointee is VOID
    assert sig.nfixed is None


def test_a_typedef_name_of_a_function_pointer_type(cmp_t):
    assert parse_function_type(cmp_t) == parse_function_type("int (*)(const void *, const void *)")
    # The pointer type object itself, as a parameter's type is.
    assert parse_function_type(resolve_type(cmp_t)) == parse_function_type("int(const void *, const void *)")


def test_restype_argtypes_form():
    assert parse_function_type(("f64", ["double", "i32"])) == Signature("callback", F64, (F64, I32))
    assert parse_function_type(("void", [])) == Signature("callback", VOID, ())


def test_restype_argtypes_form_is_cached_when_spelled_in_names():
    # Creating a callback asks again every time: names-only tuples hit the namespace's cache
    # as text does; a type object in the tuple is never a key (it could be a struct class).
    first = parse_function_type(("f64", ["double", "i32"]))
    assert parse_function_type(("f64", ("double", "i32"))) is first
    Pair = fastffi.struct("Pair", [("a", "i32"), ("b", "i32")])
    with_class = parse_function_type(("i32", [Pair]))
    assert with_class == Signature("callback", I32, (Pair,))
    assert parse_function_type(("i32", [Pair])) is not with_class


def test_void_parameter_list_and_results():
    assert parse_function_type("void (void)") == Signature("callback", VOID, ())
    assert parse_function_type("double cb(double, double)") == Signature("cb", F64, (F64, F64))
    s = parse_function_type("char *(*)(const char *, size_t)")
    assert s.restype is resolve_type("char *") and s.argtypes == (resolve_type("const char *"), SCALARS["u64"])


def test_parameters_decay_and_nest():
    s = parse_function_type("void visit(int v[4], int f(int), int (*g)(double))")
    assert s.argtypes[0] is resolve_type("int *")
    assert s.argtypes[1].pointee == FunctionType(I32, (I32,))
    assert s.argtypes[2].pointee == FunctionType(I32, (F64,))


def test_types_mapping():
    s = parse_function_type("handle_t (*)(handle_t)", types={"handle_t": "void *"})
    assert s == Signature("callback", resolve_type("void *"), (resolve_type("void *"),))


def test_cached_apart_from_declarations():
    # parse_declaration refuses a pointer declarator; parse_function_type's
    # cache entry for the same text must not leak into it.
    assert parse_function_type("int (*f)(int)") == Signature("f", I32, (I32,))
    with raises_exact(SignatureError, "not a function declaration: 'int (*f)(int)'"):
        parse_declaration("int (*f)(int)")
    assert parse_function_type("int (*f)(int)") is parse_function_type("int (*f)(int)")


@pytest.mark.parametrize("spec, message", [
    ("int (*)(const char *, ...)",
     "callback 'callback': a variadic callback cannot read its arguments (C has no portable va_list from a "
     "callee's side)"),
    ("int printf(const char *fmt, ...)",
     "callback 'printf': a variadic callback cannot read its arguments (C has no portable va_list from a "
     "callee's side)"),
    (("i32", ["i32", ...]),
     "callback 'callback': a variadic callback cannot read its arguments (C has no portable va_list from a "
     "callee's side)"),
    ("int", "not a function type: 'int'"),
    ("pid_t", "not a function type: 'pid_t'"),
    ("int (**)(int)", "not a function type: 'int (**)(int)'"),
    ("int, int", "not a single type: 'int, int'"),
    ("foo", "unknown type 'foo'\nfoo\n^"),
    ("int (*)(int", "cannot parse declaration: before: ;\nint (*)(int\n           ^"),
    ("int (*)(int) x", "cannot parse declaration: before: x\nint (*)(int) x\n             ^"),
    ("int (*)(void, int)", "void is not a valid argument type\nint (*)(void, int)\n        ^"),
    ("int (*)(foo)", "unknown type 'foo' used by value is not supported yet\nint (*)(foo)\n        ^"),
    ("int (*)(struct s)",
     "unknown type 'struct s' used by value is not supported yet\nint (*)(struct s)\n               ^"),
    ("int (*)(...)", "cannot parse declaration: '...' needs at least one fixed parameter before it "
                     "(C11 6.7.6.3)\nint (*)(...)\n        ^"),
    ("int (*)(int a, int a)", "duplicate parameter name 'a'\nint (*)(int a, int a)\n                   ^"),
])
def test_refusals(spec, message):
    with raises_exact(SignatureError, message):
        parse_function_type(spec)


@pytest.mark.parametrize("spec, exc, message", [
    (42, TypeError, "a callback signature is a C function type, a declaration or (restype, argtypes), got int"),
    (("i32",), TypeError, "a callback signature tuple is (restype, argtypes), got 1 items"),
    (("i32", "i32"), TypeError, "argtypes must be a sequence of types, got str"),
])
def test_wrong_python_types(spec, exc, message):
    with raises_exact(exc, message):
        parse_function_type(spec)


# --- function-pointer types where any type goes -----------------------------------------------------

def test_sizeof_and_alignof():
    assert fastffi.sizeof("int (*)(int)") == 8
    assert fastffi.alignof("void (*)(void)") == 8
    assert fastffi.sizeof("int (*)(const void *, const void *)") == fastffi.sizeof("void *")


def test_type_name_resolves_to_a_typed_pointer():
    t = resolve_type("int (*)(const void *, const void *)")
    assert t.key is PTR
    assert t.pointee == FunctionType(I32, (resolve_type("const void *"),) * 2)
    assert resolve_type("int (*)(const void *, const void *)") is t   # interned


@pytest.mark.parametrize("spec, message", [
    ("int(int)", "array or function type by value is not supported yet\nint(int)\n   ^"),
    ("int (*f)(int)", "not a single type: 'int (*f)(int)' declares 'f'"),
    ("int (*)(int) x", "cannot parse declaration: before: x\nint (*)(int) x\n             ^"),
])
def test_type_name_refusals(spec, message):
    with raises_exact(SignatureError, message):
        resolve_type(spec)


def test_define_and_use_in_declarations(cmp_t):
    t = resolve_type(cmp_t)
    assert t is resolve_type("int (*)(const void *, const void *)")
    sig = parse_declaration("void qsort(void *base, size_t n, size_t size, cmp_t compar)")
    assert sig.argtypes[3] is t
    # and as written out in full, the same type
    sig2 = parse_declaration(
        "void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))")
    assert sig2 == sig
    # a pointer to the typedef'd pointer
    assert resolve_type("cmp_t *").pointee is t


def test_define_again_as_the_same_type(cmp_t):
    t = resolve_type(cmp_t)
    fastffi.define(cmp_t, "int (*)(const void *, const void *)")
    assert resolve_type(cmp_t) is t


def test_struct_fields(cmp_t):
    S = fastffi.struct("sort_spec", [("n", "int"), ("compar", cmp_t), ("hook", "int (*)(int)")])
    assert fastffi.sizeof(S) == 24
    assert fastffi.offsetof(S, "compar") == 8 and fastffi.offsetof(S, "hook") == 16
    assert S._layout_.by_name["compar"].type is resolve_type(cmp_t)
    assert S._layout_.by_name["hook"].type.pointee == FunctionType(I32, (I32,))


def test_struct_field_array_of_function_pointers():
    V = fastffi.struct("vtable4", [("slots", ("void (*)(void)", 4))])
    assert fastffi.sizeof(V) == 32
