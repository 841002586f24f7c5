"""Child process of runner.check_chunk: runs one chunk (from ``resume`` on) and reports on stdout,
one JSON object per line: ``{"at": [index, tier, call]}`` before every call (flushed, so the parent
knows what was running if the process dies), ``{"mismatch": {...}}``, and ``{"stats": {...}}`` last."""
from __future__ import annotations

import dataclasses
import json
import sys

from .runner import Chunk, run_chunk


def main() -> int:
    spec = json.load(sys.stdin)
    chunk = Chunk(**{f.name: spec[f.name] for f in dataclasses.fields(Chunk)})
    out = sys.stdout

    def on_call(index, tier, k):
        out.write(json.dumps({"at": [index, tier, k]}) + "\n")
        out.flush()

    only = set(range(spec["resume"], chunk.stop))
    mismatches, stats = run_chunk(chunk, spec["tiers"], spec["calls"], only=only, on_call=on_call)
    for m in mismatches:
        out.write(json.dumps({"mismatch": dataclasses.asdict(m)}) + "\n")
    out.write(json.dumps({"stats": dict(stats)}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
