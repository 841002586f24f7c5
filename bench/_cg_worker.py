"""The process callgrind.py runs under valgrind:
``python -m <package>._cg_worker PEER N BUILD_DIR CASE...``.

It binds each CASE that PEER supports, warms each one's loop up (so first-call
costs -- lazy symbol binding, the interpreter specialising the call site --
fall outside what is counted), then runs one loop per segment, calling
``os.getppid()`` -- the marker -- after each.  callgrind is started with
``--dump-before=getppid``, so it writes the counts of each segment to its own
numbered file.  The segments, in order:

    setup        start-up, imports, binding, warm-up (not used)
    empty/0      the empty loop, 0 iterations: a loop call's fixed cost
    empty/N      the empty loop, N iterations
    <case>/N     each case's call loop, N calls

The worker prints the segment names as a JSON list on stdout.
"""

from __future__ import annotations

import gc
import json
import os
import sys

from . import build, peers
from .cases import CASES_BY_NAME
from .loops import make_loop

MARKER = "getppid"  # the C function os.getppid() enters; nothing else here calls it
WARMUP_CALLS = 64


def main(argv: list[str]) -> int:
    peer_name, n, build_dir, case_names = argv[0], int(argv[1]), argv[2], argv[3:]
    gc.disable()  # as in the timed runs; also keeps collections out of the counts
    found, notes = peers.discover(build.Artifacts.load(build_dir), [peer_name])
    if not found:
        print(*notes, sep="\n", file=sys.stderr)
        return 2
    peer = found[0]

    empty = (make_loop(None), peers.Binding(None, ()))
    segments = [("empty/0", *empty, 0), ("empty/N", *empty, n)]
    for case in (CASES_BY_NAME[name] for name in case_names):
        try:
            binding = peer.bind(case)
        except peers.Unsupported:
            continue
        segments.append((f"{case.name}/N", make_loop(len(binding.args)), binding, n))
    for _, loop, binding, _ in segments:
        loop(binding.fn, binding.args, WARMUP_CALLS)
    # Loops allocate and free an object of the 32-byte size class per
    # iteration (range values, int and float results).  If the obmalloc pool
    # they come from is one block short of full (or empty), every iteration
    # pays a pool state change -- ~50 instructions that depend on what setup
    # left behind, not on the peer.  Freeing every other object of a block of
    # them leaves every pool of that class half used: no transitions.
    ballast = [i + 10**6 for i in range(4000)]
    del ballast[::2]
    os.getppid()  # ends "setup"
    for _, loop, binding, count in segments:
        loop(binding.fn, binding.args, count)
        os.getppid()
    del ballast
    print(json.dumps(["setup"] + [name for name, *_ in segments]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
