"""Callbacks into real C: libc's qsort and bsearch, sqlite3_exec, pthread_create; threads C
creates and Python threads inside GIL-released calls; re-entrancy and deep recursion."""
from __future__ import annotations

import gc
import random
import sqlite3
import sys
import threading
import weakref

import pytest

import fastffi
from fastffi.errors import CallbackClosedError

from conftest import start_together

QSORT = "void qsort(void *base, size_t nmemb, size_t size, int (*compar)(const void *, const void *))"
BSEARCH = ("void *bsearch(const void *key, const void *base, size_t nmemb, size_t size, "
           "int (*compar)(const void *, const void *))")
read = fastffi.read


def int_cmp(a, b):
    x, y = read(a, "int"), read(b, "int")
    return (x > y) - (x < y)



# ---------------------------------------------------------------- qsort, bsearch

def test_qsort_with_a_callback(libc, tier):
    qsort = libc.function(QSORT, tier=tier)
    values = random.Random(13).sample(range(-10**6, 10**6), 2000)
    arr = fastffi.array("int", values)
    qsort(arr, len(arr), 4, fastffi.callback("int cmp(const void *a, const void *b)", int_cmp))
    assert list(arr) == sorted(values)


def test_qsort_with_a_plain_function(libc, tier):
    qsort = libc.function(QSORT, tier=tier)
    words = [b"pear", b"fig", b"apple", b"kiwi"]
    arr = fastffi.array("long long", [-3, 7, 0, 7, -(2**40)])
    qsort(arr, 5, 8, lambda a, b: (read(b, "long long") > read(a, "long long")) - (read(b, "long long")
                                                                                     < read(a, "long long")))
    assert list(arr) == [7, 7, 0, -3, -(2**40)]   # descending
    # structs: sort (key, payload) pairs by key, payload follows.
    Pair = fastffi.struct("Pair", [("key", "int"), ("tag", "int")])
    pairs = fastffi.array(Pair, 4)
    for i, w in enumerate(words):
        pairs[i] = Pair(key=len(w), tag=i)
    qsort(pairs, 4, 8, lambda a, b: read(a, "int") - read(b, "int"))
    assert [(p.key, p.tag) for p in pairs][0] == (3, 1)
    assert sorted(p.key for p in pairs) == [p.key for p in pairs]


def test_qsort_comparator_exception_is_raised_from_qsort(libc, tier, unraisable):
    qsort = libc.function(QSORT, tier=tier)
    arr = fastffi.array("int", [3, 1, 2])
    calls = []

    def bad(a, b):
        calls.append(1)
        raise ValueError("no order")

    with pytest.raises(ValueError, match="^no order$"):
        qsort(arr, 3, 4, bad)
    assert sorted(arr) == [1, 2, 3]                 # C got 0s: a permutation, never garbage
    assert len(unraisable) == len(calls) - 1        # every later one reported
    assert all(r.exc_type is ValueError for r in unraisable)


def test_qsort_comparator_result_checked(libc, tier):
    qsort = libc.function(QSORT, tier=tier)
    arr = fastffi.array("int", [2, 1])
    with pytest.raises(OverflowError, match=r"^callback 'cmp' result: 1099511627781 does not fit i32$"):
        qsort(arr, 2, 4, fastffi.callback("int cmp(const void *, const void *)", lambda a, b: 2**40 + 5))
    with pytest.raises(TypeError, match=r"^callback 'cmp' result: expected i32, got str$"):
        qsort(arr, 2, 4, fastffi.callback("int cmp(const void *, const void *)", lambda a, b: "1"))


def test_bsearch(libc, tier):
    bsearch = libc.function(BSEARCH, tier=tier)
    values = list(range(0, 3000, 3))
    arr = fastffi.array("int", values)
    base = fastffi.address_of(arr)
    cmp = fastffi.callback("int cmp(const void *, const void *)", int_cmp)
    for v in (0, 3, 1500, 2997):
        key = fastffi.new("int", v)
        assert bsearch(key, arr, len(values), 4, cmp) == base + 4 * values.index(v)
    assert bsearch(fastffi.new("int", 4), arr, len(values), 4, cmp) == 0   # not found: NULL


def test_comparator_that_calls_qsort(libc, tier):
    qsort = libc.function(QSORT, tier=tier)
    inner_sorted = []

    def reentrant(a, b):
        inner = fastffi.array("int", [read(b, "int"), read(a, "int"), 0])
        qsort(inner, 3, 4, int_cmp)
        inner_sorted.append(list(inner))
        return int_cmp(a, b)

    arr = fastffi.array("int", [5, -1, 4, 2])
    qsort(arr, 4, 4, reentrant)
    assert list(arr) == [-1, 2, 4, 5]
    assert inner_sorted and all(s == sorted(s) for s in inner_sorted)


def test_deep_recursion_ends_in_recursion_error(lib, tier):
    call = lib.function("long cb_call(long (*cb)(long), long x)", tier=tier)
    depth = []

    def down(x):
        depth.append(x)
        return call(cb, x + 1)

    cb = fastffi.callback("long down(long)", down)
    with pytest.raises(RecursionError):
        call(cb, 0)
    assert 10 < len(depth) <= sys.getrecursionlimit()
    assert call(fastffi.callback("long f(long)", lambda x: x + 1), 1) == 2   # and the interpreter is fine


# ---------------------------------------------------------------- sqlite3

SQLITE_OK, SQLITE_ABORT = 0, 4
EXEC = ("int sqlite3_exec(sqlite3 *db, const char *sql, int (*callback)(void *, int, char **, char **), "
        "void *arg, char **errmsg)")


@pytest.fixture
def db():
    with fastffi.dlopen("libsqlite3.so.0") as sq:
        sq_open = sq.function("int sqlite3_open(const char *filename, sqlite3 **ppDb)")
        sq_close = sq.function("int sqlite3_close(sqlite3 *)")
        box = fastffi.new("pointer")
        assert sq_open(":memory:", box) == SQLITE_OK
        try:
            yield sq, box.value
        finally:
            assert sq_close(box.value) == SQLITE_OK


def _strings(array_address, n):
    return [read(array_address, "const char *", 8 * i) for i in range(n)]


def test_sqlite3_exec_collects_rows(db, tier):
    sq, handle = db
    sq_exec = sq.function(EXEC, tier=tier)
    assert sq_exec(handle, "CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, NULL), "
                           "(3, 'three');", None, None, None) == SQLITE_OK
    rows = []

    def row(arg, n, values, names):
        assert arg == 0xC0FFEE
        rows.append((tuple(_strings(names, n)), tuple(_strings(values, n))))
        return 0

    cb = fastffi.callback("int row(void *, int, char **, char **)", row)
    assert sq_exec(handle, "SELECT a, b FROM t ORDER BY a", cb, 0xC0FFEE, None) == SQLITE_OK
    assert rows == [(("a", "b"), ("1", "one")), (("a", "b"), ("2", None)), (("a", "b"), ("3", "three"))]
    # the same rows Python's sqlite3 reads
    con = sqlite3.connect(":memory:")
    con.executescript("CREATE TABLE t(a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, 'three');")
    assert [r[1] for r in rows] == [tuple(None if v is None else str(v) for v in r)
                                    for r in con.execute("SELECT a, b FROM t ORDER BY a")]


def test_sqlite3_exec_aborts_on_nonzero(db, tier):
    sq, handle = db
    sq_exec = sq.function(EXEC, tier=tier)
    sq_errmsg = sq.function("const char *sqlite3_errmsg(sqlite3 *)")
    sq_exec(handle, "CREATE TABLE n(x); INSERT INTO n VALUES (1), (2), (3), (4);", None, None, None)
    seen = []

    def first_two(arg, n, values, names):
        seen.append(read(values, "const char *"))
        return 1 if len(seen) == 2 else 0

    assert sq_exec(handle, "SELECT x FROM n ORDER BY x", first_two, None, None) == SQLITE_ABORT
    assert seen == ["1", "2"]
    assert sq_errmsg(handle) == "query aborted"


def test_sqlite3_exec_callback_exception(db, tier):
    sq, handle = db
    sq_exec = sq.function(EXEC, tier=tier)
    sq_exec(handle, "CREATE TABLE e(x); INSERT INTO e VALUES (1), (2);", None, None, None)

    def boom(arg, n, values, names):
        raise LookupError("row")

    # error=1: sqlite3 stops at the first row; the exception is exec's.
    cb = fastffi.callback("int boom(void *, int, char **, char **)", boom, error=1)
    with pytest.raises(LookupError, match="^row$"):
        sq_exec(handle, "SELECT x FROM e", cb, None, None)


# ---------------------------------------------------------------- a callback kept by C

def test_stored_callback_called_later_and_after_close(lib, tier, unraisable):
    store = lib.function("void cb_store(long (*cb)(long))", tier=tier)
    later = lib.function("long cb_call_stored(long x)", tier=tier)
    cb = fastffi.callback("long keep(long)", lambda x: x * 7, error=-1)
    store(cb)
    gc.collect()
    assert later(6) == 42
    cb.close()
    newer = fastffi.callback("long newer(long)", lambda x: 1000)   # may not take the old address
    assert newer.address != cb.address
    assert later(6) == -1        # the error value; neither function ran
    [(exc, obj)] = [(r.exc_value, r.object) for r in unraisable]
    assert type(exc) is CallbackClosedError and obj is None
    assert str(exc) == "callback 'keep' was called after it was closed; C got its error value"


def test_stored_callback_collected_then_called(lib, tier, unraisable):
    store = lib.function("void cb_store(long (*cb)(long))", tier=tier)
    later = lib.function("long cb_call_stored(long x)", tier=tier)
    cb = fastffi.callback("long gone(long)", lambda x: x, error=-3)
    ref = weakref.ref(cb)
    store(cb)
    del cb
    gc.collect()
    assert ref() is None
    assert later(1) == -3
    assert [r.exc_type for r in unraisable] == [CallbackClosedError]


# ---------------------------------------------------------------- threads

def test_pthread_create_runs_a_python_start_routine(libc, tier):
    create = libc.function("int pthread_create(unsigned long *thread, const void *attr, "
                           "void *(*start)(void *), void *arg)", tier=tier)
    join = libc.function("int pthread_join(unsigned long thread, void **retval)", tier=tier, release_gil=True)
    seen = []

    def start(arg):
        seen.append((arg, threading.current_thread() is not threading.main_thread()))
        return arg + 1

    routine = fastffi.callback("void *start(void *)", start)
    tid, ret = fastffi.new("unsigned long"), fastffi.new("void *")
    assert create(tid, None, routine, 41) == 0
    assert join(tid.value, ret) == 0
    assert seen == [(41, True)] and ret.value == 42


def test_thread_local_persists_over_a_foreign_threads_calls(lib, tier):
    in_thread = lib.function("void *cb_in_thread(void *(*fn)(void *), void *arg, long times)", tier=tier,
                             release_gil=True)
    local = threading.local()
    idents = set()

    def count(arg):
        local.n = getattr(local, "n", 0) + 1
        idents.add(threading.get_ident())
        return local.n

    assert in_thread(fastffi.callback("void *count(void *)", count), None, 10_000) == 10_000
    assert len(idents) == 1 and threading.get_ident() not in idents
    assert not hasattr(local, "n")   # this thread's local was never touched


def test_short_lived_foreign_threads_leak_nothing(lib, tier):
    in_thread = lib.function("void *cb_in_thread(void *(*fn)(void *), void *arg, long times)", tier=tier,
                             release_gil=True)
    local = threading.local()
    refs = []

    class Token:
        pass

    def start(arg):
        local.token = t = Token()
        refs.append(weakref.ref(t))
        return arg

    cb = fastffi.callback("void *start(void *)", start)
    before = threading.active_count()
    for i in range(1000):
        assert in_thread(cb, i, 1) == i
    gc.collect()
    # each thread's state (and so its threading.local) was released at its exit
    assert len(refs) == 1000 and [r() for r in refs].count(None) == 1000
    assert threading.active_count() == before


def test_exception_in_a_foreign_thread_is_reported(lib, tier, unraisable):
    in_thread = lib.function("void *cb_in_thread(void *(*fn)(void *), void *arg, long times)", tier=tier,
                             release_gil=True)

    def boom(arg):
        raise KeyError("foreign")

    cb = fastffi.callback("void *boom(void *)", boom, error=5)
    # passed to the call, but run on a thread C made: not this call's to raise
    assert in_thread(cb, None, 2) == 5
    assert [(r.exc_type, r.object) for r in unraisable] == [(KeyError, cb), (KeyError, cb)]


def test_eight_threads_in_gil_released_qsort(libc, tier):
    qsort = libc.function(QSORT, tier=tier, release_gil=True)
    cmp = fastffi.callback("int cmp(const void *, const void *)", int_cmp)
    data = [random.Random(i).sample(range(100_000), 3000) for i in range(8)]
    arrays = [fastffi.array("int", d) for d in data]

    def work(i):
        qsort(arrays[i], 3000, 4, cmp if i % 2 else int_cmp)   # shared Callback, and wrapped callables

    assert start_together(8, work) == []
    for arr, d in zip(arrays, data):
        assert list(arr) == sorted(d)


def test_threads_each_hold_their_own_exception(libc, tier):
    qsort = libc.function(QSORT, tier=tier, release_gil=True)
    results = {}

    def work(i):
        def bad(a, b):
            raise ValueError(i)
        try:
            qsort(fastffi.array("int", [2, 1, 3]), 3, 4, bad)
        except ValueError as e:
            results[i] = e.args

    old = sys.unraisablehook
    sys.unraisablehook = lambda u: None   # the later comparisons' reports
    try:
        assert start_together(8, work) == []
    finally:
        sys.unraisablehook = old
    assert results == {i: (i,) for i in range(8)}
