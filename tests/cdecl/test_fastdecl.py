"""The fast declaration path agrees with the C parser on every declaration it
reads (the same Signature: interned types make == an identity check), and
leaves every one it cannot read -- or that is wrong -- to the parser."""
import itertools
import random

import pytest

import fastffi
from fastffi.cdecl import parser
from fastffi.cdecl.fastdecl import fast_signature
from fastffi.cdecl.spelling import namespace_for
from fastffi.errors import SignatureError

Point = fastffi.struct("FastPoint", [("x", "i32"), ("y", "i32")])
NS = namespace_for({"FastPoint": Point, "handle_t": "void *", "count_t": "u16"})

BASES = ["int", "unsigned", "unsigned int", "long", "unsigned long", "long long", "unsigned long long", "short",
         "unsigned short", "char", "signed char", "unsigned char", "float", "double", "_Bool", "bool", "size_t",
         "ssize_t", "int32_t", "uint8_t", "uint64_t", "pid_t", "off_t", "const char", "const void", "void",
         "struct FastPoint", "FastPoint", "struct opaque_s", "union u_s", "FILE", "sqlite3", "handle_t",
         "count_t", "const unsigned char", "long int", "int long", "unsigned long int", "const struct FastPoint"]


def _decl(rnd: random.Random) -> str:
    def one(named: bool, i: int) -> str:
        base = rnd.choice(BASES)
        stars = rnd.choice([0, 0, 1, 1, 2, 3])
        name = f" p{i}" if named and rnd.random() < 0.6 else ""
        return f"{base} {'*' * stars}{name}".replace("  ", " ")
    def callback(i: int) -> str:
        inner = [one(rnd.random() < 0.5, 10 + j) for j in range(rnd.randint(0, 3))] or ["void"]
        if inner != ["void"] and rnd.random() < 0.1:
            inner.append("...")
        name = f"cb{i}" if rnd.random() < 0.7 else ""
        return f"{one(False, 0).strip()} (*{name})({', '.join(inner)})"
    params = [callback(i) if rnd.random() < 0.15 else one(True, i) for i in range(rnd.randint(0, 6))]
    if params and rnd.random() < 0.15:
        params.append("...")
    if not params and rnd.random() < 0.5:
        params = ["void"]
    return f"{one(False, 0).strip()} fn_{rnd.randint(0, 999)}({', '.join(params)})" + rnd.choice(["", ";"])


def _slow(text):
    try:
        return parser.function_signature(text, NS)
    except SignatureError as e:
        return e


def test_agrees_with_the_parser_on_generated_declarations():
    rnd = random.Random(15)
    read = callbacks = 0
    for _ in range(1500):
        text = _decl(rnd)
        fast = fast_signature(text, NS)
        slow = _slow(text)
        if fast is not None:
            read += 1
            callbacks += "(*" in text
            assert not isinstance(slow, SignatureError), (text, slow)
            assert fast == slow, text
    assert read > 1000   # the common shapes are read without the parser
    assert callbacks > 100   # function-pointer parameters too


@pytest.mark.parametrize("text", [
    "int f(void x)", "int f(int a, int a)", "int f(...)", "double complex f(void)", "int f(unknown_t x)",
    "int f(int, void)", "int f(int a[4])", "int f(int (**cb)(int))", "int f(int (*const cb)(int))",
    "int f(int (*cb)(int (*)(int)))", "int (*f(void))(int)", "int f(int (*cb)(void x))", "int f(int (cb)(int))",
    "int f(int (*cb)(int a, int a))", "int f(char *const p)", "enum e f(void)",
    "int f(struct nothere v)", "f(int)", "int f(int) g", "int f(int, ...) ;x", "int size_t(int)",
    "int f(int pid_t)", "int f(volatile int *p)", "int f(int x = 1)", "struct { int a; } f(void)",
    "int f(unsigned __int128)", "int f(unsigned _Float128 x)", "__int128 f(void)",
])
def test_leaves_other_shapes_to_the_parser(text):
    assert fast_signature(text, NS) is None


def test_the_public_path_takes_the_fast_shape(monkeypatch):
    def refuse(*args):
        raise AssertionError("the parser was asked")
    monkeypatch.setattr(parser, "function_signature", refuse)
    libc = fastffi.dlopen(None)
    strlen = libc.function("size_t strlen(const char *s) ;")
    assert strlen(b"abcd") == 4


@pytest.mark.parametrize("text", [f"{r} g({', '.join(a)})" for r, a in
                                  itertools.product(["int", "void *", "const char *"],
                                                    [[], ["void"], ["int"], ["double", "..."], ["char **"]])])
def test_small_grid_agrees(text):
    fast = fast_signature(text, NS)
    assert fast is not None and fast == parser.function_signature(text, NS)
