"""Threads: concurrent calls give correct results, release_gil=True calls overlap, and close()
while calls are in flight neither crashes nor unmaps code under a running call.

The close-while-in-flight tests run in a child interpreter, so that a crash (the failure they
guard against) is reported as a failed test instead of killing the whole test session."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

import fastffi
from conftest import compile_shared, start_together, struct_tier

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture
def private_mini(tmp_path):
    """A copy of mini.c that nothing else has loaded, so a premature dlclose really unmaps it."""
    return compile_shared([DATA / "mini.c"], tmp_path, f"fastffi_private_{uuid.uuid4().hex[:10]}")


def run_child(script, *args, timeout=60):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc.stdout.splitlines()


def test_concurrent_calls_give_correct_results(mini_path, tier):
    point = fastffi.struct("ThreadPoint", [("x", "f64"), ("y", "f64")])
    with fastffi.dlopen(mini_path) as lib:
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        addf = lib.function("double mini_add_f64(double, double)", tier=tier)
        ident_s = lib.function("const char *mini_id_string(const char *)", tier=tier)
        sum_u8 = lib.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier)
        make = lib.function("mini_point_make", point, ["f64", "f64"], tier=struct_tier(tier))
        dot = lib.function("mini_point_dot", "f64", [point, point], tier=struct_tier(tier))
        wrong = []

        def work(tid):
            payload = bytes([tid]) * (tid + 1)
            for i in range(4000):
                a, b = tid * 100000 + i, -i * 3
                if add(a, b) != a + b:
                    wrong.append(("add", tid, i))
                if addf(a * 0.5, 0.25) != a * 0.5 + 0.25:
                    wrong.append(("addf", tid, i))
                text = f"t{tid}-{i}"
                if ident_s(text) != text:
                    wrong.append(("string", tid, i))
                if sum_u8(payload, len(payload)) != tid * (tid + 1):
                    wrong.append(("sum", tid, i))
                p = make(float(tid), float(i))
                if (p.x, p.y) != (float(tid), float(i)) or dot(p, p) != tid * tid + i * i:
                    wrong.append(("struct", tid, i))

        errors = start_together(8, work)
    assert not errors, errors[:3]
    assert not wrong, wrong[:10]


def test_concurrent_function_creation(mini_path, tier):
    with fastffi.dlopen(mini_path) as lib:
        wrong = []

        def work(tid):
            for i in range(200):
                decl = ["int mini_add_i32(int, int)", "int32_t mini_add_i32(int32_t a, int32_t b)"][i % 2]
                fn = lib.function(decl, tier=tier)
                if fn(tid, i) != tid + i or fn.argtypes != ("i32", "i32"):
                    wrong.append((tid, i))

        errors = start_together(6, work)
    assert not errors, errors[:3]
    assert not wrong, wrong[:10]


def test_release_gil_calls_run_in_parallel(mini_path, tier):
    n, ms = 4, 250
    with fastffi.dlopen(mini_path) as lib:
        sleep = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], release_gil=True, tier=tier)
        results = {}

        def work(i):
            results[i] = sleep(ms, 1000 + i)

        t0 = time.perf_counter()
        errors = start_together(n, work)
        elapsed = time.perf_counter() - t0
    assert not errors, errors
    assert results == {i: 1000 + i for i in range(n)}
    # serially this takes n * ms = 1.0 s; in parallel about ms
    assert elapsed < 0.6, f"release_gil=True calls did not overlap: {elapsed:.3f} s"


def test_release_gil_default_from_dlopen_applies_to_definitions(mini_path):
    n, ms = 4, 250
    with fastffi.dlopen(mini_path, {"mini_sleep_ms": "int64_t mini_sleep_ms(int32_t, int64_t)"},
                        release_gil=True) as lib:
        results = {}

        def work(i):
            results[i] = lib.mini_sleep_ms(ms, -i)

        t0 = time.perf_counter()
        errors = start_together(n, work)
        elapsed = time.perf_counter() - t0
    assert not errors, errors
    assert results == {i: -i for i in range(n)}
    assert elapsed < 0.6, f"definitions did not inherit release_gil=True: {elapsed:.3f} s"


def test_release_gil_lets_python_threads_run(mini_path, tier):
    """With release_gil=True a Python thread keeps running during the call; with the default
    (the GIL held) it is stopped for the call's duration."""
    with fastffi.dlopen(mini_path) as lib:
        held = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], tier=tier)
        released = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], release_gil=True, tier=tier)
        counter = [0]
        stop = threading.Event()

        def count():
            while not stop.is_set():
                counter[0] += 1

        t = threading.Thread(target=count)
        t.start()
        try:
            time.sleep(0.05)
            c0 = counter[0]
            released(300, 0)
            during_released = counter[0] - c0
            time.sleep(0.05)
            c0 = counter[0]
            held(300, 0)
            during_held = counter[0] - c0
        finally:
            stop.set()
            t.join()
    assert during_released > 0
    assert during_held * 5 < during_released, (during_held, during_released)


def test_errno_is_per_thread_with_released_gil(mini_path, tier):
    import errno as errno_mod
    codes = [errno_mod.EPERM, errno_mod.ENOENT, errno_mod.EIO, errno_mod.EACCES,
             errno_mod.EBUSY, errno_mod.EEXIST]
    with fastffi.dlopen(mini_path, release_gil=True, use_errno=True) as lib:
        fail = lib.function("mini_fail_errno", "i32", ["i32"], tier=tier)
        sleep = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], tier=tier)
        wrong = []

        def work(i):
            code = codes[i]
            for k in range(200):
                fastffi.set_errno(0)
                fail(code)
                sleep(0, 0)  # a use_errno call that leaves errno alone
                if fastffi.get_errno() != code:
                    wrong.append((i, k, fastffi.get_errno()))

        errors = start_together(len(codes), work)
    assert not errors, errors[:3]
    assert not wrong, wrong[:10]


CLOSE_IN_FLIGHT = r"""
import sys, threading, time
import fastffi

path, tier = sys.argv[1], sys.argv[2]
lib = fastffi.dlopen(path, release_gil=True)
spin = lib.function("mini_spin_ms", "i64", ["i32", "i64"], tier=tier)
sleep = lib.function("mini_sleep_ms", "i64", ["i32", "i64"], tier=tier)
add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier, release_gil=False)
results = {}

def run(name, fn, ms, value):
    results[name] = fn(ms, value)

threads = [threading.Thread(target=run, args=("spin", spin, 400, 123456789)),
           threading.Thread(target=run, args=("sleep", sleep, 400, -987654321))]
for t in threads:
    t.start()
time.sleep(0.15)  # both calls are now inside the library
lib.close()
print("closed:", lib.closed)
for fn, args in ((add, (1, 2)), (spin, (1, 1)), (sleep, (1, 1))):
    try:
        fn(*args)
        print("no error from", fn.__name__)
    except fastffi.LibraryClosedError as exc:
        print("raised:", exc)
lib.close()
for t in threads:
    t.join()
print("spin:", results.get("spin"))
print("sleep:", results.get("sleep"))
try:
    add(3, 4)
    print("no error after join")
except fastffi.LibraryClosedError as exc:
    print("after:", exc)
with fastffi.dlopen(path) as again:
    print("reopened:", again.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)(2, 3))
print("done")
"""


def test_close_while_a_released_call_is_in_flight(private_mini, tier):
    lines = run_child(CLOSE_IN_FLIGHT, private_mini, tier)
    lib = repr(private_mini)
    assert lines == [
        "closed: True",
        f"raised: mini_add_i32(): library {lib} is closed",
        f"raised: mini_spin_ms(): library {lib} is closed",
        f"raised: mini_sleep_ms(): library {lib} is closed",
        "spin: 123456789",
        "sleep: -987654321",
        f"after: mini_add_i32(): library {lib} is closed",
        "reopened: 5",
        "done",
    ]


HAMMER_AND_CLOSE = r"""
import sys, threading, time
import fastffi

path, tier = sys.argv[1], sys.argv[2]
lib = fastffi.dlopen(path)
add = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
spin = lib.function("mini_spin_ms", "i64", ["i32", "i64"], tier=tier, release_gil=True)
wrong, ended, calls = [], [], [0]

def hammer(tid):
    i = 0
    try:
        while True:
            if tid % 2:
                if spin(1, tid * 1000 + i) != tid * 1000 + i:
                    wrong.append((tid, i))
            elif add(tid, i) != tid + i:
                wrong.append((tid, i))
            i += 1
            calls[0] += 1
    except fastffi.LibraryClosedError:
        ended.append(tid)
    except BaseException as exc:
        wrong.append(repr(exc))

threads = [threading.Thread(target=hammer, args=(t,)) for t in range(6)]
for t in threads:
    t.start()
time.sleep(0.3)
lib.close()
for t in threads:
    t.join(30)
print("alive:", sum(t.is_alive() for t in threads))
print("wrong:", wrong[:5])
print("ended:", sorted(ended))
print("calls>0:", calls[0] > 0)
"""


def test_close_while_threads_hammer(private_mini, tier):
    lines = run_child(HAMMER_AND_CLOSE, private_mini, tier)
    assert lines == ["alive: 0", "wrong: []", "ended: [0, 1, 2, 3, 4, 5]", "calls>0: True"]
