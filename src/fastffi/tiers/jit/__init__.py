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
from ...model.pointers import FunctionType
from ...model.scalars import VOID, Scalar
from ...model.signature import Signature
from ...model.typed_pointers import result_class
from .. import checks
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
        return (f"the inline fast paths are written for CPython 3.10-3.15 release builds; "
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
        if t.kind in _REFUSED_KINDS:
            where = "the return" if i == 0 else f"argument {i}"
            return f"{where} is {t.name} ({_REFUSED_KINDS[t.kind]}; the plan tier takes it)"
    limits = limits or emitter().LIMITS
    n_fp = [t.is_float for t in sig.argtypes].count(True)
    if n - n_fp > limits[0]:
        return f"{n - n_fp} integer-class arguments (this emitter passes at most {limits[0]} in registers)"
    if n_fp > limits[1]:
        return f"{n_fp} floating-point arguments (this emitter passes at most {limits[1]} in registers)"
    return None


#: Kinds the JIT emits no code for, and why: rare in hot calls, and each
#: would need conversions of its own in every encoder.
_REFUSED_KINDS = {
    **{_core.KINDS[k][0]: "the JIT emits no 16-byte integer conversions" for k in ("i128", "u128")},
    _core.KINDS["wstring"][0]: "the JIT emits no wide-string conversions",
    **{_core.KINDS[k][0]: "the JIT moves 8-byte register images only" for k in ("c64", "c128", "longdouble")},
}


def refusal(sig: Signature) -> str | None:
    return variadic_refusal(sig) or function_result_refusal(sig) or signature_refusal(sig)


def function_result_refusal(sig: Signature) -> str | None:
    """The entry point boxes a pointer result as an int inline; a
    function-pointer result is made a Function by Python code (the plan and
    libffi tiers' box_return calls it), which the emitted code does not call."""
    t = sig.restype
    if t.__class__ is Scalar and isinstance(t.pointee, FunctionType):
        return "the result is a function pointer (returned as a Function; the JIT returns pointers as ints)"
    return None


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


def _bytes_slow(sig: Signature) -> tuple:
    """Per argument, whether a bytes object leaves the inline path
    (_core.ARG_BYTES_SLOW): only a declared pointer type (const-ness, pointee)
    can ask for it, so a signature without one costs one scan."""
    if all(t.__class__ is not Scalar or t.pointee is None for t in sig.argtypes):
        return ()
    return tuple([bool(c & checks.BYTES_SLOW) for c in checks.argument_checks(sig.argtypes)[0]])


def shape_of(sig: Signature, bracket: bool) -> Shape:
    slow = _bytes_slow(sig)   # call_key() sees no pointee or const-ness: the checks are keyed too
    # A typed pointer result is boxed by the core's helper: another shape (call_key() sees no pointee).
    key = (sig.call_key(), bracket, slow, result_class(sig.restype) is not None)
    shape = _shapes.get(key)
    if shape is None:
        if len(_shapes) >= 4096:
            _shapes.clear()
        shape = _shapes[key] = shape_from_plan(sig, tier_plan.build_plan(sig), bracket, slow)
    return shape


def shape_from_plan(sig: Signature, plan, bracket: bool, bytes_slow: tuple = ()) -> Shape:
    """The JIT shape of ``sig`` placed by ``plan`` (register-only, scalars);
    ``bytes_slow`` as _bytes_slow gives it (empty: none)."""
    args = []
    nbufargs = 0
    for i, (move, t) in enumerate(zip(plan.moves, sig.argtypes)):
        t = t.key   # a pointer type's pointee changes no code, only its checks
        slow = bool(bytes_slow) and bytes_slow[i]
        arg = _ARGS.get((t, move.dst, slow))
        if arg is None:
            if move.dst >= STACK:
                raise AssertionError("eligible signatures are register-only")
            fp = move.dst >= FP
            arg = _ARGS[t, move.dst, slow] = Arg(t, fp, (move.dst - FP) // FP_STRIDE if fp else (move.dst - GP) // 8,
                                                 slow)
        args.append(arg)
        nbufargs += t.kind in _BUFFER_KINDS
    ret = sig.restype.key if isinstance(sig.restype, Scalar) else VOID
    return Shape(tuple(args), ret, bracket, nbufargs, sig.nfixed is not None, result_class(sig.restype) is not None)


#: (type, plan slot, bytes slow) -> Arg: made once each.
_ARGS: dict = {}
_BUFFER_KINDS = (_core.KINDS["pointer"][0], _core.KINDS["string"][0])


_code_lock = threading.Lock()
#: Shape -> (weak reference to its region, entry offset, bytes of code);
#: ("loop", args, ret) -> the same for a batch loop.  A plain dict of weak
#: references: a WeakValueDictionary's lookups and inserts run Python code
#: (and a missing key raises inside it), which creation cannot afford.  The
#: references have no callbacks: a callback runs wherever the region happens
#: to die (inside a map(), under Ctrl-C) and an exception in it is only
#: printed ("Exception ignored in ...").  Dead entries are dropped instead
#: when the dict has doubled since the last sweep (_cache), under the lock.
_code_cache: dict = {}
_sweep_at = 64


def _cached(key):
    """(region, entry offset) for ``key``, or None."""
    hit = _code_cache.get(key)
    if hit is None:
        return None
    region = hit[0]()
    return None if region is None else (region, hit[1])


def _cache(key, region, offset: int, size: int) -> None:
    global _sweep_at
    if len(_code_cache) >= _sweep_at:
        for dead in [k for k, hit in _code_cache.items() if hit[0]() is None]:
            del _code_cache[dead]
        _sweep_at = max(64, 2 * len(_code_cache))
    _code_cache[key] = (weakref.ref(region), offset, size)


def _emitted(code: bytes) -> bytes:
    """An emitter's output, recorded as such: the code-region constructor
    installs nothing else (_core/tiers/execmem.c)."""
    _core._jit_record(code)
    return code


def _install(keys, codes, what: str):
    """Seal ``codes`` (emitter outputs, each recorded) in one fresh mapping,
    each at an aligned offset (the first at 0), and cache each under its key;
    the region is returned (the cache only refers to it weakly).  ``what``
    names the code in the ``fastffi.jit`` audit event.  Raises InstallRefused."""
    try:
        region = _core._CodeRegion(tuple(codes), what)
    except OSError as e:
        raise InstallRefused(f"executable memory refused when installing ({e.strerror or e})") from None
    for key, offset, code in zip(keys, region.offsets, codes):
        _cache(key, region, offset, len(code))
    return region


def code_for(shape: Shape, name: str = ""):
    """(region, entry offset) of ``shape``'s sealed code: shared, or emitted
    and installed now (for the function ``name``)."""
    with _code_lock:
        hit = _cached(shape)
        if hit is None:
            hit = _install([shape], [_emitted(emitter().emit(shape, _RT))], name or shape.describe()), 0
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
            return _install(missing, [_emitted(emitter().emit(s, _RT)) for s in missing],
                            "; ".join(s.describe() for s in missing))
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
                return _install([key], [_emitted(emitter().emit_loop(shape, _RT))], f"{sig.name}.map")
            except InstallRefused:
                return None   # the plan loop serves it
        return hit[0]   # loops are installed alone: their code starts the region


def prepare(sig: Signature, flags: int = 0) -> dict:
    # Any option (release_gil, use_errno) puts the enter/leave helpers around the call.
    region, entry = code_for(shape_of(sig, bool(flags)), sig.name)
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
