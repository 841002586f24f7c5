"""Wall-clock ns/call: the minimum over interleaved repeats, empty loop taken off.

Each repeat times every (benchmark, peer) once, in turn, so a slow spell of
the machine (another process, a frequency change) hits all peers alike
instead of one peer's whole series; the minimum keeps the least disturbed
sample.  Each sample is a loop sized to last about ``sample_ns``.
"""

from __future__ import annotations

import gc
import time
from typing import Callable, Hashable

from .loops import make_loop
from .peers import Binding

_CALIBRATION_CALLS = 200


def measure(bindings: dict[Hashable, Binding], repeats: int, sample_ns: int,
            progress: Callable[[str], None] = lambda msg: None
            ) -> tuple[dict[Hashable, float], float]:
    """(ns/call per key, the empty loop's ns/iteration that was taken off)."""
    loops = {key: make_loop(len(b.args)) for key, b in bindings.items()}
    empty = make_loop(None)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection inside one sample is noise
    try:
        counts = {key: _calibrate(loops[key], b, sample_ns) for key, b in bindings.items()}
        empty_n = _calibrate(empty, Binding(None, ()), sample_ns)
        best = dict.fromkeys(bindings, float("inf"))
        best_empty = float("inf")
        for r in range(repeats):
            progress(f"timing: repeat {r + 1}/{repeats}")
            best_empty = min(best_empty, empty(None, (), empty_n) / empty_n)
            for key, b in bindings.items():
                n = counts[key]
                best[key] = min(best[key], loops[key](b.fn, b.args, n) / n)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {key: t - best_empty for key, t in best.items()}, best_empty


def _calibrate(loop, binding: Binding, sample_ns: int) -> int:
    """Calls per sample; the first run also warms up the call site."""
    for _ in range(2):
        per_call = max(loop(binding.fn, binding.args, _CALIBRATION_CALLS) / _CALIBRATION_CALLS, 1.0)
    return max(_CALIBRATION_CALLS, int(sample_ns / per_call))


def best_ns(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``fn()``, in ns: the least disturbed one."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter_ns()
        fn()
        best = min(best, time.perf_counter_ns() - t)
    return best
