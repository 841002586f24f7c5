"""Compile generated signatures in chunks and check every tier against the oracle.

``Build`` compiles chunks (shared library + layout program) in a thread pool, caching by source
hash.  ``check_chunk`` runs one chunk in a fresh Python process (``python -m gen.worker``) so a tier
that crashes the process is reported as a mismatch with the signature it was calling, and the rest
of the chunk still runs; ``run_chunk`` does the work in-process (the worker calls it).

A *tier policy* (:func:`refusal_allowed`) says which refusals are allowed: plan must accept
everything, libffi may refuse only signatures with a union or a packed struct or that hit libffi
bug #848, the JIT may refuse only what :func:`jit_eligible` excludes, and any other tier anything.
A refusal is a ``fastffi.SignatureError``; anything else raised at creation is a failure.

Mismatches matching a known cause (:data:`KNOWN_CAUSES`, recognised from the compiler's layout by
oracle.py) are labelled so, and reports list unexplained ones first; they still fail.
"""
from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import dataclasses
import hashlib
import json
import os
import pathlib
import platform
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time

from . import csource, oracle
from .signatures import FLOATS, INT128S, INT_LIKE, WIDE, Agg, Arr, Signature, generate, value_leaves

CHUNK_SIZE = 250
CALLS_PER_SIGNATURE = 3
DEFAULT_SEED = 20240521
DEFAULT_COUNT = 2000
SENTINEL = 0x5EED_DEAD_BEEF_F00D
CFLAGS = ("-std=gnu11", "-O1", "-fPIC", "-shared", "-w")


def cc() -> str:
    return os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0] or "cc"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value, 0) if value else default


def default_tiers() -> list:
    """Every available tier at or below the FASTFFI_TIER ceiling (an exact request above it would
    be lowered), plus libffi (it is always there)."""
    import fastffi
    from fastffi.tiers import selection as _tiers

    order = list(_tiers.TIERS)
    cap = order.index(_tiers.ceiling())
    tiers = [t for t in fastffi.available_tiers() if order.index(t) >= cap]
    if "libffi" not in tiers:
        tiers.append("libffi")
    return tiers


def tiers_from_env() -> list:
    value = os.environ.get("FASTFFI_DIFF_TIERS", "").strip()
    return [t.strip() for t in value.split(",") if t.strip()] if value else default_tiers()


def chunk_bounds(count: int, chunk_size: int = CHUNK_SIZE, start: int = 0) -> list:
    return [(i, min(i + chunk_size, start + count)) for i in range(start, start + count, chunk_size)]


# --- tier policy ------------------------------------------------------------------------------------

def jit_eligible(sig: Signature) -> bool:
    """The JIT eligibility of issue 5 (x86-64 SysV / AArch64 register limits): scalars only, at most
    8 arguments, at most 6 integer-class and 8 float-class ones."""
    if any(isinstance(t, Agg) for t in (sig.ret, *sig.args)) or len(sig.args) > 8:
        return False
    if any(t in INT128S or t in WIDE for t in (sig.ret, *sig.args)):
        return False   # the JIT refuses 16-byte integers, complex and long double
    return sum(t in INT_LIKE for t in sig.args) <= 6 and sum(t in FLOATS for t in sig.args) <= 8


def refusal_allowed(tier: str, sig: Signature, layouts: dict) -> bool:
    if tier == "plan":
        return False
    if tier == "libffi":
        # libffi cannot describe unions or packed layouts; and a signature hitting libffi bug #848
        # (our own reading of it, from the compiler's layout) may be refused rather than miscalled.
        # libffi has no __int128 type (issue 16).
        return sig.has_union or sig.has_packed or any(t in INT128S for t in (sig.ret, *sig.args)) or (
            platform.machine().lower() in ("x86_64", "amd64") and oracle.libffi_848_pattern(sig, layouts))
    if tier == "jit":
        return not jit_eligible(sig)
    return True


# --- building chunks ------------------------------------------------------------------------------

@dataclasses.dataclass
class Chunk:
    seed: int
    start: int
    stop: int
    so_path: str
    layout_path: str
    compile_seconds: float = 0.0


def chunk_signatures(seed: int, start: int, stop: int) -> list:
    return [generate(seed, i) for i in range(start, stop)]


def build_chunk(seed: int, start: int, stop: int, workdir: str) -> Chunk:
    """Write and compile chunk [start, stop) (cached by source hash in ``workdir``)."""
    t0 = time.perf_counter()
    sigs = chunk_signatures(seed, start, stop)
    header = csource.header(sigs)
    hkey = hashlib.sha256(header.encode()).hexdigest()[:16]
    header_name = f"types_{hkey}.h"
    lib_src = csource.library_source(sigs, header_name)
    lay_src = csource.layout_program(sigs, header_name)
    key = hashlib.sha256("\0".join((header, lib_src, lay_src, cc(), *CFLAGS)).encode()).hexdigest()[:20]
    d = pathlib.Path(workdir) / f"chunk_{seed}_{start}_{stop}_{key}"
    so, lay = d / "libdiff.so", d / "layout.txt"
    if not (so.exists() and lay.exists()):
        os.makedirs(workdir, exist_ok=True)
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=d.name + ".", dir=workdir))
        (tmp / header_name).write_text(header)
        (tmp / "lib.c").write_text(lib_src)
        (tmp / "layout.c").write_text(lay_src)
        for cmd in ([cc(), *CFLAGS, "-o", "libdiff.so", "lib.c"],
                    [cc(), "-std=gnu11", "-O0", "-w", "-o", "layout", "layout.c"]):
            res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"differential chunk {start}..{stop} (seed {seed}): {' '.join(cmd)} failed:\n"
                                   f"{res.stderr[-4000:]}\nsources kept in {tmp}")
        out = subprocess.run([str(tmp / "layout")], capture_output=True, text=True, check=True).stdout
        (tmp / "layout.txt").write_text(out)
        try:
            tmp.rename(d)
        except OSError:  # built concurrently by someone else
            shutil.rmtree(tmp, ignore_errors=True)
    return Chunk(seed, start, stop, str(so), str(lay), time.perf_counter() - t0)


class Build:
    """Compiles the chunks of a run in the background (``workers`` compilations at a time):
    signatures [start, start + count) in chunks of ``chunk_size``, or the given ``bounds``."""

    def __init__(self, seed: int, count: int = 0, workdir: str | None = None, workers: int = 2,
                 chunk_size: int = CHUNK_SIZE, start: int = 0, bounds=None):
        self.seed, self.count = seed, count
        self.bounds = list(bounds) if bounds is not None else chunk_bounds(count, chunk_size, start)
        self.own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="fastffi_diff_")
        os.makedirs(self.workdir, exist_ok=True)
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self.futures = [self.pool.submit(build_chunk, seed, a, b, self.workdir) for a, b in self.bounds]

    def chunk(self, k: int) -> Chunk:
        return self.futures[k].result()

    def close(self) -> None:
        for f in self.futures:
            f.cancel()
        self.pool.shutdown(wait=True)
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --- fastffi types from the model -----------------------------------------------------------------

def fastffi_class(a: Agg, memo: dict):
    import fastffi

    if id(a) in memo:
        return memo[id(a)]

    def conv(t):
        if isinstance(t, Agg):
            return fastffi_class(t, memo)
        if isinstance(t, Arr):
            return (conv(t.elem), t.n)
        return t

    ctor = fastffi.struct if a.kind == "struct" else fastffi.union
    fields = [(n, conv(t)) for n, t in a.fields]
    cls = ctor(a.name, fields, pack=a.pack) if a.pack is not None else ctor(a.name, fields)
    memo[id(a)] = cls
    return cls


# --- mismatches -------------------------------------------------------------------------------------

@dataclasses.dataclass
class Mismatch:
    seed: int
    index: int
    tier: str
    kind: str  # layout, refused, create, exception, hash, return, arg-modified, stack-alignment, crash
    detail: str
    c_text: str = ""
    args: str = ""
    known: str = ""  # the known cause this signature matches (triage), or ""

    def format(self) -> str:
        lines = [f"--- signature {self.index} (FASTFFI_DIFF_SEED={self.seed}) tier={self.tier}: {self.kind}",
                 self.detail]
        if self.known:
            lines.append(f"  (matches known cause: {KNOWN_CAUSES[self.known]})")
        if self.args:
            lines.append("arguments: " + self.args)
        if self.c_text:
            lines.append(self.c_text)
        lines.append(f"reproduce: PYTHONPATH=tests python -m gen --seed {self.seed} --only {self.index} "
                     f"--tiers {self.tier}")
        return "\n".join(lines)


def describe_args(sig: Signature, values, limit: int = 24, presented=None) -> str:
    parts = []
    for i, (t, v) in enumerate(zip(sig.args, values), 1):
        shown = ""
        if presented is not None and not isinstance(t, Agg) and type(presented[i - 1]) is not type(v):
            shown = f" passed as {type(presented[i - 1]).__name__}({presented[i - 1]!r})"
        if isinstance(t, Agg):
            leaves = [f"{p[1:]}={lv!r}" for (p, _), lv in zip(value_leaves(t), v.leaves)]
            more = f", ... {len(leaves) - limit} more" if len(leaves) > limit else ""
            parts.append(f"{i}: {t.name}{{{', '.join(leaves[:limit])}{more}}} bytes={v.data.hex()}")
        else:
            parts.append(f"{i}: {t} {v!r}{shown}")
    return "\n  " + "\n  ".join(parts) if parts else "(none)"


KNOWN_CAUSES = {
    "libffi-848": "libffi bug #848: x86-64 ffi_call copies a whole >8-byte struct into the r9 slot, running into "
                  "xmm0's; fixed upstream in 2024, present in libffi 3.4.4",
    "gcc-array-misalign": "an aggregate of <= 16 bytes whose only misaligned leaves are in array elements after "
                          "the first: GCC classifies arrays by element 0 and passes it in registers (SysV); a "
                          "classifier that checks every element passes it in memory (plan tier before 88b21f9)",
}


def known_cause(tier: str, kind: str, sig: Signature, layouts: dict) -> str:
    """Which known cause (KNOWN_CAUSES) a mismatch of ``kind`` for ``sig`` on ``tier`` matches."""
    import fastffi

    if kind not in ("hash", "return"):
        return ""
    if tier == "libffi" and oracle.libffi_848_pattern(sig, layouts):
        return "libffi-848"
    if tier == "plan" and getattr(fastffi._core, "PLAN_ABI", None) == "sysv-x86_64" \
            and oracle.sysv_gcc_array_pattern(sig, layouts):
        return "gcc-array-misalign"
    return ""


# --- running one signature --------------------------------------------------------------------------

class Stats(collections.Counter):
    pass


def tally(sig: Signature, layouts: dict, stats: Stats) -> None:
    """Count what a signature exercises (classes read off the compiler's layout)."""
    stats["signatures"] += 1
    for tag in sig.tags:
        stats[f"tag:{tag}"] += 1
    stats[f"nargs:{min(len(sig.args), 24) // 5 * 5:02d}-{min(len(sig.args), 24) // 5 * 5 + 4:02d}"] += 1
    ints = sum(t in INT_LIKE for t in sig.args)
    fps = sum(t in FLOATS for t in sig.args)
    if ints > 6 or fps > 8:
        stats["scalar args beyond registers (>6 int or >8 fp)"] += 1
    if jit_eligible(sig):
        stats["jit-eligible"] += 1
    if sig.has_union:
        stats["with union by value"] += 1
    if sig.has_packed:
        stats["with packed struct"] += 1
    for t in sig.args:
        if isinstance(t, Agg):
            lay = layouts[id(t)]
            stats["agg args"] += 1
            stats[f"arg sysv {oracle.sysv_class(lay)}"] += 1
            stats[f"arg aapcs64 {oracle.aapcs64_class(lay)}"] += 1
            stats[f"arg size {'1-8' if lay.size <= 8 else '9-16' if lay.size <= 16 else '17-64' if lay.size <= 64 else '65-256' if lay.size <= 256 else '>256'}"] += 1
    ret = sig.ret
    if isinstance(ret, Agg):
        lay = layouts[id(ret)]
        stats[f"ret sysv {oracle.sysv_class(lay)}"] += 1
        stats[f"ret aapcs64 {oracle.aapcs64_class(lay)}"] += 1
        stats[f"ret {ret.kind}"] += 1
    else:
        stats[f"ret {ret}"] += 1


def _norm_result(sig, result, layouts):
    """A comparable form of a result (bytes of the value leaves for aggregates)."""
    if isinstance(sig.ret, Agg):
        data = bytes(result)
        lay = layouts[id(sig.ret)]
        return b"".join(data[o:o + len(oracle.pack_leaf(s, 0))]
                        for (_, s), o in zip(value_leaves(sig.ret), lay.value_offsets))
    if sig.ret in FLOATS:
        return ("float", oracle.pack_leaf(sig.ret, result)) if isinstance(result, float) else ("raw", repr(result))
    return (type(result).__name__, result)


def run_signature(lib, sig: Signature, layouts: dict, tiers, cells, stats: Stats,
                  calls: int = CALLS_PER_SIGNATURE, on_call=None) -> list:
    """Check ``sig`` on every tier; returns the mismatches."""
    import fastffi

    out = []
    c_text = csource.signature_text(sig)
    hash_cell, arg_cells, cfa_cell = cells

    options = f" [created with {', '.join(o + '=True' for o in sig.options)}]" if sig.options else ""

    presented = None

    def mismatch(tier, kind, detail, values=None):
        out.append(Mismatch(sig.seed, sig.index, tier, kind, detail + options, c_text,
                            describe_args(sig, values, presented=presented) if values is not None else "",
                            known_cause(tier, kind, sig, layouts)))

    tally(sig, layouts, stats)

    # Our layout must equal the compiler's before any call is meaningful.
    memo: dict = {}
    classes = {}
    for a in sig.aggregates():
        try:
            cls = fastffi_class(a, memo)
        except Exception as e:  # noqa: BLE001 - reported
            mismatch("-", "layout", f"fastffi.{a.kind}({a.name!r}, ...) raised {type(e).__name__}: {e}")
            return out
        lay = layouts[id(a)]
        got = (fastffi.sizeof(cls), fastffi.alignof(cls),
               [fastffi.offsetof(cls, n) for n, _ in a.fields])
        want = (lay.size, lay.align, lay.field_offsets)
        if got != want:
            mismatch("-", "layout", f"{a.tag}: fastffi (size, align, field offsets) {got} != compiler {want}")
            return out
        classes[id(a)] = cls
    argtypes = [classes[id(t)] if isinstance(t, Agg) else t for t in sig.args]
    restype = classes[id(sig.ret)] if isinstance(sig.ret, Agg) else sig.ret

    fns = {}
    for tier in tiers:
        try:
            if sig.nfixed is None:
                fns[tier] = lib.function(sig.name, restype, argtypes, tier=tier,
                                         **{o: True for o in sig.options})
            else:
                # Declared with `...`, called through fn.variadic with the rest's types.
                fns[tier] = lib.function(sig.name, restype, [*argtypes[:sig.nfixed], ...], tier=tier,
                                         **{o: True for o in sig.options}).variadic(*argtypes[sig.nfixed:])
            stats[f"tier {tier}: accepted"] += 1
        except fastffi.SignatureError as e:
            stats[f"tier {tier}: refused"] += 1
            if not refusal_allowed(tier, sig, layouts):
                mismatch(tier, "refused", f"tier {tier!r} refused a signature it must take: {e}")
        except Exception as e:  # noqa: BLE001 - reported
            mismatch(tier, "create", f"lib.function(...) raised {type(e).__name__}: {e}")
        else:
            if fns[tier].tier != tier:
                mismatch(tier, "create", f"asked for tier {tier!r}, got fn.tier == {fns[tier].tier!r}")

    for k in range(calls):
        rng = random.Random(f"fastffi-diff-values:{sig.seed}:{sig.index}:{k}")
        values = oracle.random_args(rng, sig, layouts)
        presented = [v if isinstance(t, Agg) else oracle.present(rng, t, v) for t, v in zip(sig.args, values)]
        want_hash = oracle.expected_hash(sig, values)
        if isinstance(sig.ret, Agg):
            want_leaves = oracle.expected_return_leaves(sig, want_hash, layouts[id(sig.ret)])
        else:
            want_ret = oracle.expected_return(sig, want_hash)
        results = {}
        for tier, fn in fns.items():
            args = []
            for t, v, p in zip(sig.args, values, presented):
                if isinstance(t, Agg):
                    inst = classes[id(t)]()
                    fastffi.write_bytes(inst, v.data)
                    args.append(inst)
                else:
                    args.append(p)
            if on_call is not None:
                on_call(sig.index, tier, k)
            hash_cell.value = SENTINEL
            cfa_cell.value = SENTINEL
            for j in range(len(sig.args)):
                arg_cells[j] = SENTINEL
            try:
                result = fn(*args)
            except Exception as e:  # noqa: BLE001 - reported
                mismatch(tier, "exception", f"call {k} raised {type(e).__name__}: {e}", values)
                continue
            stats[f"tier {tier}: calls"] += 1
            got_hash = hash_cell.value
            bad = False
            if got_hash != want_hash:
                want_args = oracle.expected_arg_hashes(sig, values)
                wrong = [f"{j + 1} ({sig.args[j] if isinstance(sig.args[j], str) else sig.args[j].tag})"
                         for j in range(len(sig.args)) if arg_cells[j] != want_args[j]]
                mismatch(tier, "hash", f"call {k}: the C side saw different arguments: checksum "
                                       f"{got_hash:#018x}, expected {want_hash:#018x}; arguments that arrived "
                                       f"wrong: {', '.join(wrong) or 'none (the call never happened?)'}", values)
                bad = True
            if cfa_cell.value not in (0, SENTINEL):
                mismatch(tier, "stack-alignment", f"call {k}: the stack pointer at the call was "
                                                  f"{cfa_cell.value} mod 16, not 0", values)
            for i, (t, v, a) in enumerate(zip(sig.args, values, args), 1):
                if isinstance(t, Agg) and bytes(a) != v.data:
                    mismatch(tier, "arg-modified", f"call {k}: argument {i} ({t.name}) changed in the caller: "
                                                   f"{bytes(a).hex()} (was {v.data.hex()}) -- passed without a copy?",
                             values)
                    bad = True
            if isinstance(sig.ret, Agg):
                if type(result) is not classes[id(sig.ret)]:
                    mismatch(tier, "return", f"call {k}: returned {type(result).__name__}, expected {sig.ret.name}",
                             values)
                    continue
                data = bytes(result)
                wrong = [(p, s, o, w, data[o:o + len(w)]) for p, s, o, w in want_leaves if data[o:o + len(w)] != w]
                if wrong and not bad:
                    desc = "; ".join(f"{p[1:]} ({s} @{o}): got {g.hex()} expected {w.hex()}"
                                     for p, s, o, w, g in wrong[:12])
                    mismatch(tier, "return", f"call {k}: {len(wrong)} of {len(want_leaves)} returned leaves wrong: "
                                             f"{desc}\n  returned bytes {data.hex()}", values)
            else:
                if not oracle.same_scalar(sig.ret, result, want_ret) and not bad:
                    mismatch(tier, "return", f"call {k}: returned {result!r} ({type(result).__name__}), "
                                             f"expected {want_ret!r}", values)
            try:
                results[tier] = _norm_result(sig, result, layouts)
            except Exception as e:  # noqa: BLE001
                results[tier] = ("unreadable", repr(e))
        if len(set(map(repr, results.values()))) > 1:
            stats["tier disagreements"] += 1
    return out


def chunk_cells(lib):
    """ctypes views of a chunk library's globals: (diff_hash, diff_args, diff_cfa_mod16)."""
    return (ctypes.c_uint64.from_address(lib.symbol("diff_hash")),
            (ctypes.c_uint64 * 24).from_address(lib.symbol("diff_args")),
            ctypes.c_uint64.from_address(lib.symbol("diff_cfa_mod16")))


def run_chunk(chunk: Chunk, tiers, calls: int = CALLS_PER_SIGNATURE, only=None, on_call=None,
              on_signature=None):
    """-> (mismatches, stats) for the signatures of ``chunk`` (or the indices in ``only``)."""
    import fastffi

    sigs = chunk_signatures(chunk.seed, chunk.start, chunk.stop)
    numbers = [int(x) for x in pathlib.Path(chunk.layout_path).read_text().split()]
    layouts = oracle.parse_layout(sigs, numbers)
    stats = Stats()
    mismatches = []
    with fastffi.dlopen(chunk.so_path) as lib:
        cells = chunk_cells(lib)
        for sig in sigs:
            if only is not None and sig.index not in only:
                continue
            if on_signature is not None:
                on_signature(sig.index)
            mismatches.extend(run_signature(lib, sig, layouts, tiers, cells, stats, calls, on_call))
    return mismatches, stats


# --- running a chunk in a child process -------------------------------------------------------------

def check_chunk(chunk: Chunk, tiers, calls: int = CALLS_PER_SIGNATURE, timeout: float = 600):
    """Run ``chunk`` in fresh Python processes; a crash becomes a ``crash`` mismatch naming the
    signature, tier and call, and the chunk resumes after it.  -> (mismatches, stats)."""
    import fastffi

    # The child imports this package and the very fastffi this process uses.
    paths = [str(pathlib.Path(__file__).resolve().parent.parent),
             str(pathlib.Path(fastffi.__file__).resolve().parent.parent)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    mismatches, stats = [], Stats()
    start = chunk.start
    while start < chunk.stop:
        spec = dict(dataclasses.asdict(chunk), tiers=list(tiers), calls=calls, resume=start)
        proc = subprocess.run([sys.executable, "-m", "gen.worker"], input=json.dumps(spec), env=env,
                              capture_output=True, text=True, timeout=timeout)
        last = None
        finished = False
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if "at" in msg:
                last = msg["at"]
            elif "mismatch" in msg:
                mismatches.append(Mismatch(**msg["mismatch"]))
            elif "stats" in msg:
                stats.update(msg["stats"])
                finished = True
        if finished and proc.returncode == 0:
            break
        # The worker died (a crash in a tier, most likely): blame what it was doing.
        if last is None:
            raise RuntimeError(f"differential worker failed before any call (exit {proc.returncode}):\n"
                               f"{proc.stderr[-4000:]}")
        index, tier, k = last
        sig = generate(chunk.seed, index)
        mismatches.append(Mismatch(chunk.seed, index, tier, "crash",
                                   f"the process died (exit status {proc.returncode}) during call {k}:\n"
                                   f"{proc.stderr[-2000:]}", csource.signature_text(sig)))
        stats["crashes"] += 1
        start = index + 1
    return mismatches, stats


__all__ = ["Build", "Chunk", "Mismatch", "Stats", "build_chunk", "check_chunk", "run_chunk", "run_signature",
           "chunk_bounds", "default_tiers", "tiers_from_env", "refusal_allowed", "jit_eligible", "env_int",
           "CHUNK_SIZE", "DEFAULT_SEED", "DEFAULT_COUNT", "KNOWN_CAUSES", "known_cause", "chunk_cells"]
