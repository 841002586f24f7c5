"""Command line for the differential tests (the same checks as tests/test_differential.py).

    PYTHONPATH=tests python -m gen --count 100000 --seed 7
    PYTHONPATH=tests python -m gen --seed 7 --only 1234 --tiers plan --show
"""
from __future__ import annotations

import argparse
import collections
import sys
import time

from . import csource, runner
from .signatures import generate


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gen", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=lambda s: int(s, 0),
                   default=runner.env_int("FASTFFI_DIFF_SEED", runner.DEFAULT_SEED))
    p.add_argument("--count", type=int, default=runner.env_int("FASTFFI_DIFF_COUNT", runner.DEFAULT_COUNT))
    p.add_argument("--start", type=int, default=0, help="first signature index")
    p.add_argument("--only", type=int, action="append", help="run just this signature index (repeatable)")
    p.add_argument("--tiers", default=None, help="comma-separated tiers (default: FASTFFI_DIFF_TIERS or all)")
    p.add_argument("--calls", type=int, default=runner.CALLS_PER_SIGNATURE, help="value sets per signature")
    p.add_argument("--workers", type=int, default=2, help="parallel compilations")
    p.add_argument("--workdir", default=None, help="keep the compiled chunks here (a cache across runs)")
    p.add_argument("--show", action="store_true", help="print the C text of the selected signatures")
    p.add_argument("--in-process", action="store_true", help="no child processes (a crash ends the run)")
    p.add_argument("--max-report", type=int, default=20)
    a = p.parse_args(argv)
    tiers = [t for t in a.tiers.split(",") if t] if a.tiers else runner.tiers_from_env()

    if a.only:
        groups = collections.defaultdict(list)
        for i in a.only:
            groups[i // runner.CHUNK_SIZE].append(i)
        bounds = [(g * runner.CHUNK_SIZE, g * runner.CHUNK_SIZE + runner.CHUNK_SIZE) for g in sorted(groups)]
        if a.show:
            for i in a.only:
                print(csource.signature_text(generate(a.seed, i)), end="\n\n")
    else:
        bounds = runner.chunk_bounds(a.count, start=a.start)
    print(f"differential: seed={a.seed} tiers={','.join(tiers)} chunks={len(bounds)}", flush=True)
    t0 = time.perf_counter()
    build = runner.Build(a.seed, workdir=a.workdir, workers=a.workers, bounds=bounds)
    total, stats = [], runner.Stats()
    try:
        for k, (lo, hi) in enumerate(bounds):
            chunk = build.chunk(k)
            only = set(a.only) if a.only else None
            if a.in_process or a.only:
                ms, st = runner.run_chunk(chunk, tiers, a.calls, only=only)
            else:
                ms, st = runner.check_chunk(chunk, tiers, a.calls)
            total.extend(ms)
            stats.update(st)
            print(f"  chunk {lo}..{hi}: {len(ms)} mismatches (compiled in {chunk.compile_seconds:.1f}s, "
                  f"{time.perf_counter() - t0:.0f}s so far)", flush=True)
    finally:
        build.close()
    total.sort(key=lambda m: bool(m.known))  # unexplained first
    known = collections.Counter(m.known or "UNEXPLAINED" for m in total)
    for m in total[:a.max_report]:
        print(m.format(), end="\n\n")
    for key in sorted(stats):
        print(f"  {key}: {stats[key]}")
    print(f"{len(total)} mismatches in {stats['signatures']} signatures, {time.perf_counter() - t0:.1f}s"
          + (" (" + ", ".join(f"{k}: {n}" for k, n in sorted(known.items())) + ")" if total else ""))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
