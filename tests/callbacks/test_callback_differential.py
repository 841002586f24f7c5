"""Differential tests of the callback mechanisms: random signatures (tests/gen/signatures.py),
generated C that calls a Callback of each with known values and compares the hash of what came
back with the same call made C to C (tests/gen/callbacks.py), on every mechanism.

Environment (as tests/test_differential.py):
  FASTFFI_DIFF_COUNT   signatures to generate (default 2000; variadic ones are left out)
  FASTFFI_DIFF_SEED    the run's seed
  FASTFFI_DIFF_CACHE   a directory to keep compiled chunks in across runs
"""
from __future__ import annotations

import concurrent.futures
import os
import tempfile

import pytest

from gen import callbacks, runner

SEED = runner.env_int("FASTFFI_DIFF_SEED", runner.DEFAULT_SEED)
COUNT = runner.env_int("FASTFFI_DIFF_COUNT", runner.DEFAULT_COUNT)
BOUNDS = runner.chunk_bounds(COUNT)
#: Every mechanism, the ones this build lacks included: their refusals are checked too.
MECHANISMS = ("jit", "plan", "libffi")
MAX_REPORT = 10


@pytest.fixture(scope="module")
def chunks():
    """The chunks' libraries, compiled ahead two at a time (compiling is most of the time)."""
    given = os.environ.get("FASTFFI_DIFF_CACHE")
    with tempfile.TemporaryDirectory(prefix="fastffi_cbdiff_") as own:
        workdir = given or own
        os.makedirs(workdir, exist_ok=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            futures = {b: pool.submit(callbacks.build_chunk, SEED, *b, workdir) for b in BOUNDS}
            yield futures
            for f in futures.values():
                f.cancel()


@pytest.mark.parametrize("bounds", BOUNDS, ids=[f"{a}-{b}" for a, b in BOUNDS])
def test_callback_chunk(bounds, chunks):
    start, stop = bounds
    so = chunks[bounds].result()
    result = callbacks.check_chunk(so, SEED, start, stop, MECHANISMS)
    bad = result["mismatches"]
    report = "\n\n".join(f"signature {m['index']} (seed {SEED}) on {m['mechanism']}: {m['what']}\n{m['c']}"
                         for m in bad[:MAX_REPORT])
    assert not bad, f"{len(bad)} mismatches in signatures {start}..{stop}:\n{report}"
    # Every non-variadic signature ran on some mechanism at least: the pool refuses only
    # c64/c128/longdouble, which libffi takes unless it cannot describe the signature at all.
    assert result["checked"] >= callbacks.must_check(callbacks.callback_signatures(SEED, start, stop))
