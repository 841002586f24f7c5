"""Leaks: a million mixed calls do not grow memory, failing calls do not leak, and arguments'
reference counts are unchanged by calls."""
from __future__ import annotations

import array
import gc
import os
import sys

import numpy as np
import pytest

import fastffi
from conftest import struct_tier

PAGE = os.sysconf("SC_PAGE_SIZE")

LeakPoint = fastffi.struct("LeakPoint", [("x", "f64"), ("y", "f64")])


@pytest.fixture
def fns(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        yield {
            "add": lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier),
            "addf": lib.function("double mini_add_f64(double, double)", tier=tier),
            "ids": lib.function("const char *mini_id_string(const char *)", tier=tier),
            "sum": lib.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier),
            "make": lib.function("mini_point_make", LeakPoint, ["f64", "f64"], tier=struct_tier(tier)),
            "dot": lib.function("mini_point_dot", "f64", [LeakPoint, LeakPoint], tier=struct_tier(tier)),
            "scale": lib.function("mini_point_scale", "void", ["pointer", "f64"], tier=tier),
            "u64": lib.function("mini_id_u64", "u64", ["u64"], tier=tier),
            "i64": lib.function("mini_id_i64", "i64", ["i64"], tier=tier),
            "f32": lib.function("mini_id_f32", "f32", ["f32"], tier=tier),
            "bool": lib.function("mini_id_bool", "bool", ["bool"], tier=tier),
            "ptr": lib.function("mini_id_pointer", "pointer", ["pointer"], tier=tier),
            "noop": lib.function("mini_noop", "void", [], tier=tier),
            "lib": lib,
        }


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def snapshot():
    gc.collect()
    return rss(), sys.getallocatedblocks()


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_a_million_mixed_calls_do_not_grow_memory(fns):
    add, addf, ids, sum_u8 = fns["add"], fns["addf"], fns["ids"], fns["sum"]
    make, dot, u64, noop = fns["make"], fns["dot"], fns["u64"], fns["noop"]
    payload = bytes(range(64))
    scratch = bytearray(payload)
    text = "leak-check-\u00e9"
    big = 2**63 + 12345

    def burst(n):
        # 8 calls per iteration
        p = LeakPoint(x=1.0, y=2.0)
        for i in range(n):
            add(i, 1)
            addf(0.5, 1.5)
            ids(text)
            sum_u8(payload, 64)
            sum_u8(scratch, 64)
            q = make(1.0, 2.0)
            dot(p, q)
            u64(big)
        noop()

    burst(20_000)  # warm-up: caches, arenas, lazily created objects
    rss0, blocks0 = snapshot()
    burst(125_000)  # 1,000,000 calls
    rss1, blocks1 = snapshot()
    assert blocks1 - blocks0 < 500, f"allocated blocks grew by {blocks1 - blocks0}"
    assert rss1 - rss0 < 4 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_failing_calls_do_not_leak(fns, mini_path, tier):
    add, ids, sum_u8 = fns["add"], fns["ids"], fns["sum"]
    strided = np.arange(16, dtype=np.uint8)[::2]
    closed_lib = fastffi.dlopen(mini_path)
    closed = closed_lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
    closed_lib.close()
    failures = [
        (add, (1.5, 1), {}, TypeError),
        (add, (2**31, 1), {}, OverflowError),
        (add, (1,), {}, TypeError),
        (add, (1, 2), {"x": 3}, TypeError),
        (ids, ("a\0b",), {}, ValueError),
        (sum_u8, (strided, 8), {}, ValueError),
        (sum_u8, ("text", 4), {}, TypeError),
        (closed, (1, 2), {}, fastffi.LibraryClosedError),
    ]

    def burst(n):
        for _ in range(n):
            for fn, args, kwargs, exc in failures:
                try:
                    fn(*args, **kwargs)
                except exc:
                    pass

    burst(2_000)
    rss0, blocks0 = snapshot()
    burst(25_000)  # 200,000 failing calls
    rss1, blocks1 = snapshot()
    assert blocks1 - blocks0 < 500, f"allocated blocks grew by {blocks1 - blocks0}"
    assert rss1 - rss0 < 4 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"


@pytest.mark.no_sanitizer  # RSS growth: ASan keeps freed blocks in quarantine
def test_boxes_arrays_structs_and_memory_helpers_do_not_leak():
    buf = bytearray(64)
    addr = fastffi.address_of(buf)

    def burst(n):
        for i in range(n):
            fastffi.new("i32", i).value
            fastffi.array("f64", 4)[1]
            LeakPoint(x=1.0).y
            fastffi.to_bytes(addr, 16)
            fastffi.view(addr, 16)
            fastffi.to_string(addr, 8)
            fastffi.write(addr, "u32", i)
            fastffi.read(addr, "u32")
            fastffi.read(addr, LeakPoint)
            fastffi.write_bytes(addr, b"abc")

    burst(5_000)
    rss0, blocks0 = snapshot()
    burst(50_000)
    rss1, blocks1 = snapshot()
    assert blocks1 - blocks0 < 500, f"allocated blocks grew by {blocks1 - blocks0}"
    assert rss1 - rss0 < 4 * 2**20, f"RSS grew by {(rss1 - rss0) / 2**20:.1f} MiB"


class Index:
    def __index__(self):
        return 7


class Float:
    def __float__(self):
        return 2.5


def _argument_cases(fns):
    p = LeakPoint(x=3.0, y=4.0)
    return [
        ("big int", fns["i64"], lambda o: (o,), 2**40 + 17),
        ("big u64", fns["u64"], lambda o: (o,), 2**64 - 3),
        ("float", fns["addf"], lambda o: (o, o), 1.25),
        ("__index__", fns["i64"], lambda o: (o,), Index()),
        ("__float__", fns["f32"], lambda o: (o,), Float()),
        ("numpy int", fns["i64"], lambda o: (o,), np.int64(-5)),
        ("numpy float", fns["addf"], lambda o: (o, 1.0), np.float64(2.0)),
        ("numpy bool", fns["bool"], lambda o: (o,), np.bool_(True)),
        ("str", fns["ids"], lambda o: (o,), "a string \u00e9\u20ac"),
        ("bytes as string", fns["ids"], lambda o: (o,), b"bytes\x00"),
        ("bytearray as string", fns["ids"], lambda o: (o,), bytearray(b"ba\x00")),
        ("bytes", fns["sum"], lambda o: (o, 4), b"\x01\x02\x03\x04"),
        ("bytearray", fns["sum"], lambda o: (o, 3), bytearray(b"abc")),
        ("memoryview", fns["sum"], lambda o: (o, 3), memoryview(b"xyz")),
        ("array.array", fns["sum"], lambda o: (o, 8), array.array("d", [1.0])),
        ("numpy array", fns["sum"], lambda o: (o, 8), np.arange(8, dtype=np.uint8)),
        ("struct by value", fns["dot"], lambda o: (o, o), p),
        ("struct by reference", fns["scale"], lambda o: (o, 1.0), LeakPoint(x=1.0, y=1.0)),
        ("box", fns["ptr"], lambda o: (o,), fastffi.new("i32", 3)),
        ("fastffi array", fns["ptr"], lambda o: (o,), fastffi.array("u8", 4)),
        ("function", fns["ptr"], lambda o: (o,), fns["noop"]),
    ]


def test_argument_refcounts_unchanged(fns):
    failures = []
    for label, fn, make_args, obj in _argument_cases(fns):
        args = make_args(obj)  # held for the whole check, so its references stay constant
        fn(*args)  # warm-up
        before = sys.getrefcount(obj)
        fn_before = sys.getrefcount(fn)
        for _ in range(1000):
            fn(*args)
        after = sys.getrefcount(obj)
        if after != before:
            failures.append(f"{label}: {before} -> {after}")
        if sys.getrefcount(fn) != fn_before:
            failures.append(f"{label}: function refcount {fn_before} -> {sys.getrefcount(fn)}")
    assert not failures, failures


def test_error_path_refcounts_unchanged(fns):
    add, ids, sum_u8 = fns["add"], fns["ids"], fns["sum"]
    big = 2**40
    f = 1.5
    s = "nul\0inside"
    strided = np.arange(8, dtype=np.uint8)[::2]
    cases = [(add, (big, 1), OverflowError, big), (add, (f, 1), TypeError, f),
             (ids, (s,), ValueError, s), (sum_u8, (strided, 4), ValueError, strided)]
    for fn, args, exc, obj in cases:
        before = sys.getrefcount(obj)
        for _ in range(1000):
            try:
                fn(*args)
            except exc:
                pass
        assert sys.getrefcount(obj) == before, (fn.__name__, exc)


def test_result_objects_are_not_kept_alive(fns):
    make = fns["make"]
    gc.collect()
    blocks0 = sys.getallocatedblocks()
    for _ in range(10_000):
        p = make(1.0, 2.0)
        del p
    gc.collect()
    assert sys.getallocatedblocks() - blocks0 < 200
