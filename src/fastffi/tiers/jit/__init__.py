"""The JIT tier: per-signature machine code for a Function's whole call path.

Decided here, once per function: whether the platform has an emitter, whether
executable memory can be had (``jit_supported``), whether this build's object
layout is the one the inline fast paths were written for, and whether the
signature is eligible -- each refusal is a reason ``fn.explain()`` shows, and
the function falls back to the plan tier.  Register placement comes from the
plan tier's classifier, so the ABI rules live in one place.

Code depends only on the call's *shape* (argument kinds and registers, return
kind, GIL/errno bracket): the target address and closed flag are read from the
Function at run time.  Functions of one shape share one sealed region, which is
unmapped when the last of them goes away."""
from __future__ import annotations

import threading
import weakref

from ... import _core
from ...abi import FP, FP_STRIDE, GP, STACK, variadic_refusal
from ...model.scalars import VOID, Scalar
from ...model.signature import Signature
from .. import plan as tier_plan
from . import aarch64, layouts, x86_64
from .assembly import Arg, Shape

NAME = "jit"
MAX_ARGS = 8  # node:ffi's cap for its fast calls
_EMITTERS = {x86_64.NAME: x86_64, aarch64.NAME: aarch64}
#: Object layouts the inline fast paths were written for (described in jit/layouts.py).
SUPPORTED_LAYOUTS = frozenset(layouts.LAYOUTS)
_RT = _core.JIT_RUNTIME


class InstallRefused(Exception):
    """The system refused executable memory for this function's code."""


def emitter():
    return _EMITTERS.get(_core.PLAN_ABI)


def layout_refusal(layout: str = _RT["object_layout"]) -> str | None:
    if layout not in SUPPORTED_LAYOUTS:
        return (f"the inline fast paths are written for CPython 3.10/3.11 release builds; "
                f"this build's object layout is {layout!r}")
    return None


def platform_refusal() -> str | None:
    if emitter() is None:
        return f"no JIT emitter for this platform (ABI {_core.PLAN_ABI or 'unknown'})"
    reason = layout_refusal()
    if reason:
        return reason
    if not _core.jit_supported():
        return f"executable memory is refused here (W^X probe failed, errno {_core.jit_probe_errno()})"
    return None


def signature_refusal(sig: Signature, limits=None, max_args: int = MAX_ARGS) -> str | None:
    """Why ``sig`` is not eligible, checked before anything is emitted."""
    n = len(sig.argtypes)
    if n > max_args:  # checked first: nothing below indexes past it
        return f"{n} arguments (the JIT takes at most {max_args})"
    for i, t in enumerate((sig.restype, *sig.argtypes)):
        if t.__class__ is not Scalar:
            where = "the return" if i == 0 else f"argument {i}"
            return f"{where} is a struct by value (the JIT takes scalars only)"
    limits = limits or emitter().LIMITS
    n_fp = [t.is_float for t in sig.argtypes].count(True)
    if n - n_fp > limits[0]:
        return f"{n - n_fp} integer-class arguments (this emitter passes at most {limits[0]} in registers)"
    if n_fp > limits[1]:
        return f"{n_fp} floating-point arguments (this emitter passes at most {limits[1]} in registers)"
    return None


def refusal(sig: Signature) -> str | None:
    return variadic_refusal(sig) or signature_refusal(sig)


def loop_refusal(sig: Signature) -> str | None:
    """Why fn.map() cannot use an emitted loop: the loop unboxes nothing, so it
    takes any scalar signature whose arguments all go in registers (the
    8-argument cap of the call path does not apply)."""
    if not hasattr(emitter(), "emit_loop"):
        return f"the {emitter().NAME} emitter has no batch loop yet"
    limits = emitter().LIMITS
    return signature_refusal(sig, limits, max_args=limits[0] + limits[1])


#: (Signature.call_key(), bracket) -> Shape; bounded, holding no class.
_shapes: dict = {}


def shape_of(sig: Signature, bracket: bool) -> Shape:
    key = (sig.call_key(), bracket)
    shape = _shapes.get(key)
    if shape is None:
        if len(_shapes) >= 4096:
            _shapes.clear()
        shape = _shapes[key] = shape_from_plan(sig, tier_plan.build_plan(sig), bracket)
    return shape


def shape_from_plan(sig: Signature, plan, bracket: bool) -> Shape:
    """The JIT shape of ``sig`` placed by ``plan`` (register-only, scalars)."""
    args = []
    nbufargs = 0
    for move, t in zip(plan.moves, sig.argtypes):
        t = t.key   # a pointer type's pointee changes no code
        arg = _ARGS.get((t, move.dst))
        if arg is None:
            if move.dst >= STACK:
                raise AssertionError("eligible signatures are register-only")
            fp = move.dst >= FP
            arg = _ARGS[t, move.dst] = Arg(t, fp, (move.dst - FP) // FP_STRIDE if fp else (move.dst - GP) // 8)
        args.append(arg)
        nbufargs += t.kind in _BUFFER_KINDS
    ret = sig.restype.key if isinstance(sig.restype, Scalar) else VOID
    return Shape(tuple(args), ret, bracket, nbufargs, sig.nfixed is not None)


#: (type, plan slot) -> Arg: made once each.
_ARGS: dict = {}
_BUFFER_KINDS = (_core.KINDS["pointer"][0], _core.KINDS["string"][0])


_code_lock = threading.Lock()
#: Shape -> (weak reference to its region, entry offset, bytes of code);
#: ("loop", args, ret) -> the same for a batch loop.  A plain dict of weak
#: references whose callbacks drop their own entry: a WeakValueDictionary's
#: lookups and inserts run Python code (and a missing key raises inside it),
#: which creation cannot afford.
_code_cache: dict = {}
#: Entry points in one region start 16-byte aligned.
_ENTRY_ALIGN = 16


def _cached(key):
    """(region, entry offset) for ``key``, or None."""
    hit = _code_cache.get(key)
    if hit is None:
        return None
    region = hit[0]()
    return None if region is None else (region, hit[1])


def _cache(key, region, offset: int, size: int) -> None:
    def forget(ref, key=key):
        hit = _code_cache.get(key)
        if hit is not None and hit[0] is ref:
            del _code_cache[key]
    _code_cache[key] = (weakref.ref(region, forget), offset, size)


def _install(keys, codes):
    """Seal ``codes`` in one fresh mapping, each at an aligned offset (the
    first at 0), and cache each under its key; the region is returned (the
    cache only refers to it weakly).  Raises InstallRefused."""
    parts, offsets, at = [], [], 0
    for code in codes:
        pad = -at % _ENTRY_ALIGN
        parts.append(bytes(pad))   # never executed: every entry starts after it
        offsets.append(at + pad)
        parts.append(code)
        at += pad + len(code)
    try:
        region = _core.CodeRegion(b"".join(parts))
    except OSError as e:
        raise InstallRefused(f"executable memory refused when installing ({e.strerror or e})") from None
    for key, offset, code in zip(keys, offsets, codes):
        _cache(key, region, offset, len(code))
    return region


def code_for(shape: Shape):
    """(region, entry offset) of ``shape``'s sealed code: shared, or emitted
    and installed now."""
    with _code_lock:
        hit = _cached(shape)
        if hit is None:
            hit = _install([shape], [emitter().emit(shape, _RT)]), 0
        return hit


def install_together(shapes):
    """Emit every shape here not installed yet into one sealed mapping: code
    emitted together shares pages (the definitions given to dlopen), code
    emitted later gets fresh ones -- a sealed page is never written again.
    Returns the region, which the caller keeps until its functions hold it
    (or None).  A refusal is left to each function's own installation."""
    with _code_lock:
        missing = list(dict.fromkeys(s for s in shapes if _cached(s) is None))
        if len(missing) < 2:
            return None
        try:
            return _install(missing, [emitter().emit(s, _RT) for s in missing])
        except InstallRefused:
            return None


def loop_for(sig: Signature):
    """The sealed batch loop (fn.map) for a JIT-tier function's shape."""
    shape = shape_of(sig, False)
    key = ("loop", shape.args, shape.ret, shape.variadic)
    with _code_lock:
        hit = _cached(key)
        if hit is None:
            try:
                return _install([key], [emitter().emit_loop(shape, _RT)])
            except InstallRefused:
                return None   # the plan loop serves it
        return hit[0]   # loops are installed alone: their code starts the region


def prepare(sig: Signature, flags: int = 0) -> dict:
    # Any option (release_gil, use_errno) puts the enter/leave helpers around the call.
    region, entry = code_for(shape_of(sig, bool(flags)))
    return {"code": region, "entry": entry, "plan": tier_plan.encoded(sig)}


def code_size(fn) -> int | None:
    """Bytes of code of a JIT function's entry point (its region may hold others)."""
    region = fn._code_
    for ref, offset, size in list(_code_cache.values()):
        if ref() is region and region.address + offset == fn._entry_:
            return size
    return None


def describe(sig: Signature, fn=None) -> list[str]:
    region = fn._code_ if fn is not None else None
    where = ""
    if region is not None:
        size = code_size(fn)
        where = (f": {size} bytes of code at 0x{fn._entry_:x} in a {region.mapped}-byte read+execute "
                 f"mapping, shared by every function of this shape")
    return [f"jit ({emitter().NAME}){where}", "  registers as planned:"] + tier_plan.describe(sig)[1:]
