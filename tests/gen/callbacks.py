"""Differential tests of the callback mechanisms (tests/callbacks/test_callback_differential.py).

The signatures are signatures.py's (variadic ones left out: a callback cannot be variadic).  For
each, csource.py's checksum function ``f<i>`` is the reference callee, and this module adds a
generated C *caller* ``cbd_f<i>(fn)`` that builds arguments from known values and calls, in turn,

  * ``fn`` -- a Callback of the signature on the mechanism under test, whose ``func`` is the
    reference function itself made callable from Python (``lib.function("f<i>", ..., tier="plan")``):
    every argument crosses C -> Python through the callback and Python -> C through the call, and
    the result comes back both ways;
  * ``f<i>`` directly, C to C.

Each call leaves its argument checksum in ``diff_hash``; the caller folds the value leaves of both
results too.  The four numbers land in ``cbd_out``: what came back through the callback must be
what C alone computed.  The plan call tier that forwards the arguments is tested against the C
compiler on its own (tests/test_differential.py), so a mismatch here is the callback's.

Each chunk runs in a child process (``python -m gen.callbacks``), so a crash is reported with the
chunk that caused it rather than ending the test session."""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from . import csource, runner
from .signatures import Agg, Signature, c_type, generate, value_leaves

CALLER_HELPERS = r"""
uint64_t cbd_out[4];
uint64_t cbd_get(int i) { return cbd_out[i]; }
"""


def callback_signatures(seed: int, start: int, stop: int) -> list:
    return [s for s in (generate(seed, i) for i in range(start, stop)) if s.nfixed is None]


def _libffi_refuses(sig: Signature) -> bool:
    # libffi cannot describe unions or packed layouts, and has no __int128 type.
    return sig.has_union or sig.has_packed or "int128" in sig.tags


def must_check(sigs) -> int:
    """How many of ``sigs`` some mechanism must take: every one but those with c64/c128/longdouble
    (the pool's and the thunk's refusal) that libffi cannot describe either."""
    return sum(1 for s in sigs if not ("wide" in s.tags and _libffi_refuses(s)))


def _value(sig: Signature, i: int, k: int) -> str:
    """The uint64 expression argument ``i``'s leaf ``k`` is made from: known, and distinct."""
    return f"M({sig.hash_seed ^ 0x5A5A5A5A5A5A5A5A:#x}ull, {i * 64 + k + 1})"


def caller(sig: Signature) -> str:
    params = ", ".join(c_type(t) for t in sig.args) or "void"
    lines = [f"void cbd_{sig.name}(void *fnp)", "{",
             f"    {c_type(sig.ret)} (*fn)({params}) = ({c_type(sig.ret)} (*)({params}))fnp;"]
    for i, t in enumerate(sig.args):
        if isinstance(t, Agg):
            # Zeroed first: padding and a union's inactive bytes are then the same for both calls.
            lines.append(f"    {t.tag} a{i}; memset(&a{i}, 0, sizeof a{i});")
            for k, (path, scalar) in enumerate(value_leaves(t)):
                lines.append(f"    a{i}{path} = {csource.make_expr(scalar, _value(sig, i, k))};")
        else:
            lines.append(f"    {c_type(t)} a{i} = {csource.make_expr(t, _value(sig, i, 0))};")
    args = ", ".join(f"a{i}" for i in range(len(sig.args)))
    if sig.ret == "void":
        lines += [f"    fn({args});", "    cbd_out[0] = diff_hash;", f"    {sig.name}({args});",
                  "    cbd_out[1] = diff_hash;", "    cbd_out[2] = cbd_out[3] = 0;"]
    else:
        lines += [f"    {c_type(sig.ret)} r0 = fn({args});", "    cbd_out[0] = diff_hash;",
                  f"    {c_type(sig.ret)} r1 = {sig.name}({args});", "    cbd_out[1] = diff_hash;",
                  "    uint64_t g0 = 0, g1 = 0;"]
        leaves = value_leaves(sig.ret) if isinstance(sig.ret, Agg) else [("", sig.ret)]
        for path, scalar in leaves:
            for e0, e1 in zip(csource.fold_exprs(scalar, f'r0{path}'), csource.fold_exprs(scalar, f'r1{path}')):
                lines.append(f"    g0 = M(g0, {e0});")
                lines.append(f"    g1 = M(g1, {e1});")
        lines += ["    cbd_out[2] = g0;", "    cbd_out[3] = g1;"]
    lines.append("}")
    return "\n".join(lines)


def build_chunk(seed: int, start: int, stop: int, workdir: str) -> str:
    """Compile chunk [start, stop): the reference functions and their callers; the library's path."""
    sigs = callback_signatures(seed, start, stop)
    header = csource.header(sigs)
    source = csource.library_source(sigs, "types.h") + CALLER_HELPERS + "\n".join(caller(s) for s in sigs) + "\n"
    key = hashlib.sha256("\0".join((header, source, runner.cc(), *runner.CFLAGS)).encode()).hexdigest()[:20]
    d = pathlib.Path(workdir) / f"cbchunk_{seed}_{start}_{stop}_{key}"
    so = d / "libcbdiff.so"
    if not so.exists():
        tmp = pathlib.Path(tempfile.mkdtemp(prefix=d.name + ".", dir=workdir))
        (tmp / "types.h").write_text(header)
        (tmp / "lib.c").write_text(source)
        cmd = [runner.cc(), *runner.CFLAGS, "-o", "libcbdiff.so", "lib.c"]
        res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"callback chunk {start}..{stop} (seed {seed}): {' '.join(cmd)} failed:\n"
                               f"{res.stderr[-4000:]}\nsources kept in {tmp}")
        try:
            tmp.rename(d)
        except OSError:   # built concurrently
            shutil.rmtree(tmp, ignore_errors=True)
    return str(so)


def refusal_allowed(mechanism: str, sig: Signature) -> bool:
    """The static pool takes every non-variadic signature the plan tier classifies but those with
    c64/c128/longdouble (libffi closures take them); libffi closures cannot describe unions or
    packed layouts; the thunk may refuse anything."""
    if mechanism == "plan":
        return "wide" in sig.tags
    if mechanism == "libffi":
        return _libffi_refuses(sig)
    return True


def run_chunk(so_path: str, seed: int, start: int, stop: int, mechanisms) -> dict:
    """Check every signature of the chunk on every mechanism: {"checked": n, "mismatches": [...]}."""
    import fastffi

    lib = fastffi.dlopen(so_path)
    get = lib.function("cbd_get", "u64", ["i32"])
    unraisable = []
    sys.unraisablehook = lambda u: unraisable.append(f"{type(u.exc_value).__name__}: {u.exc_value}")
    out, checked = [], 0
    for sig in callback_signatures(seed, start, stop):
        memo: dict = {}

        def conv(t):
            return runner.fastffi_class(t, memo) if isinstance(t, Agg) else t

        ret, args = conv(sig.ret), [conv(t) for t in sig.args]
        reference = lib.function(sig.name, ret, args, tier="plan")
        call = lib.function(f"cbd_{sig.name}", "void", ["pointer"])
        for mech in mechanisms:
            def bad(what):
                out.append({"index": sig.index, "mechanism": mech, "what": what,
                            "c": csource.signature_text(sig) + "\n" + caller(sig)})
            try:
                cb = fastffi.callback((ret, args), reference, tier=mech)
            except fastffi.FFIError as e:
                if not refusal_allowed(mech, sig):
                    bad(f"refused: {type(e).__name__}: {e}")
                continue
            if cb.tier != mech:
                bad(f"asked for {mech}, got {cb.tier}")
            del unraisable[:]
            call(cb.address)
            got = [get(i) for i in range(4)]
            cb.close()
            checked += 1
            if unraisable:
                bad(f"the callback raised: {unraisable}")
            elif got[0] != got[1] or got[2] != got[3]:
                bad(f"argument hash {got[0]:#x} through the callback, {got[1]:#x} from C; "
                    f"result hash {got[2]:#x} through the callback, {got[3]:#x} from C")
    return {"checked": checked, "mismatches": out}


def check_chunk(so_path: str, seed: int, start: int, stop: int, mechanisms, timeout: float = 600) -> dict:
    """run_chunk in a child process; a crash becomes one mismatch naming the chunk."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(pathlib.Path(__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-m", "gen.callbacks", so_path, str(seed), str(start), str(stop),
                           ",".join(mechanisms)], capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        return {"checked": 0, "mismatches": [{"index": f"{start}..{stop}", "mechanism": ",".join(mechanisms),
                                              "what": f"the child exited with {proc.returncode}: "
                                                      f"{proc.stderr[-3000:]}", "c": ""}]}
    return json.loads(proc.stdout.splitlines()[-1])


if __name__ == "__main__":
    so, seed, start, stop, mechs = sys.argv[1:6]
    print(json.dumps(run_chunk(so, int(seed), int(start), int(stop), mechs.split(","))))
