"""Instructions per call, counted by callgrind: deterministic where time is not.

One valgrind process per peer runs _cg_worker, which times nothing: it runs
loops in segments, and callgrind (``--dump-before=getppid``) writes each
segment's instruction count (Ir) to a numbered file.  With the segments of
the same process, after the same setup and warm-up:

    Ir_0       the empty loop, 0 iterations
    Ir_empty   the empty loop, N iterations
    Ir_case    the case's call loop, N calls

    loop (per iteration) = (Ir_empty - Ir_0) / N
    instructions/call    = (Ir_case - Ir_0) / N - loop    (the loop taken off)

One process per peer rather than one per (peer, case, N): starting Python
with its imports costs hundreds of millions of instructions, several
seconds under valgrind, and would dominate the run.  PYTHONHASHSEED=0 fixes
string hashing so the counts repeat exactly.  The peers' processes are
independent and run in parallel, one per CPU.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ._cg_worker import MARKER

_TOTAL = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


class WorkerError(RuntimeError):
    """A run under valgrind failed; the message says how."""


def valgrind() -> str | None:
    """The valgrind executable, or None when it is not installed."""
    return shutil.which("valgrind")


def measure(peers: Iterable[str], cases: Sequence[str], n: int, build_dir: Path,
            jobs: int | None = None, progress: Callable[[str], None] = lambda msg: None
            ) -> tuple[dict[tuple[str, str], float], dict[str, float], list[str]]:
    """Count each of the cases that each peer supports.

    Returns ({(case, peer): instructions per call, the loop taken off},
             {peer: the empty loop's instructions per iteration},
             notes on the peers whose run failed).
    """
    peers = list(peers)
    per_call, loop, notes = {}, {}, []
    with tempfile.TemporaryDirectory(prefix="fastffi-cg-") as out_dir, \
            ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        futures = {pool.submit(_run_peer, peer, cases, n, build_dir, Path(out_dir)): peer
                   for peer in peers}
        progress(f"callgrind: 0/{len(peers)} peers done")
        for done, future in enumerate(as_completed(futures), 1):
            progress(f"callgrind: {done}/{len(peers)} peers done")
            peer = futures[future]
            try:
                totals = future.result()
            except WorkerError as e:
                notes.append(f"{peer}: {e}")
                continue
            loop[peer] = (totals["empty/N"] - totals["empty/0"]) / n
            for label, total in totals.items():
                case = label.removesuffix("/N")
                if case != label and case != "empty":
                    per_call[case, peer] = (total - totals["empty/0"]) / n - loop[peer]
    return per_call, loop, notes


def _run_peer(peer: str, cases: Sequence[str], n: int, build_dir: Path,
              out_dir: Path) -> dict[str, int]:
    """{segment name: Ir} for one peer's worker run."""
    return segment_totals(["-m", f"{__package__}._cg_worker", peer, str(n), str(build_dir), *cases],
                          out_dir / ("cg-" + re.sub(r"\W", "_", peer)))


def segment_totals(args: Sequence[str], out: Path, labels: Sequence[str] | None = None, *,
                   cwd: str | Path | None = None) -> dict[str, int]:
    """{segment name: Ir} for one Python worker run under callgrind.

    ``args`` follow the interpreter (``-m module ...`` or a script).  The
    worker ends each segment with a MARKER() call; ``labels`` name the
    segments in order or, when None, the worker names them in a JSON list on
    the last line of its stdout.  The dumps are written beside ``out``.
    """
    # sys.executable, not "python3": a pyenv shim is a shell script, and
    # valgrind would count bash.
    command = [valgrind(), "--tool=callgrind", f"--dump-before={MARKER}",
               f"--callgrind-out-file={out}", sys.executable, *args]
    done = subprocess.run(command, env=dict(os.environ, PYTHONHASHSEED="0"),
                          capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise WorkerError(f"callgrind run failed (exit {done.returncode}): {done.stderr[-2000:]}")
    if labels is None:
        labels = json.loads(done.stdout.splitlines()[-1])
    # Dump k (file out.k) holds the segment that ended at the k-th marker;
    # the exit's dump, ``out`` itself, is what followed the last one.
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    if len(dumps) != len(labels):
        raise WorkerError(f"{len(dumps)} callgrind dumps for {len(labels)} segments: "
                          f"did {MARKER}() run elsewhere, or not show up by that name?")
    return {label: read_total(path) for label, path in zip(labels, dumps)}


def read_total(path: Path) -> int:
    """The total instruction count (Ir) in a callgrind output file."""
    m = _TOTAL.search(path.read_bytes())
    if m is None:
        raise WorkerError(f"no summary/totals line in {path}")
    return int(m.group(1))
