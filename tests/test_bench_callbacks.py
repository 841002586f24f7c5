"""bench/callbacks.py's parts, on a small scale: every peer's C-loop runner sums
what it must, the hand-written floor reports a raising callable and gives C 0,
each qsort comparator sorts, and the report has every table.  (The figures
themselves are BENCHMARKS.md's; this only keeps the harness honest.)

ctypes and cffi callbacks are libffi closures, whose allocator maps
writable+executable pages that stay for the life of the process, so every
check that makes one runs in a child process (_check_* below, one child
each): the pytest process keeps the no-W+X property tests/test_jit.py asserts."""
from __future__ import annotations

import array
import ctypes
import importlib.util
import pathlib
import subprocess
import sys

import pytest

from fastffi.bench import build, callbacks

HAVE_CFFI = importlib.util.find_spec("cffi") is not None   # a [bench] extra: CI's test venv has none


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    built = build.build(tmp_path_factory.mktemp("bench-build"))
    if built.callbacks is None or built.handwritten is None:
        pytest.fail(f"the benchmark's C parts did not build: {built.notes}")
    return built


def _in_child(check: str, artifacts) -> None:
    code = (f"import sys; sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
            "from fastffi.bench import build\nimport test_bench_callbacks as t\n"
            f"t.{check}(build.Artifacts.load({str(artifacts.directory)!r}))\nprint('checked')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == ["checked"], done.stdout + done.stderr[-3000:]


def test_every_runner_sums_its_loop(artifacts):
    _in_child("_check_runners", artifacts)


def _check_runners(artifacts):
    runners, notes = callbacks.runners(artifacts)   # each checked with n=100 inside
    got = {(r.peer, r.case, r.mode) for r in runners}
    for case in callbacks.CASES:
        for mode in callbacks.MODES:
            assert (callbacks.FLOOR, case, mode) in got
            assert (callbacks.CTYPES, case, mode) in got
            assert ("fastffi libffi", case, mode) in got
            assert (("cffi", case, mode) in got) == (HAVE_CFFI and mode != "held")
    for r in runners:
        assert r.run(1000) == callbacks.expected(r.case, 1000), (r.peer, r.case, r.mode)
        assert r.run(0) == 0
    if HAVE_CFFI:
        assert "cffi: no 'GIL held' figure (cffi releases the GIL around every call)" in notes
    else:
        assert any(n.startswith("cffi: cffi is not installed (") for n in notes), notes


def test_expected_sums():
    assert callbacks.expected("long", 4) == 1 + 2 + 3 + 4
    assert callbacks.expected("double", 4) == 0.5 + 1.5 + 2.5 + 3.5


def test_the_floor_reports_a_raising_callable_and_returns_zero(artifacts):
    _in_child("_check_floor_errors", artifacts)


def _check_floor_errors(artifacts):
    hw = build.import_extension(build.HANDWRITTEN_MODULE, artifacts.handwritten)
    seen = []
    sys.unraisablehook = lambda u: seen.append((u.exc_type, str(u.exc_value)))

    def bad_long(x):
        raise KeyError(x)

    addresses = hw.callback_floor(bad_long, lambda a, b: "not a float")
    lib = ctypes.PyDLL(str(artifacts.callbacks))
    lib.cb_loop_long.argtypes = lib.cb_loop_double.argtypes = [ctypes.c_void_p, ctypes.c_long]
    lib.cb_loop_long.restype, lib.cb_loop_double.restype = ctypes.c_long, ctypes.c_double
    assert lib.cb_loop_long(addresses["long_held"], 2) == 0
    assert lib.cb_loop_double(addresses["double_held"], 1) == 0.0
    assert seen == [(KeyError, "0"), (KeyError, "1"), (TypeError, "must be real number, not str")]
    with pytest.raises(TypeError, match="^expected a callable, got int$"):
        hw.callback_floor(1, bad_long)


def test_every_qsort_comparator_sorts(artifacts):
    _in_child("_check_qsort", artifacts)


def _check_qsort(artifacts):
    values = callbacks._qsort_values(2000)
    want = sorted(values)
    sorters = callbacks._qsort_sorters(artifacts, [], 2000)
    assert "ctypes CDLL (POINTER(c_int), a[0])" in sorters and "fastffi libffi (reader)" in sorters
    assert ("cffi (ffi.cast)" in sorters) == HAVE_CFFI
    for peer, sort in sorters.items():
        buf = bytearray(values.tobytes())
        sort(buf)
        assert array.array("i", bytes(buf)).tolist() == want, peer
    assert callbacks._comparisons(2000) > 2000


def test_every_pointer_read_reads_the_int(artifacts):
    _in_child("_check_reads", artifacts)


def _check_reads(artifacts):
    readers = callbacks._readers()     # each checked against -7 inside
    assert {"fastffi read(a, \"i32\")", "fastffi reader(\"i32\")(a)"} <= set(readers)
    assert ("cffi p[0], p an int *" in readers) == HAVE_CFFI
    assert all(fn(*args) == -7 for fn, args in readers.values())


def test_report_tables(artifacts):
    _in_child("_check_report", artifacts)


def _check_report(artifacts):
    callbacks.QSORT_N, callbacks.CREATE_N = 2000, 20
    build.build = lambda: artifacts
    per_invocation: dict = {}
    text = "\n".join(callbacks.run(quick=True, per_invocation=per_invocation))
    # What --plot draws: one bar per (case and mode, peer), the floor among them.
    assert list(per_invocation) == ["ns"]   # no callgrind here
    assert ("long cb(long), GIL held", callbacks.FLOOR) in per_invocation["ns"]
    for title in ("### Callbacks: ns per invocation from a C loop", "### Callback creation",
                  "### qsort of 2,000 ints", "### Reading a C int through a pointer"):
        assert title in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {callbacks.FLOOR} |"))
    assert row.count("|") == 8 and "—" not in row


def test_report_with_instructions():
    ns = {(p, c, m): 100.0 for p in ("fastffi plan", callbacks.FLOOR) for c in callbacks.CASES
          for m in callbacks.MODES}
    ir = callbacks.Instructions({k: 1000.0 for k in ns} | {(callbacks.FLOOR, "long", "held"): 800.0},
                                {"fastffi reader": 50.0}, {"fastffi plan (reader)": 2000.0, "ctypes X": 4000.0,
                                                           "ctypes Y": 5000.0})
    lines = callbacks.report(ns, 3, ir, {"fastffi plan": 5.0}, {"fastffi reader": 20.0, "ctypes p[0]": 30.0},
                             {"fastffi plan (reader)": 250.0, "ctypes X": 600.0, "ctypes Y": 500.0}, ["a note"])
    text = "\n".join(lines)
    assert "| fastffi plan | 1000 (1.25x) | 1000 (1.00x) |" in text
    assert "| fastffi reader | 20.0 | 50 |" in text and "| ctypes p[0] | 30.0 | — |" in text
    assert "(x: ÷ ctypes' fastest in time here, ctypes Y)" in text and "(x: ÷ ctypes' fewest, ctypes X)" in text
    assert "| fastffi plan (reader) | 250 (0.50x) | 2000 (0.50x) |" in text
    assert lines[-1] == "- a note"
