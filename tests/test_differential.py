"""Differential tests of the call tiers (issue 4): random signatures, compiled C checksum functions,
and expectations computed from the C compiler's offsets with the struct module (tests/gen/).

Environment:
  FASTFFI_DIFF_COUNT   signatures to run (default 2000; 100000 for a long run)
  FASTFFI_DIFF_SEED    the run's seed (default fixed; printed in the header and in every failure)
  FASTFFI_DIFF_TIERS   comma-separated tiers (default: fastffi.available_tiers() plus libffi)
  FASTFFI_DIFF_CACHE   a directory to keep compiled chunks in across runs (default: a temp dir)

One test per chunk of 250 signatures; each collects every mismatch of its chunk (a crashing call is
caught in a child process and reported too) and shows up to 20 of them.
"""
from __future__ import annotations

import collections
import math
import os
import random
import time

import numpy as np
import pytest

import fastffi
from gen import csource, oracle, runner
from gen.signatures import INT128S, INT_LIKE, Agg, generate

SEED = runner.env_int("FASTFFI_DIFF_SEED", runner.DEFAULT_SEED)
COUNT = runner.env_int("FASTFFI_DIFF_COUNT", runner.DEFAULT_COUNT)
BOUNDS = runner.chunk_bounds(COUNT)
MAX_REPORT = 20


def _say(config, text):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(text)
    else:
        print(text)


@pytest.fixture(scope="module")
def diff_run(request):
    tiers = runner.tiers_from_env()
    _say(request.config, f"\ndifferential: FASTFFI_DIFF_SEED={SEED} FASTFFI_DIFF_COUNT={COUNT} "
                         f"tiers={','.join(tiers)} ({len(BOUNDS)} chunks of {runner.CHUNK_SIZE})")
    build = runner.Build(SEED, COUNT, workdir=os.environ.get("FASTFFI_DIFF_CACHE") or None)
    stats = runner.Stats()
    t0 = time.perf_counter()
    yield build, tiers, stats
    build.close()
    if stats:
        lines = [f"differential summary (seed {SEED}, {time.perf_counter() - t0:.1f}s):"]
        lines += [f"  {k}: {stats[k]}" for k in sorted(stats)]
        _say(request.config, "\n".join(lines))


def format_report(mismatches) -> str:
    groups = collections.OrderedDict()
    # unexplained mismatches first: a new bug must not hide behind known ones
    for m in sorted(mismatches, key=lambda m: bool(m.known)):
        groups.setdefault((m.index, m.tier, m.kind), []).append(m)
    kinds = collections.Counter((m.tier, m.kind) for m in mismatches)
    head = (f"{len(mismatches)} mismatches in {len({m.index for m in mismatches})} signatures "
            f"(FASTFFI_DIFF_SEED={SEED}): " + ", ".join(f"{t}/{k}: {n}" for (t, k), n in sorted(kinds.items())))
    known = collections.Counter(m.known for m in mismatches if m.known)
    if known:
        head += "; matching known causes: " + ", ".join(f"{k}: {n}" for k, n in sorted(known.items()))
    parts = [head]
    for (index, tier, kind), ms in list(groups.items())[:MAX_REPORT]:
        more = f"\n(and {len(ms) - 1} more calls of this signature on this tier)" if len(ms) > 1 else ""
        parts.append(ms[0].format() + more)
    if len(groups) > MAX_REPORT:
        parts.append(f"... {len(groups) - MAX_REPORT} more (signature, tier, kind) groups not shown")
    return "\n\n".join(parts)


@pytest.mark.parametrize("k", range(len(BOUNDS)), ids=[f"sigs{a}-{b - 1}" for a, b in BOUNDS])
def test_differential(diff_run, k):
    build, tiers, stats = diff_run
    chunk = build.chunk(k)
    mismatches, chunk_stats = runner.check_chunk(chunk, tiers)
    stats.update(chunk_stats)
    if mismatches:
        pytest.fail(format_report(mismatches), pytrace=False)


# --- the generator and the harness themselves -------------------------------------------------------

def test_generator_is_deterministic():
    for i in (0, 1, 17, 999):
        a, b = generate(SEED, i), generate(SEED, i)
        assert csource.signature_text(a) == csource.signature_text(b)
        assert (a.hash_seed, a.options, a.tags) == (b.hash_seed, b.options, b.tags)
    assert csource.signature_text(generate(SEED, 5)) != csource.signature_text(generate(SEED + 1, 5))


def test_generator_covers_the_edge_cases():
    sigs = [generate(SEED, i) for i in range(2000)]
    tags = collections.Counter(t for s in sigs for t in s.tags)
    for kind in range(14):
        assert tags[f"exhaust-{kind}"] >= 10, kind
    for cls in ("INTEGER", "SSE", "mixed", "MEMORY"):
        assert tags[f"ret-sysv-{cls}"] >= 10, cls
    for cls in ("HFA", "near-HFA", "small", "large"):
        assert tags[f"ret-aapcs-{cls}"] >= 10, cls
    for pack in (1, 2, 4):
        assert tags[f"pack{pack}"] >= 50
    counts = collections.Counter(len(s.args) for s in sigs)
    assert counts[0] and counts[24] and max(counts) == 24
    assert sum(s.has_union for s in sigs) >= 200
    assert sum(runner.jit_eligible(s) for s in sigs) >= 200
    scalars = collections.Counter(t for s in sigs for t in s.args if not isinstance(t, Agg))
    assert set(scalars) == set(fastffi_scalars())
    # issue 16: 16-byte integers after 5 integer-class arguments (x86-64: wholly on the stack,
    # AArch64: an even pair) and as results
    assert tags["int128"] >= 150
    assert sum(any(t in INT128S and sum(a in INT_LIKE for a in s.args[:j]) == 5 for j, t in enumerate(s.args))
               for s in sigs) >= 10
    assert sum(s.ret in INT128S for s in sigs) >= 50


def fastffi_scalars():
    return ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool", "f32", "f64", "pointer",
            "i128", "u128", "c64", "c128", "longdouble")


def test_oracle_values_are_exact():
    rng = random.Random(1)
    for scalar in fastffi_scalars():
        for _ in range(200):
            v = oracle.random_value(rng, scalar)
            # every value round-trips through its C representation
            if scalar in ("f32", "f64"):
                assert oracle.pack_leaf(scalar, v) == oracle.pack_leaf(scalar, oracle.make_value(
                    scalar, oracle.leaf_u64(scalar, v)))
            elif scalar in INT128S:
                lo, hi = oracle.leaf_words(scalar, v)
                assert (hi << 64 | lo) - ((1 << 128) if scalar == "i128" and hi >> 63 else 0) == v
            elif scalar == "c64":   # parts a float holds exactly
                assert complex(np.complex64(v)) == v and math.isfinite(abs(v))
            elif scalar == "c128":
                assert type(v) is complex and math.isfinite(abs(v))
            elif scalar == "longdouble":   # finite, sometimes below a double's precision
                assert type(v) is np.longdouble and np.isfinite(v)
            elif scalar != "pointer":
                assert oracle.make_value(scalar, oracle.leaf_u64(scalar, v)) == v


class _BrokenFunction:
    """Wraps a real function and breaks it the way a buggy tier would."""

    tier = "broken"

    def __init__(self, fn, sig, how):
        self.fn, self.sig, self.how = fn, sig, how

    def variadic(self, *types):   # a variadic signature's Function, broken alike
        return _BrokenFunction(self.fn.variadic(*types), self.sig, self.how)

    def __call__(self, *args):
        args = list(args)
        if self.how == "arg":  # the first integer scalar argument arrives off by one
            for i, t in enumerate(self.sig.args):
                if t in ("i32", "i64", "u32", "u64") and isinstance(args[i], int) and 0 <= args[i] < 1 << 30:
                    args[i] += 1
                    break
        result = self.fn(*args)
        if self.how == "ret":
            if isinstance(self.sig.ret, Agg):
                data = bytearray(bytes(result))
                data[0] ^= 0xFF  # offset 0 holds a value leaf in every aggregate we make
                fastffi.write_bytes(result, bytes(data))
            elif isinstance(result, bool):
                result = not result
            elif isinstance(result, int):
                result ^= 1
            elif isinstance(result, (float, complex, np.longdouble)):   # bitwise compared: -0.0 too
                result = -result
        return result


class _BrokenLib:
    """Stands in for a Library: every function it makes is a _BrokenFunction over a real tier."""

    def __init__(self, lib, sig, how, real_tier):
        self.lib, self.sig, self.how, self.real_tier = lib, sig, how, real_tier

    def function(self, name, restype, argtypes, tier, **options):
        return _BrokenFunction(self.lib.function(name, restype, argtypes, tier=self.real_tier, **options),
                               self.sig, self.how)


def test_harness_catches_broken_tiers(tmp_path):
    """A tier that corrupts an argument or a return value is reported, on every call it does."""
    real_tier = fastffi.available_tiers()[-1] if "plan" not in fastffi.available_tiers() else "plan"
    chunk = runner.build_chunk(SEED + 7, 0, 60, str(tmp_path))
    sigs = runner.chunk_signatures(chunk.seed, chunk.start, chunk.stop)
    layouts = oracle.parse_layout(sigs, [int(x) for x in open(chunk.layout_path).read().split()])
    seen = collections.Counter()
    with fastffi.dlopen(chunk.so_path) as lib:
        cells = runner.chunk_cells(lib)
        for sig in sigs:
            if runner.run_signature(lib, sig, layouts, [real_tier], cells, runner.Stats()):
                continue  # a real mismatch: test_differential reports it
            for how in ("arg", "ret"):
                found = runner.run_signature(_BrokenLib(lib, sig, how, real_tier), sig, layouts, ["broken"],
                                             cells, runner.Stats())
                kinds = collections.Counter(m.kind for m in found)
                if how == "ret" and sig.ret != "void":
                    assert kinds == {"return": runner.CALLS_PER_SIGNATURE}, (sig.index, kinds)
                    seen["ret"] += 1
                elif how == "arg" and any(t in ("i32", "i64", "u32", "u64") for t in sig.args):
                    assert set(kinds) <= {"hash"}, (sig.index, kinds)
                    seen["arg"] += kinds["hash"]
                else:
                    assert not found, (sig.index, how, found)
    assert seen["ret"] >= 30 and seen["arg"] >= 30, seen
