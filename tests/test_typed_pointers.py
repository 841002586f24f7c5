"""Typed pointers out (issue 15): a `T *` result or field for a struct/union T
reads as a fastffi.Pointer -- an int that also knows T -- so lists and arrays
are walked with p.contents / p[i], no T.from_address at each step."""
import ctypes
import gc
import os
import resource
import socket

import pytest

import fastffi
import fastffi.header as H
from fastffi.model.typed_pointers import Pointer

DECLS = """
struct tp_node { int32_t value; struct tp_node *next; };
struct tp_point { int32_t x, y; };
struct tp_hidden;
struct tp_node *tp_list(void);
struct tp_node *tp_none(void);
int32_t tp_sum(const struct tp_node *n);
struct tp_point *tp_array(void);
void *tp_array_void(void);
struct tp_hidden *tp_hidden_get(void);
"""


@pytest.fixture
def h():
    return fastffi.cdef(DECLS)


@pytest.fixture
def tp(fixture_lib_path, h, tier):
    with fastffi.dlopen(fixture_lib_path, h, tier=tier) as lib:
        yield lib


def test_list_walked_through_next(tp, h):
    Node = h.type("struct tp_node")
    p = tp.tp_list()
    assert isinstance(p, int) and isinstance(p, Pointer)
    values = []
    while p:
        values.append(p.contents.value)
        assert p[0].value == values[-1]
        p = p.contents.next
    assert values == [10, 20, 30, 40]
    assert p == 0 and not p and type(p).__name__ == "Pointer[struct tp_node]"
    # a live view: a write through it is seen by C
    first = tp.tp_list()
    assert type(first.contents) is Node
    first.contents.value = 11
    try:
        assert tp.tp_sum(first) == 101
    finally:
        first.contents.value = 10
    assert tp.tp_sum(first) == 100


def test_index_walks_a_returned_array(tp, h):
    p = tp.tp_array()
    assert [(p[i].x, p[i].y) for i in range(5)] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    assert p[3]._address_ == p + 3 * fastffi.sizeof(h.type("struct tp_point"))
    assert p[-1]._address_ == p - 8
    with pytest.raises(TypeError, match="cannot be interpreted as an integer"):
        p["1"]


def test_int_behaviour(tp):
    p = tp.tp_array()
    addr = tp.tp_array_void()
    assert type(addr) is int                       # void * stays a plain int
    assert p == addr and hash(p) == hash(addr) and int(p) == addr and type(int(p)) is int
    assert {p: 1}[addr] == 1
    assert type(p + 8) is int and p + 8 == addr + 8 and type(p - p) is int
    assert repr(p) == f"<struct tp_point * 0x{addr:x}>"
    assert tp.tp_sum(tp.tp_list()) == 100           # passes as the address
    assert fastffi.read(p, "i32", 28) == 7           # anywhere an address goes


def test_null_result_is_a_false_pointer(tp):
    p = tp.tp_none()
    assert isinstance(p, Pointer) and p == 0 and not p
    with pytest.raises(ValueError) as e:
        p.contents
    assert str(e.value) == "cannot dereference a NULL struct tp_node *"


def test_a_pointer_to_an_incomplete_type_is_a_plain_int(tp):
    # nothing to view: an opaque handle reads as void * does, and its calls pay nothing for Pointer
    p = tp.tp_hidden_get()
    assert type(p) is int and p == tp.tp_array_void()


def test_every_tier_returns_typed_pointers(fixture_lib_path, h, tier):
    Point = h.type("struct tp_point")
    with fastffi.dlopen(fixture_lib_path) as lib:
        fn = lib.function("struct tp_point *tp_array(void)", tier=tier, types={"struct tp_point": Point})
        plain = lib.function("void *tp_array_void(void)", tier=tier)
        assert fn.tier == plain.tier == tier
        p = fn()
        assert type(p).__name__ == "Pointer[struct tp_point]" and p[4].y == 9 and p == plain()
        assert type(plain()) is int
        none = lib.function("struct tp_node *tp_none(void)", tier=tier, types={"struct tp_node": h.type("struct tp_node")})
        assert isinstance(none(), Pointer) and none() == 0


def test_struct_field_and_read(fixture_lib_path):
    Node = fastffi.struct("tp_node_spec", [("value", "i32"), ("next", "struct tp_node_spec *")])
    fastffi.define("struct tp_node_spec", Node)
    try:
        with fastffi.dlopen(fixture_lib_path) as lib:
            head = lib.function("pointer tp_list(void)")()
            n = Node.from_address(head)
            assert isinstance(n.next, Pointer) and n.next.contents.value == 20
            slot = (ctypes.c_void_p * 1)(head)
            p = fastffi.read(ctypes.addressof(slot), "struct tp_node_spec *")
            assert isinstance(p, Pointer) and p == head and p[0].next[0].value == 20
            assert type(fastffi.read(ctypes.addressof(slot), "void *")) is int
    finally:
        fastffi.undefine("struct tp_node_spec")


@pytest.mark.parametrize("cache", [False, True])
def test_getaddrinfo_walked_through_ai_next(cache):
    H._includes.clear()
    h = fastffi.include("netdb.h", cache=cache)
    libc = fastffi.dlopen("libc.so.6", h)
    A = h.type("struct addrinfo")
    hints = A(ai_socktype=socket.SOCK_STREAM, ai_family=socket.AF_INET)
    slot = (ctypes.c_void_p * 1)()
    assert libc.getaddrinfo(b"127.0.0.1", b"80", hints, ctypes.addressof(slot)) == 0
    head = A.from_address(slot[0])
    try:
        found, node = [], head
        while True:
            found.append((node.ai_family, node.ai_socktype, node.ai_protocol))
            nxt = node.ai_next
            assert isinstance(nxt, Pointer)
            if not nxt:
                break
            node = nxt.contents
        expect = [(f, t, p) for f, t, p, _, _ in socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET,
                                                                    socket.SOCK_STREAM)]
        assert found == expect
    finally:
        libc.freeaddrinfo(slot[0])


def test_readdir_equals_listdir(tmp_path):
    for name in ("a", "bb", "ccc.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    h = fastffi.include("dirent.h")
    libc = fastffi.dlopen("libc.so.6", h)
    d = libc.opendir(os.fsencode(tmp_path))
    assert d and type(d) is int   # DIR is incomplete: a handle
    names = []
    try:
        while e := libc.readdir(d):
            names.append(os.fsdecode(bytes(e.contents.d_name).split(b"\0")[0]))
    finally:
        libc.closedir(d)
    assert sorted(n for n in names if n not in (".", "..")) == sorted(os.listdir(tmp_path))


def test_million_calls_do_not_grow(fixture_lib_path, h):
    with fastffi.dlopen(fixture_lib_path, h) as lib:
        fn = lib.tp_list
        for _ in range(100_000):
            fn().contents
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(1_000_000):
            fn()
        gc.collect()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 2048   # KiB: a leaked int per call would be ~32 MB


def test_global_variable_of_a_struct_pointer(fixture_lib_path):
    h = fastffi.cdef("struct tp_early; extern struct tp_early *tp_head; struct tp_early { int32_t value; "
                     "struct tp_early *next; };")
    with fastffi.dlopen(fixture_lib_path, h) as lib:
        head = lib.tp_head   # declared while struct tp_early was incomplete: completed by the header
        assert isinstance(head, Pointer) and type(head).__name__ == "Pointer[struct tp_early]"
        assert (head.contents.value, head.contents.next[0].value) == (20, 30)
    libc = fastffi.dlopen("libc.so.6", fastffi.include("stdio.h"))
    # extern FILE *stdin: the header's FILE typedef names struct _IO_FILE before it is complete,
    # which the header walk keeps as an incomplete type: a handle, a plain int
    assert type(libc.stdin) is int and libc.fileno(libc.stdin) == 0


def test_subscripted_pointer_class_makes_typed_pointers():
    # The stubs spell these fastffi.Pointer[T]: calling that with an address
    # (an out-parameter's value, getaddrinfo's res) gave a Pointer with no
    # pointee, whose .contents raised AttributeError on None.
    Node = fastffi.struct("TPNode", [("v", "i32"), ("w", "i32")])
    cls = fastffi.Pointer[Node]
    assert cls is fastffi.Pointer[Node] and cls.__name__ == "Pointer[struct TPNode]"
    arr = fastffi.array(Node, [Node(v=1, w=2), Node(v=3, w=4)])
    p = cls(fastffi.address_of(arr))
    assert isinstance(p, fastffi.Pointer) and p.contents.v == 1 and p[1].w == 4
    with pytest.raises(TypeError, match=r"^a fastffi.Pointer with no pointee type cannot be dereferenced; "
                                        r"use fastffi.Pointer\[T\]\(address\) with T a struct or union class$"):
        fastffi.Pointer(fastffi.address_of(arr)).contents


def test_getaddrinfo_result_through_an_out_parameter_walks_ai_next():
    h = fastffi.include("netdb.h")
    libc = fastffi.dlopen("libc.so.6", h)
    AddrInfo = h.type("struct addrinfo")
    hints = AddrInfo()
    hints.ai_family, hints.ai_socktype = socket.AF_INET, socket.SOCK_STREAM
    res = fastffi.new("pointer")
    assert libc.getaddrinfo(b"127.0.0.1", b"80", hints, res) == 0
    try:
        p, seen = fastffi.Pointer[AddrInfo](res.value), []
        while p:
            ai = p.contents
            seen.append((ai.ai_family, ai.ai_socktype, bytes(ai.ai_addr.contents.sa_data[:6])))
            p = ai.ai_next
        assert seen == [(socket.AF_INET, socket.SOCK_STREAM, b"\x00P\x7f\x00\x00\x01")]
    finally:
        libc.freeaddrinfo(res.value)
