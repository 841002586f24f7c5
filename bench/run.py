"""``python -m fastffi bench``: fastffi against ctypes, cffi and a hand-written extension.

1. build.py compiles the targets, the hand-written extension and the cffi
   API module (cached);
2. peers.py finds the peers that can run here (one per fastffi tier) and
   binds every case on every peer, checking the result once;
3. timing.py measures ns/call, min over interleaved repeats;
4. with --callgrind, callgrind.py counts instructions/call;
   --batch, --creation, --variadic, --representation and --callbacks add
   their own sections (batch.py, creation.py, ... callbacks.py);
5. report.py prints markdown tables (and --markdown FILE writes them).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Sequence

from . import build, callgrind, plot, report, timing
from .cases import CASES, CASES_BY_NAME
from .peers import Unsupported, discover

HANDWRITTEN = "hand-written"
CTYPES = "ctypes CDLL"


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m fastffi bench",
        description="Compare fastffi with ctypes, cffi and a hand-written extension.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="benchmarks: " + ", ".join(c.name for c in CASES))
    parser.add_argument("--quick", action="store_true",
                        help="fewer, shorter samples and callgrind runs (noisier)")
    parser.add_argument("--repeats", type=int, help="interleaved timing repeats (default 100, quick 10)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only these benchmarks (repeatable, or comma-separated)")
    parser.add_argument("--peer", action="append", metavar="TEXT",
                        help="run only peers whose name contains TEXT (repeatable)")
    parser.add_argument("--callgrind", action="store_true",
                        help="also count instructions/call under valgrind (1-2 minutes)")
    parser.add_argument("--calls", type=int,
                        help="calls per benchmark under callgrind (default 20000, quick 5000)")
    parser.add_argument("--no-timing", action="store_true", help="skip the ns/call measurement")
    parser.add_argument("--batch", action="store_true",
                        help="also benchmark batched calls (fn.map) against a C loop and numpy")
    parser.add_argument("--creation", action="store_true", help="also measure the cost of creating functions")
    parser.add_argument("--variadic", action="store_true",
                        help="also benchmark variadic calls (snprintf, va_sum) against ctypes, cffi and a C loop")
    parser.add_argument("--callbacks", action="store_true",
                        help="also benchmark callbacks (C calling Python: held, released, foreign thread; "
                             "creation; qsort) against ctypes, cffi and a hand-written floor")
    parser.add_argument("--headers", action="store_true",
                        help="also measure include() of real headers, cold and warm, against cffi's cdef")
    parser.add_argument("--representation", action="store_true",
                        help="also count what a no-op call costs per callable representation (callgrind)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--plot", metavar="DIR",
                        help="also draw PNG bar charts of what was measured into DIR (needs matplotlib)")
    opts = parser.parse_args(argv)

    opts.cases = list(CASES)
    if opts.only:
        names = [n.strip() for arg in opts.only for n in arg.split(",") if n.strip()]
        unknown = [n for n in names if n not in CASES_BY_NAME]
        if unknown:
            parser.error(f"unknown benchmark {', '.join(unknown)}; "
                         f"choose from {', '.join(CASES_BY_NAME)}")
        opts.cases = [c for c in CASES if c.name in names]
    opts.repeats = opts.repeats or (10 if opts.quick else 100)
    opts.sample_ns = (1 if opts.quick else 2) * 1_000_000
    opts.calls = opts.calls or (5000 if opts.quick else 20000)
    return opts


def _progress(message: str) -> None:
    """One overwritten status line on a terminal's stderr."""
    if sys.stderr.isatty():
        print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def _done_progress() -> None:
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def _tables(title, unit, values, fmt, case_names, peer_names, bases) -> list[str]:
    """The values' table, then one table of ratios to each base peer present."""
    tables = [report.table(title, case_names, peer_names, values, fmt)]
    for base in bases:
        if base in peer_names:
            tables.append(report.table(f"{unit} ÷ {base}", case_names, peer_names,
                                       report.ratios(values, base), ".3f" if base == CTYPES else ".2f"))
    return tables


def _loop_cost(loop: dict[str, float], peer_names) -> str:
    """The empty loop's cost: one number when every peer's process agrees."""
    if len({round(v) for v in loop.values()}) == 1:
        return f"{next(iter(loop.values())):.0f}"
    return ", ".join(f"{p} {loop[p]:.0f}" for p in peer_names if p in loop)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # "python -m fastffi bench -- --quick" forwards the separator
        argv = argv[1:]
    opts = _parse_args(argv)
    artifacts = build.build()
    notes = list(artifacts.notes)
    peers, peer_notes = discover(artifacts)
    notes += peer_notes
    if opts.peer:
        peers = [p for p in peers if any(t.lower() in p.name.lower() for t in opts.peer)]
        if not peers:
            print(f"no peer name contains any of {opts.peer}", *notes, sep="\n", file=sys.stderr)
            return 2

    bindings = {}
    for case in opts.cases:
        for peer in peers:
            try:
                bindings[case.name, peer.name] = peer.bind(case)
            except Unsupported as e:
                notes.append(f"{peer.name}, {case.name}: {e}")

    case_names = [c.name for c in opts.cases]
    peer_names = [p.name for p in peers]
    machine = report.machine()
    sections = ["## fastffi benchmarks", machine]
    charts = []   # (file name, draw(path)) for --plot

    if not opts.no_timing:
        ns, empty_ns = timing.measure(bindings, opts.repeats, opts.sample_ns, _progress)
        _done_progress()
        sections += _tables(
            f"ns/call (min of {opts.repeats} interleaved repeats; the empty loop, "
            f"{empty_ns:.1f} ns/iteration, taken off)", "ns/call", ns, ".1f",
            case_names, peer_names, bases=(CTYPES, HANDWRITTEN))
        charts.append(("ns_per_call.png", lambda path, ns=ns: plot.grouped(
            path, "ns per call (lower is better)", "ns/call", case_names, peer_names, ns, machine)))

    if opts.callgrind:
        if callgrind.valgrind() is None:
            notes.append("--callgrind: valgrind is not installed")
        else:
            ir, loop, cg_notes = callgrind.measure(peer_names, case_names, opts.calls,
                                                   artifacts.directory, progress=_progress)
            _done_progress()
            notes += cg_notes
            sections += _tables(
                f"instructions/call (callgrind, {opts.calls} calls; the empty loop, "
                f"{_loop_cost(loop, peer_names)} instructions/iteration, taken off)",
                "instructions/call", ir, ".0f", case_names, peer_names, bases=(HANDWRITTEN,))
            charts.append(("instructions_per_call.png", lambda path, ir=ir: plot.grouped(
                path, "instructions per call, callgrind (lower is better)", "instructions/call",
                case_names, peer_names, ir, machine)))

    if opts.representation:
        from . import representation

        try:
            sections.append("\n".join(representation.run()))
        except RuntimeError as e:
            notes.append(f"--representation: not run: {e}")

    if opts.creation:
        from . import creation

        sections.append("\n".join(creation.run(opts.quick)))

    if opts.batch:
        from . import batch

        per_row: list[tuple[str, float]] = []
        try:
            sections.append("\n".join(batch.run(opts.quick, per_row)))
            charts.append(("map_ns_per_row.png", lambda path: plot.rows(
                path, "fn.map(): ns per row (lower is better)", "ns/row", per_row, machine)))
        except (ImportError, RuntimeError) as e:
            notes.append(f"--batch: not run: {e}")

    if opts.variadic:
        from . import variadic

        try:
            sections.append("\n".join(variadic.run(opts.quick, callgrind=opts.callgrind)))
        except RuntimeError as e:
            notes.append(f"--variadic: not run: {e}")

    if opts.callbacks:
        from . import callbacks

        per_invocation: dict = {}
        try:
            sections.append("\n".join(callbacks.run(opts.quick, callgrind=opts.callgrind,
                                                    per_invocation=per_invocation)))
        except RuntimeError as e:
            notes.append(f"--callbacks: not run: {e}")
        else:
            for unit, values in per_invocation.items():
                cb_cases = sorted({case for case, _ in values})
                cb_peers = list(dict.fromkeys(peer for _, peer in values))
                charts.append((f"callback_{unit}_per_invocation.png", lambda path, unit=unit, values=values,
                               cases=cb_cases, peers=cb_peers: plot.grouped(
                    path, f"callbacks: {unit} per invocation from a C loop (lower is better)",
                    f"{unit}/invocation", cases, peers, values, machine)))
    if opts.headers:
        from . import headers

        sections.append("\n".join(headers.run(opts.quick)))

    if opts.plot:
        try:
            for name, draw in charts:
                print(f"chart: {draw(pathlib.Path(opts.plot) / name)}", file=sys.stderr)
        except RuntimeError as e:   # no matplotlib
            print(e, file=sys.stderr)
            return 2
    sections.append(report.notes(notes))
    text = "\n\n".join(s for s in sections if s) + "\n"
    print(text, end="")
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(text)
    return 0
