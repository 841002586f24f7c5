"""Timed call loops, generated per arity so a call is spelled ``fn(a0, a1)``.

Calling ``fn(*args)`` would add argument-tuple unpacking to every call and
make every peer look slower by the same amount; instead each loop binds the
function and its pre-built arguments to locals, and the loop body is exactly
one call.  Every ``make_loop`` returns a new function object, so each
(benchmark, peer) gets its own code object and the interpreter's inline
caches for the call site are never shared between peers.
"""

from __future__ import annotations

import time
from typing import Callable

_TEMPLATE = """\
def loop(fn, args, n, clock=clock):
    {unpack}
    t0 = clock()
    for _ in range(n):
        {body}
    return clock() - t0
"""

Loop = Callable[[Callable, tuple, int], int]


def make_loop(arity: int | None) -> Loop:
    """``loop(fn, args, n) -> ns`` calling ``fn(*args)`` n times.

    ``arity=None`` makes the empty loop (body ``pass``), whose cost per
    iteration is taken off every measurement.
    """
    if arity is None:
        unpack, body = "pass", "pass"
    else:
        names = [f"a{i}" for i in range(arity)]
        unpack = f"({', '.join(names)},) = args" if names else "pass"
        body = f"fn({', '.join(names)})"
    namespace = {"clock": time.perf_counter_ns}
    exec(_TEMPLATE.format(unpack=unpack, body=body), namespace)
    return namespace["loop"]
