"""fn.map() and signals: the loop looks for them between blocks of rows --
with the GIL released too -- and map() raises what a handler raised
(KeyboardInterrupt on Ctrl-C) instead of running every row first."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import fastffi

np = pytest.importorskip("numpy")

#: More rows than any machine runs in the bounds below (a few ns each at best).
ROWS = 3_000_000_000


class Interrupted(Exception):
    pass


def huge_column(value, dtype, rows=ROWS):
    """A column of `rows` items taking no memory: stride 0."""
    return np.broadcast_to(np.array(value, dtype=dtype), (rows,))


def huge_out(dtype, rows=ROWS):
    """A writable output of `rows` items, all the same 8 bytes (stride 0)."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, dtype=dtype), shape=(rows,), strides=(0,))


def counted(lib):
    return fastffi.read(lib.symbol("counted_calls"), "i64")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_raising_handler_stops_map_on_every_tier(lib, tier, threads):
    fn = lib.function("int64_t count_call(int64_t)", tier=tier)
    fastffi.write(lib.symbol("counted_calls"), "i64", 0)

    def handler(signum, frame):
        raise Interrupted(f"signal {signum}")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        start = time.monotonic()
        with pytest.raises(Interrupted, match=f"^signal {int(signal.SIGALRM)}$"):
            fn.map(huge_column(1, np.int64), out=huge_out(np.int64), threads=threads)
        elapsed = time.monotonic() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    calls = counted(lib)
    assert 0 < calls < ROWS
    assert elapsed < 2.0, elapsed
    # The rows before the interruption ran; nothing runs after map() raised.
    time.sleep(0.05)
    assert counted(lib) == calls


def test_a_handler_that_returns_lets_map_finish(lib, tier):
    fn = lib.function("int64_t count_call(int64_t)", tier=tier)
    fastffi.write(lib.symbol("counted_calls"), "i64", 0)
    seen = []
    old = signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
        rows = 20_000_000
        out = fn.map(huge_column(41, np.int64, rows), out=huge_out(np.int64, rows))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert counted(lib) == rows and out[0] == 42
    assert seen and set(seen) == {signal.SIGALRM}


def test_map_outside_the_main_thread_is_not_polled(lib, tier):
    # Only the main thread runs handlers; a map in another thread runs to the end.
    fn = lib.function("int64_t count_call(int64_t)", tier=tier)
    fastffi.write(lib.symbol("counted_calls"), "i64", 0)
    rows = 5_000_000
    result = []
    t = threading.Thread(target=lambda: result.append(fn.map(huge_column(1, np.int64, rows),
                                                             out=huge_out(np.int64, rows))))
    t.start()
    t.join()
    assert counted(lib) == rows and result[0][0] == 2


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_interrupts_a_long_map(fixture_lib_path, tier, threads):
    # As from a terminal: SIGINT, default handler, the traceback on stderr.
    code = textwrap.dedent(f"""
        import sys, numpy as np, fastffi
        lib = fastffi.dlopen(sys.argv[1])
        fn = lib.function("int64_t count_call(int64_t)", tier={tier!r})
        col = np.broadcast_to(np.array(1, dtype=np.int64), ({ROWS},))
        out = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.int64), shape=({ROWS},), strides=(0,))
        print("ready", flush=True)
        fn.map(col, out=out, threads={threads})
        print("finished", flush=True)
        """)
    p = subprocess.Popen([sys.executable, "-c", code, fixture_lib_path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n"
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    sent = time.monotonic()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise
    # Well under the uninterrupted run (ROWS rows take tens of seconds), with room for a loaded
    # 2-core machine: a run beside callgrind benchmarks took 6.4 s to be scheduled and stop.
    assert time.monotonic() - sent < 10.0
    assert out == ""
    assert p.returncode == -signal.SIGINT   # CPython exits by SIGINT after an uncaught KeyboardInterrupt
    lines = err.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "KeyboardInterrupt"
    # Raised from inside the native loop (the run_batch call), not after it.
    assert 'line 8, in <module>' in err and "in map_rows" in err and "_core.run_batch(" in err
    assert "Exception ignored" not in err
