"""Differential tests of the callback mechanisms: random signatures (tests/gen/signatures.py),
generated C that calls a Callback of each with known values and compares the hash of what came
back with the same call made C to C (tests/gen/callbacks.py), on every mechanism.

Environment (as tests/test_differential.py):
  FASTFFI_DIFF_COUNT   signatures to generate (default 2000; variadic ones are left out)
  FASTFFI_DIFF_SEED    the run's seed
  FASTFFI_DIFF_CACHE   a directory to keep compiled chunks in across runs
"""
from __future__ import annotations

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
def workdir():
    given = os.environ.get("FASTFFI_DIFF_CACHE")
    if given:
        os.makedirs(given, exist_ok=True)
        yield given
    else:
        with tempfile.TemporaryDirectory(prefix="fastffi_cbdiff_") as d:
            yield d


@pytest.mark.parametrize("bounds", BOUNDS, ids=[f"{a}-{b}" for a, b in BOUNDS])
def test_callback_chunk(bounds, workdir):
    start, stop = bounds
    so = callbacks.build_chunk(SEED, start, stop, workdir)
    result = callbacks.check_chunk(so, SEED, start, stop, MECHANISMS)
    bad = result["mismatches"]
    report = "\n\n".join(f"signature {m['index']} (seed {SEED}) on {m['mechanism']}: {m['what']}\n{m['c']}"
                         for m in bad[:MAX_REPORT])
    assert not bad, f"{len(bad)} mismatches in signatures {start}..{stop}:\n{report}"
    # Every non-variadic signature ran on the pool at least (it refuses none).
    assert result["checked"] >= len(callbacks.callback_signatures(SEED, start, stop))
