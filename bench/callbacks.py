"""Callbacks, ``python -m fastffi bench --callbacks``: C calling Python.

In one run, beside ctypes ``CFUNCTYPE``, cffi ``ffi.callback`` and the
hand-written floor (handwritten.c: a static slot and ``PyObject_Vectorcall``):

* ns per invocation of ``long cb(long)`` and ``double cb(double, double)``
  called from a C loop (callback_drivers.c) with the GIL held, with the GIL
  released around the outer call, and from a thread C created (one thread per
  loop: the first callback meets a thread Python has never seen);
* with ``callgrind=True``, instructions per invocation under valgrind;
* creation time per callback;
* one read of a C int through each FFI's pointer access (ns; instructions
  with ``callgrind=True``);
* libc ``qsort`` of 100,000 ints, each peer's comparator reading the two ints
  through its own FFI's pointer access (ms; with ``callgrind=True`` also
  instructions per comparison, sorting 5,000 ints).

fastffi gets one row per callback mechanism that can run here (``tier=``
each of ``jit``, ``plan``, ``libffi``; a refusal is a note).  ctypes is
called through ``PyDLL`` for "GIL held" (``CDLL`` releases it) and ``CDLL``
otherwise.  cffi releases the GIL around every call, so it has no "held"
figure.

Per invocation = (t(n) - t(0)) / n with each t the minimum over interleaved
repeats: the outer call, and for the thread case pthread_create/join, cancel
out.  Under callgrind the same difference of two segments (split at
``os.getppid()`` as bench/_cg_worker.py does) gives instructions.
"""
from __future__ import annotations

import array
import ctypes
import gc
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import build
from .callgrind import segment_totals, valgrind
from .loops import make_loop

CASES = ("long", "double")
SIGNATURES = {"long": "long cb(long)", "double": "double cb(double, double)"}
MODES = ("held", "released", "thread")
MODE_TITLES = {"held": "GIL held", "released": "GIL released", "thread": "foreign thread"}
FLOOR = "hand-written floor"
CTYPES = "ctypes"
QSORT_N = 100_000
CG_N = 2000
CG_QSORT_N = 5000   # under callgrind: 55,146 comparisons per peer with glibc 2.36
CREATE_N = 500
CG_CREATE_N = 200   # under callgrind: callbacks created per segment


def py_long(x):
    return x + 1


def py_double(a, b):
    return a + b


def expected(case: str, n: int):
    """What the driver loop sums to: sum(i + 1) or sum(i + 0.5) for i < n."""
    return n * (n + 1) // 2 if case == "long" else n * (n - 1) / 2 + 0.5 * n


@dataclass
class Runner:
    """One (case, mode) of one peer: ``run(n)`` makes n invocations from C."""

    peer: str
    case: str
    mode: str
    run: Callable[[int], object]
    keep: object = None   # the callback object C holds: alive as long as the runner


class Unavailable(Exception):
    """A peer cannot run here; the message says why."""


# ---- the peers' runners -------------------------------------------------------------------

def _fastffi_mechanisms() -> list[str]:
    from fastffi.tiers.callback import MECHANISMS
    return list(MECHANISMS)


def _fastffi_runners(path: str, notes: list[str]) -> list[Runner]:
    import fastffi

    lib = fastffi.dlopen(path)
    drivers = {}
    # Declared with their function-pointer parameters and passed the Callback
    # itself, as users write it (the call checks its signature and holds an
    # exception for the outer call to raise).
    for case in CASES:
        ret, cbtype = ("long", "long (*cb)(long)") if case == "long" else ("double", "double (*cb)(double, double)")
        drivers[case, "held"] = lib.function(f"{ret} cb_loop_{case}({cbtype}, long n)")
        drivers[case, "released"] = lib.function(f"{ret} cb_loop_{case}({cbtype}, long n)", release_gil=True)
        drivers[case, "thread"] = lib.function(f"{ret} cb_thread_{case}({cbtype}, long n)", release_gil=True)
    runners = []
    for mech in _fastffi_mechanisms():
        for case in CASES:
            func = py_long if case == "long" else py_double
            try:
                cb = fastffi.callback(SIGNATURES[case], func, tier=mech)
            except fastffi.FFIError as e:
                notes.append(f"fastffi {mech}: {e}")
                break
            for mode in MODES:
                runners.append(Runner(f"fastffi {mech}", case, mode,
                                      lambda n, d=drivers[case, mode], c=cb: d(c, n), keep=cb))
    return runners


def _ctypes_runners(path: str) -> list[Runner]:
    protos = {"long": ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long),
              "double": ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double, ctypes.c_double)}
    results = {"long": ctypes.c_long, "double": ctypes.c_double}
    py, c = ctypes.PyDLL(path), ctypes.CDLL(path)
    runners = []
    for case in CASES:
        cb = protos[case](py_long if case == "long" else py_double)
        for mode, lib, name in (("held", py, "loop"), ("released", c, "loop"), ("thread", c, "thread")):
            fn = getattr(lib, f"cb_{name}_{case}")
            fn.argtypes = [protos[case], ctypes.c_long]
            fn.restype = results[case]
            runners.append(Runner(CTYPES, case, mode, lambda n, f=fn, cb=cb: f(cb, n), keep=cb))
    return runners


def _cffi_runners(path: str, notes: list[str]) -> list[Runner]:
    try:
        import cffi
    except ImportError as e:
        raise Unavailable(f"cffi is not installed ({e})") from e
    ffi = cffi.FFI()
    ffi.cdef("long cb_loop_long(long (*)(long), long); double cb_loop_double(double (*)(double, double), long);"
             "long cb_thread_long(long (*)(long), long); double cb_thread_double(double (*)(double, double), long);")
    lib = ffi.dlopen(path)
    notes.append("cffi: no 'GIL held' figure (cffi releases the GIL around every call)")
    runners = []
    for case, ctype in (("long", "long(long)"), ("double", "double(double, double)")):
        cb = ffi.callback(ctype, py_long if case == "long" else py_double)
        for mode, name in (("released", "loop"), ("thread", "thread")):
            fn = getattr(lib, f"cb_{name}_{case}")
            runners.append(Runner("cffi", case, mode, lambda n, f=fn, cb=cb: f(cb, n), keep=cb))
    return runners


def _floor_runners(artifacts: build.Artifacts) -> list[Runner]:
    if artifacts.handwritten is None:
        raise Unavailable("the hand-written extension was not built")
    hw = build.import_extension(build.HANDWRITTEN_MODULE, artifacts.handwritten)
    addresses = hw.callback_floor(py_long, py_double)
    py, c = ctypes.PyDLL(str(artifacts.callbacks)), ctypes.CDLL(str(artifacts.callbacks))
    results = {"long": ctypes.c_long, "double": ctypes.c_double}
    # The outer call is made through ctypes: its cost is the same for n = 0
    # and n calls, so it leaves the figure.
    runners = []
    for case in CASES:
        for mode, lib, name, floor in (("held", py, "loop", "held"), ("released", c, "loop", "ensure"),
                                       ("thread", c, "thread", "thread")):
            fn = getattr(lib, f"cb_{name}_{case}")
            fn.argtypes = [ctypes.c_void_p, ctypes.c_long]
            fn.restype = results[case]
            address = addresses[f"{case}_{floor}"]
            runners.append(Runner(FLOOR, case, mode, lambda n, f=fn, a=address: f(a, n)))
    return runners


def runners(artifacts: build.Artifacts) -> tuple[list[Runner], list[str]]:
    """Every peer's runners (each checked once), and notes on what cannot run."""
    if artifacts.callbacks is None:
        raise RuntimeError("the callback drivers were not built (no C compiler?)")
    path, notes, out = str(artifacts.callbacks), [], []
    makers = [("fastffi", lambda: _fastffi_runners(path, notes)), (CTYPES, lambda: _ctypes_runners(path)),
              ("cffi", lambda: _cffi_runners(path, notes)), (FLOOR, lambda: _floor_runners(artifacts))]
    for name, make in makers:
        try:
            out += make()
        except Unavailable as e:
            notes.append(f"{name}: {e}")
    for r in out:
        got, want = r.run(100), expected(r.case, 100)
        if got != want:
            raise RuntimeError(f"{r.peer}, {r.case}, {r.mode}: the loop summed {got!r}, expected {want!r}")
    return out, notes


# ---- ns per invocation --------------------------------------------------------------------

def _elapsed(run, n: int) -> int:
    t = time.perf_counter_ns()
    run(n)
    return time.perf_counter_ns() - t


def measure_ns(rs: list[Runner], repeats: int, sample_ns: int) -> dict[tuple[str, str, str], float]:
    """{(peer, case, mode): ns per invocation}, min over interleaved repeats."""
    counts = {}
    for r in rs:
        _elapsed(r.run, 200)   # warm-up: the first foreign-thread call makes its thread state
        per = max(_elapsed(r.run, 200) / 200, 1.0)
        counts[id(r)] = max(200, int(sample_ns / per))
    best0 = {id(r): float("inf") for r in rs}
    best = dict(best0)
    for _ in range(repeats):
        for r in rs:
            best0[id(r)] = min(best0[id(r)], _elapsed(r.run, 0))
            best[id(r)] = min(best[id(r)], _elapsed(r.run, counts[id(r)]))
    return {(r.peer, r.case, r.mode): (best[id(r)] - best0[id(r)]) / counts[id(r)] for r in rs}


# ---- instructions per invocation (callgrind) ------------------------------------------------

def _label(r: Runner) -> str:
    return f"{r.peer}|{r.case}|{r.mode}"


@dataclass
class Instructions:
    """What callgrind counted (every figure deterministic for a build)."""

    per_invocation: dict   #: {(peer, case, mode): (Ir(CG_N) - Ir(0)) / CG_N}
    reads: dict            #: {access: instructions per read, the loop taken off}
    qsort: dict            #: {peer: instructions per comparison, sorting CG_QSORT_N ints}
    creation: dict = None  #: {peer: instructions per callback created, CG_CREATE_N of them}


def measure_instructions(artifacts: build.Artifacts) -> Instructions:
    """Run this module's worker under callgrind and read its segments."""
    with tempfile.TemporaryDirectory(prefix="fastffi-cg-cb-") as d:
        totals = segment_totals(["-m", f"{__package__}.callbacks", "--cg-worker", str(artifacts.directory)],
                                Path(d) / "cg", cwd=build.SOURCE_DIR.parent)
    out, comparisons = Instructions({}, {}, {}, {}), _comparisons(CG_QSORT_N)
    for label, total in totals.items():
        if label.endswith("/N"):
            key = label[:-2]
            out.per_invocation[tuple(key.split("|"))] = (total - totals[key + "/0"]) / CG_N
        elif label.startswith("qsort|"):
            out.qsort[label[len("qsort|"):]] = total / comparisons
        elif label.startswith("read|"):
            out.reads[label[len("read|"):]] = (total - totals["read-empty"]) / CG_N
        elif label.startswith("create|"):
            out.creation[label[len("create|"):]] = total / CG_CREATE_N
    return out


def _comparisons(n: int) -> int:
    """How many times glibc's qsort compares while sorting _qsort_values(n): the
    same for every peer, whose comparators all answer alike."""
    count = 0

    def cmp(a, b):
        nonlocal count
        count += 1
        return a[0] - b[0]

    proto = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    buf = (ctypes.c_int * n)(*_qsort_values(n))
    ctypes.CDLL("libc.so.6").qsort(buf, ctypes.c_size_t(n), ctypes.c_size_t(4), proto(cmp))
    return count


def _cg_worker(build_dir: str) -> int:
    gc.disable()
    rs, _ = runners(build.Artifacts.load(build_dir))
    for r in rs:
        r.run(64)   # warm-up: call sites specialised, foreign thread states made
    raw = _qsort_values(CG_QSORT_N).tobytes()
    sorters = _qsort_sorters(build.Artifacts.load(build_dir), [], CG_QSORT_N)
    for sort in sorters.values():
        sort(bytearray(raw))
    readers = _readers()
    read_loops = {k: make_loop(len(args)) for k, (_, args) in readers.items()}
    empty = make_loop(None)
    empty(None, (), 64)
    for k, (fn, args) in readers.items():
        read_loops[k](fn, args, 64)
    # As bench/_cg_worker.py does: every invocation and comparison allocates
    # and frees objects of the 32-byte size class (boxed arguments, results);
    # an obmalloc pool left one block short of full (or empty) by setup would
    # make each of them pay a pool state change -- instructions that depend on
    # what setup left behind, not on the peer.  Freeing every other object of
    # a block of them leaves every pool of that class half used.
    ballast = [i + 10**6 for i in range(4000)]
    del ballast[::2]
    labels = ["setup"]
    os.getppid()    # ends "setup"
    for r in rs:
        for suffix, n in (("/0", 0), ("/N", CG_N)):
            r.run(n)
            os.getppid()
            labels.append(_label(r) + suffix)
    for label, loop, fn, args in [("read-empty", empty, None, ())] + [
            ("read|" + k, read_loops[k], fn, args) for k, (fn, args) in readers.items()]:
        loop(fn, args, CG_N)
        os.getppid()
        labels.append(label)
    makers = _creators()
    for make in makers.values():   # each signature's first callback: its spec made and cached
        _close_all([make() for _ in range(2)])
    for peer, make in makers.items():
        made = [None] * CG_CREATE_N   # the list made outside the segment
        os.getppid()
        labels.append("create-setup|" + peer)
        for i in range(CG_CREATE_N):
            made[i] = make()
        os.getppid()
        labels.append("create|" + peer)
        _close_all(made)
    for peer, sort in sorters.items():
        buf = bytearray(raw)
        os.getppid()   # ends the copy's segment: the sort's own starts
        labels.append("qsort-copy|" + peer)
        sort(buf)
        os.getppid()
        labels.append("qsort|" + peer)
    del ballast
    print(json.dumps(labels))
    return 0


# ---- creation -----------------------------------------------------------------------------

def _creators() -> dict[str, Callable[[], object]]:
    """{peer: make()}: one callback of ``long cb(long)`` per call."""
    import fastffi

    makers: dict[str, Callable[[], object]] = {}
    for mech in _fastffi_mechanisms():
        try:
            fastffi.callback(SIGNATURES["long"], py_long, tier=mech).close()
        except fastffi.FFIError:
            continue
        makers[f"fastffi {mech}"] = lambda m=mech: fastffi.callback(SIGNATURES["long"], py_long, tier=m)
        makers[f"fastffi {mech}, (restype, argtypes) form"] = (
            lambda m=mech: fastffi.callback(("i64", ["i64"]), py_long, tier=m))
    proto = ctypes.CFUNCTYPE(ctypes.c_long, ctypes.c_long)
    makers[CTYPES] = lambda: proto(py_long)
    try:
        import cffi
        ffi = cffi.FFI()
        makers["cffi"] = lambda: ffi.callback("long(long)", py_long)
    except ImportError:
        pass
    return makers


def _close_all(made: list) -> None:
    for cb in made:
        close = getattr(cb, "close", None)
        if close is not None:
            close()
    made.clear()


def measure_creation(repeats: int) -> dict[str, float]:
    """{peer: µs to create one callback of ``long cb(long)``} (best of ``repeats``)."""
    makers = _creators()
    best = dict.fromkeys(makers, float("inf"))
    for _ in range(repeats):
        for peer, make in makers.items():
            t = time.perf_counter_ns()
            made = [make() for _ in range(CREATE_N)]
            best[peer] = min(best[peer], (time.perf_counter_ns() - t) / CREATE_N / 1000)
            _close_all(made)
            del made
    return best


# ---- pointer reads ------------------------------------------------------------------------

_CELL = (ctypes.c_int * 1)(-7)   # what the read benchmarks read: alive as long as the module


def _readers() -> dict[str, tuple[Callable, tuple]]:
    """{peer: (fn, args)}: one read of a C int through each FFI's pointer access."""
    import fastffi

    address = ctypes.addressof(_CELL)
    out = {"fastffi read(a, \"i32\")": (fastffi.read, (address, "i32")),
           "fastffi reader(\"i32\")(a)": (fastffi.reader("i32"), (address,)),
           "ctypes c_int.from_address(a).value": (lambda a: ctypes.c_int.from_address(a).value, (address,)),
           "ctypes p[0], p a POINTER(c_int)": (lambda p: p[0], (ctypes.cast(address, ctypes.POINTER(ctypes.c_int)),))}
    try:
        import cffi
    except ImportError:
        pass
    else:
        ffi = cffi.FFI()
        out["cffi ffi.cast(\"int *\", a)[0]"] = (lambda a, cast=ffi.cast: cast("int *", a)[0], (address,))
        out["cffi p[0], p an int *"] = (lambda p: p[0], (ffi.cast("int *", address),))
    for name, (fn, args) in out.items():
        if fn(*args) != -7:
            raise RuntimeError(f"{name} read {fn(*args)!r}, expected -7")
    return out


def measure_reads(repeats: int) -> dict[str, float]:
    """{peer: ns per read}, the loop taken off (bench/loops.py)."""
    readers = _readers()
    n, empty = 100_000, make_loop(None)
    loops = {k: make_loop(len(args)) for k, (_, args) in readers.items()}
    best = dict.fromkeys(readers, float("inf"))
    best_empty = float("inf")
    for _ in range(repeats):
        best_empty = min(best_empty, empty(None, (), n) / n)
        for k, (fn, args) in readers.items():
            best[k] = min(best[k], loops[k](fn, args, n) / n)
    return {k: v - best_empty for k, v in best.items()}


# ---- qsort --------------------------------------------------------------------------------

def _qsort_values(n: int) -> array.array:
    rng = random.Random(13)
    return array.array("i", (rng.randrange(-2**20, 2**20) for _ in range(n)))


def _qsort_sorters(artifacts: build.Artifacts, notes: list[str], n: int) -> dict[str, Callable[[bytearray], None]]:
    """{peer: sort(buffer)}: libc qsort of the n C ints in a bytearray, in place."""
    import fastffi

    sorters: dict[str, Callable[[bytearray], None]] = {}
    libc = fastffi.dlopen("libc.so.6")
    qsort = libc.function("void qsort(void *base, size_t n, size_t size, int (*compar)(const void *, const void *))")
    read, i32 = fastffi.read, fastffi.reader("i32")
    comparators = {"read": lambda a, b: read(a, "i32") - read(b, "i32"), "reader": lambda a, b: i32(a) - i32(b)}
    for mech in _fastffi_mechanisms():
        for access, func in comparators.items():
            try:
                cmp = fastffi.callback("int cmp(const void *a, const void *b)", func, tier=mech)
            except fastffi.FFIError:
                break
            sorters[f"fastffi {mech} ({access})"] = lambda buf, c=cmp: qsort(buf, n, 4, c)

    # ctypes, two ways its users write it: the documentation's comparator
    # typed POINTER(c_int) (ctypes makes the pointer objects, a[0] reads), and
    # one typed as qsort declares it, c_void_p, reading with from_address.
    typed = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))
    untyped = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
    at = ctypes.c_int.from_address
    variants = {"POINTER(c_int), a[0]": (typed, typed(lambda a, b: a[0] - b[0])),
                "c_void_p, from_address": (untyped, untyped(lambda a, b: at(a).value - at(b).value))}
    for loader in (ctypes.CDLL, ctypes.PyDLL):
        for access, (proto, ccmp) in variants.items():
            q = loader("libc.so.6").qsort
            q.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, proto]
            q.restype = None
            sorters[f"ctypes {loader.__name__} ({access})"] = (
                lambda buf, q=q, c=ccmp: q((ctypes.c_int * n).from_buffer(buf), n, 4, c))

    try:
        import cffi
    except ImportError:
        notes.append("qsort: cffi is not installed")
    else:
        ffi = cffi.FFI()
        ffi.cdef("void qsort(void *, size_t, size_t, int (*)(const void *, const void *));")
        fc, cast = ffi.dlopen(None), ffi.cast
        fcmp = ffi.callback("int(const void *, const void *)",
                            lambda a, b: cast("int *", a)[0] - cast("int *", b)[0])
        sorters["cffi (ffi.cast)"] = lambda buf: fc.qsort(ffi.from_buffer(buf), n, 4, fcmp)

    if artifacts.handwritten is not None:
        hw = build.import_extension(build.HANDWRITTEN_MODULE, artifacts.handwritten)
        sorters[FLOOR + " (ints passed)"] = lambda buf: hw.qsort_ints(buf, lambda x, y: x - y)
    return sorters


def measure_qsort(artifacts: build.Artifacts, repeats: int, notes: list[str]) -> dict[str, float]:
    """{peer: ms to qsort QSORT_N ints}, best of ``repeats``, every result checked."""
    values = _qsort_values(QSORT_N)
    raw, want = values.tobytes(), array.array("i", sorted(values)).tobytes()
    sorters = _qsort_sorters(artifacts, notes, QSORT_N)
    best = dict.fromkeys(sorters, float("inf"))
    for _ in range(repeats):
        for peer, sort in sorters.items():
            buf = bytearray(raw)
            t = time.perf_counter_ns()
            sort(buf)
            best[peer] = min(best[peer], (time.perf_counter_ns() - t) / 1e6)
            if bytes(buf) != want:
                raise RuntimeError(f"qsort through {peer} did not sort")
    return best


# ---- report -------------------------------------------------------------------------------

def _peer_order(keys) -> list[str]:
    peers = []
    for k in keys:
        if k not in peers:
            peers.append(k)
    return peers


def _per_invocation_table(title: str, values: dict, fmt: str) -> list[str]:
    columns = [(case, mode) for case in CASES for mode in MODES]
    lines = [f"### {title}", "",
             "| peer | " + " | ".join(f"`{SIGNATURES[c]}` {MODE_TITLES[m]}" for c, m in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for peer in _peer_order(p for p, _, _ in values):
        cells = []
        for case, mode in columns:
            v, floor = values.get((peer, case, mode)), values.get((FLOOR, case, mode))
            if v is None:
                cells.append("—")
            elif floor and peer != FLOOR:
                cells.append(f"{v:{fmt}} ({v / floor:.2f}x)")
            else:
                cells.append(f"{v:{fmt}}")
        lines.append(f"| {peer} | " + " | ".join(cells) + " |")
    lines += ["", "(x: ÷ the hand-written floor in the same column)"]
    return lines


def run(quick: bool = False, callgrind: bool = False, per_invocation: dict | None = None) -> list[str]:
    """Measure everything and return the report lines (markdown).  ``per_invocation``, when
    given, receives what ``--plot`` draws: {"ns": {("case, mode", peer): ns per invocation}}
    and, with ``callgrind``, the same for "instructions"."""
    artifacts = build.build()
    repeats = 5 if quick else 25
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        rs, notes = runners(artifacts)
        ns = measure_ns(rs, repeats, (1 if quick else 3) * 1_000_000)
        del rs
        created = measure_creation(3 if quick else 9)
        reads = measure_reads(3 if quick else 15)
        sorted_ms = measure_qsort(artifacts, 1 if quick else 5, notes)
    finally:
        if gc_was_enabled:
            gc.enable()
    ir = None
    if callgrind:
        if valgrind() is None:
            notes.append("callbacks --callgrind: valgrind is not installed")
        else:
            ir = measure_instructions(artifacts)
    if per_invocation is not None:
        for unit, values in (("ns", ns), ("instructions", ir.per_invocation if ir is not None else None)):
            if values is not None:
                per_invocation[unit] = {(f"{SIGNATURES[case]}, {MODE_TITLES[mode]}", peer): v
                                        for (peer, case, mode), v in values.items()}
    return report(ns, repeats, ir, created, reads, sorted_ms, notes)


def _cell(value, fmt: str, base=None) -> str:
    if value is None:
        return "—"
    return f"{value:{fmt}}" + (f" ({value / base:.2f}x)" if base else "")


def report(ns: dict, repeats: int, ir: Instructions | None, created: dict, reads: dict, sorted_ms: dict,
           notes: list[str]) -> list[str]:
    """The markdown tables (a column of instructions where ``ir`` has them)."""
    lines = _per_invocation_table(f"Callbacks: ns per invocation from a C loop (min of {repeats} interleaved "
                                  "repeats, (t(n) - t(0)) / n)", ns, ".1f")
    if ir is not None:
        lines += [""] + _per_invocation_table(
            f"Callbacks: instructions per invocation (callgrind, (Ir({CG_N}) - Ir(0)) / {CG_N})",
            ir.per_invocation, ".0f")
    create_ir = ir.creation if ir is not None and ir.creation else {}
    lines += ["", f"### Callback creation, µs per callback of `long cb(long)` (best of batches of {CREATE_N}"
              + (f"; instructions per callback, callgrind, {CG_CREATE_N} callbacks of a signature already seen"
                 if ir else "") + ")", "",
              "| peer | µs |" + (" instructions |" if ir else ""), "|---|---:|" + ("---:|" if ir else "")]
    lines += [f"| {peer} | {us:.2f} |" + (f" {_cell(create_ir.get(peer), '.0f')} |" if ir else "")
              for peer, us in created.items()]

    read_ir = ir.reads if ir is not None else {}
    lines += ["", "### Reading a C int through a pointer (ns per read, the loop taken off"
              + (f"; instructions per read, callgrind, {CG_N} reads" if ir else "") + ")", "",
              "| access | ns |" + (" instructions |" if ir else ""), "|---|---:|" + ("---:|" if ir else "")]
    lines += [f"| {peer} | {v:.1f} |" + (f" {_cell(read_ir.get(peer), '.0f')} |" if ir else "")
              for peer, v in reads.items()]

    ctypes_ms = {p: ms for p, ms in sorted_ms.items() if p.startswith(CTYPES)}
    base_peer = min(ctypes_ms, key=ctypes_ms.get) if ctypes_ms else None
    qsort_ir = ir.qsort if ir is not None else {}
    ctypes_ir = {p: v for p, v in qsort_ir.items() if p.startswith(CTYPES)}
    ir_base_peer = min(ctypes_ir, key=ctypes_ir.get) if ctypes_ir else None
    lines += ["", f"### qsort of {QSORT_N:,} ints, a Python comparator reading both ints through the peer's "
              "pointer access", "",
              f"ms: best of runs (x: ÷ ctypes' fastest in time here, {base_peer})"
              + (f"; instructions per comparison: callgrind, sorting {CG_QSORT_N:,} ints "
                 f"(x: ÷ ctypes' fewest, {ir_base_peer})" if ir else ""), "",
              "| peer | ms |" + (" instructions per comparison |" if ir else ""),
              "|---|---:|" + ("---:|" if ir else "")]
    for peer, ms in sorted_ms.items():
        row = f"| {peer} | {_cell(ms, '.0f', ctypes_ms.get(base_peer))} |"
        if ir:
            row += f" {_cell(qsort_ir.get(peer), '.0f', ctypes_ir.get(ir_base_peer))} |"
        lines.append(row)
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return lines


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cg-worker"]:
        sys.exit(_cg_worker(sys.argv[2]))
    print("\n".join(run(quick="--quick" in sys.argv, callgrind="--callgrind" in sys.argv)))
