"""Choosing how C reaches a callback, once, when it is made.

Mechanisms, fastest first, named like the call tiers they mirror: ``jit``
(a per-signature thunk), ``plan`` (a slot of the static trampoline pool,
assembled into the C core: no executable memory at run time), ``libffi``
(a libffi closure).  ``tier="auto"``, an exact request and the
``FASTFFI_TIER`` ceiling behave as they do for functions (tiers/selection.py).

The callee side of a call is the caller's classification read in reverse:
the pool's dispatcher reads the very plan the plan tier would run to call
this signature (abi/, tiers/plan.py)."""
from __future__ import annotations

from typing import Any, NamedTuple

from .. import _core
from ..errors import FFIError, SignatureError
from ..model.pointers import FunctionType
from ..model.scalars import Scalar
from ..model.signature import Signature, type_name
from . import callback_pool, checks, introspection
from . import libffi as tier_libffi
from .jit import thunk as tier_thunk
from .selection import TIERS, ceiling, public_type

MECHANISMS = TIERS
_CODES = {"jit": _core.CALLBACK_JIT, "plan": _core.CALLBACK_PLAN, "libffi": _core.CALLBACK_LIBFFI}


class CallbackSpec(NamedTuple):
    name: str               #: for messages and repr
    func: Any               #: the Python callable C reaches
    onerror: Any            #: None or callable(exc_type, exc, traceback)
    error: Any              #: the result C gets when Python raised or cannot run (converted in C)
    retkind: int            #: kind code of the result (``KIND_STRUCT`` for a struct)
    argkinds: bytes         #: per argument, the kind it is boxed from (a non-const ``char *``: pointer)
    retstruct: Any          #: the struct/union class of a by-value result, else None
    retsize: int            #: bytes of the result
    retfunction: Any        #: a function-pointer result: (key, type text) a Callback returned must match, else None
    argstructs: tuple       #: per argument, its struct/union class or None
    restype: Any            #: what ``cb.restype`` shows
    argtypes: tuple         #: what ``cb.argtypes`` shows
    signature: str          #: ``cb.signature``
    key: Any                #: what a function-pointer parameter's type is compared with
    mechanism: int          #: ``_core.CALLBACK_JIT``, ``CALLBACK_PLAN`` or ``CALLBACK_LIBFFI``
    explanation: Any        #: ``cb.explain()``'s text, or a callable making it on first use
    ffi_structs: Any        #: libffi: ``FFIStructType`` or None for (result, *arguments)
    plan: bytes | None      #: plan: the encoded classification the pool's dispatcher reads in reverse
    code: Any               #: jit: the ``CodeRegion`` holding the thunk
    entry: int              #: jit: the thunk's offset in ``code``
    inspect: Any = None     #: ``inspect.signature(cb)``: a callable making it on first use (tiers/introspection.py)


if CallbackSpec._fields != _core.CALLBACK_SPEC_FIELDS:
    raise ImportError(f"fastffi.tiers.callback: CallbackSpec's fields {CallbackSpec._fields} are not the C core's "
                      f"{_core.CALLBACK_SPEC_FIELDS} (_core/callbacks/callback_spec.h): rebuild, or edit both")

if CallbackSpec._fields[1:4] != ("func", "onerror", "error"):
    # create() rebuilds a cached spec around these three fields by position.
    raise ImportError("fastffi.tiers.callback: CallbackSpec's fields 1-3 must be func, onerror, error")

_STRING = _core.KINDS["string"][0]
_WSTRING = _core.KINDS["wstring"][0]
_POINTER = _core.KINDS["pointer"][0]
_STRUCT = _core.KIND_STRUCT


def signature_refusal(sig: Signature) -> str | None:
    """What no mechanism takes."""
    if sig.nfixed is not None:
        return "a variadic callback cannot read its arguments (C has no portable va_list from a callee's side)"
    if len(sig.argtypes) > _core.MAX_ARGS:
        return f"{len(sig.argtypes)} arguments (at most {_core.MAX_ARGS} are supported)"
    return None


def _libffi_signature_refusal(sig: Signature) -> str | None:
    """c64/c128/longdouble are taken here: the closure hands each argument
    over as a pointer to its bytes and loads the result from a buffer of its
    type's size (callback.c converts through a Wide); structs holding them
    are plain bytes both ways, except the one return libffi gets wrong."""
    for i, t in enumerate((sig.restype, *sig.argtypes)):
        if t.__class__ is Scalar and t.is_int128:
            return "libffi has no __int128 type" if i == 0 else f"argument {i}: libffi has no __int128 type"
        if t.__class__ is not Scalar:
            reason = tier_libffi.struct_refusal(t)
            if reason is not None:
                return reason if i == 0 else f"argument {i}: {reason}"
    return tier_libffi.x87_struct_return(sig)


#: Per mechanism: why this process cannot use it at all (None: it can), and
#: why it cannot take one signature.
_PLATFORM_REFUSALS = {"jit": tier_thunk.platform_refusal, "plan": callback_pool.platform_refusal,
                      "libffi": lambda: None}
_SIGNATURE_REFUSALS = {"jit": tier_thunk.signature_refusal, "plan": callback_pool.refusal,
                       "libffi": _libffi_signature_refusal}


def _refusal(mechanism: str, sig: Signature) -> str | None:
    return _PLATFORM_REFUSALS[mechanism]() or _SIGNATURE_REFUSALS[mechanism](sig)


def available_mechanisms() -> tuple[str, ...]:
    """The callback mechanisms this process can use, fastest first, under
    the FASTFFI_TIER ceiling."""
    cap = MECHANISMS.index(ceiling())
    return tuple(m for m in MECHANISMS[cap:] if _PLATFORM_REFUSALS[m]() is None)


def _boxed_kind(t) -> int:
    """How an argument reaches ``func``: as a call's result would, except
    that only ``const char *`` (and the list form's ``string``) arrives as
    str -- any other ``char *`` is an address (curl's write buffer is not
    NUL-terminated: decoding it would read past its end)."""
    if t.__class__ is not Scalar:
        return _STRUCT
    if t.kind in (_STRING, _WSTRING) and t.pointee is not None and not t.const:
        return _POINTER   # (wchar_t * too: a buffer C fills need not be terminated)
    return t.kind


def _prepare(mechanism: str, sig: Signature) -> dict:
    if mechanism == "jit":
        return tier_thunk.prepare(sig, bytes([_boxed_kind(t) for t in sig.argtypes]))
    if mechanism == "libffi":
        return {"ffi_structs": tuple(None if t.__class__ is Scalar else tier_libffi.ffi_struct_type(t)
                                     for t in (sig.restype, *sig.argtypes))}
    if mechanism == "plan":
        return callback_pool.prepare(sig)
    raise FFIError(f"{sig.name}: callback mechanism {mechanism!r} has no preparation")


#: (signature, tier, FASTFFI_TIER ceiling, key, declaration) -> (mechanism, spec with no func,
#: onerror or error): what creating a callback of a known signature reuses, so that it costs
#: the C object and a trampoline slot (a stub, a closure), not the selection and the spec.
#: Only signatures of scalars that point at no class are cached (``_cacheable``): an entry
#: never keeps a struct class alive.  Bounded: cleared when it reaches _TEMPLATES_MAX.
_templates: dict = {}
_TEMPLATES_MAX = 1024


def _cacheable(sig: Signature) -> bool:
    for t in (sig.restype, *sig.argtypes):
        if t.__class__ is not Scalar:
            return False
        p = t.pointee
        if p is not None and (p.__class__ is not Scalar or p.pointee is not None):
            return False
    return True


def create(sig: Signature, func, *, error=0, onerror=None, tier: str = "auto", key=None,
           declaration: str | None = None, key_of=None):
    """The Callback C calls as ``sig``, reaching ``func``; ``declaration`` is the C text that
    declared it, if any (the parameter names ``inspect.signature(cb)`` shows).  ``key``, or
    ``key_of(sig)`` computed only when the signature's spec is not cached, is what a
    function-pointer parameter's type is compared with."""
    if not callable(func):
        raise TypeError(f"callback {sig.name!r}: func must be callable, got {type(func).__name__}")
    if onerror is not None and not callable(onerror):
        raise TypeError(f"callback {sig.name!r}: onerror must be None or callable, got {type(onerror).__name__}")
    if tier != "auto" and tier not in MECHANISMS:
        raise ValueError(f"unknown tier {tier!r} (expected 'auto', 'jit', 'plan' or 'libffi')")
    ck = (sig, tier, ceiling(), key, key_of, declaration) if _cacheable(sig) else None
    cached = _templates.get(ck) if ck is not None else None
    # A cached choice still holds unless it was the pool and the pool is full now (the full
    # path then picks libffi, or raises the refusal for tier="plan"), or the jit's new block
    # was refused executable memory (InstallRefused, from its BlockSource in make_callback).
    if cached is not None and (cached[0] != "plan" or callback_pool.available()):
        head, tail = cached[1]
        try:
            # A plain tuple in CallbackSpec's order: make_callback reads it by index.
            return _core.make_callback(head + (func, onerror, error) + tail)
        except tier_thunk.InstallRefused:
            _templates.pop(ck, None)
    if key is None and key_of is not None:
        key = key_of(sig)
    m, refused, extra = _select_prepared(sig, tier)
    spec = _spec(sig, func, error, onerror, m, refused, extra, key, declaration)
    # Not cached: a choice made because the pool was full (it frees up again).
    if ck is not None and not ("plan" in refused and callback_pool.available() == 0):
        if len(_templates) >= _TEMPLATES_MAX:
            _templates.clear()
        _templates[ck] = (m, (spec[:1], spec[4:]))   # without func, onerror and error
    return _core.make_callback(spec)


def _select_prepared(sig: Signature, tier: str) -> tuple[str, dict, dict]:
    """_select, and the chosen mechanism's preparation.  Executable memory
    can be refused after the probe allowed it: the jit mechanism records the
    refusal (its platform refusal from then on) and the choice is made
    again."""
    m, refused = _select(sig, tier)
    try:
        return m, refused, _prepare(m, sig)
    except tier_thunk.InstallRefused:
        m, refused = _select(sig, tier)
        return m, refused, _prepare(m, sig)


def _select(sig: Signature, tier: str) -> tuple[str, dict]:
    """The mechanism for ``sig`` and why the faster ones were refused."""
    reason = signature_refusal(sig)
    if reason is not None:
        raise SignatureError(f"callback {sig.name!r}: {reason}")
    cap = MECHANISMS.index(ceiling())
    candidates = list(MECHANISMS[cap:]) if tier == "auto" else [MECHANISMS[max(MECHANISMS.index(tier), cap)]]
    refused = {m: "above the FASTFFI_TIER ceiling" for m in MECHANISMS[:cap]}
    for m in candidates:
        reason = _refusal(m, sig)
        if reason is None:
            return m, refused
        refused[m] = reason
    if tier == "auto":
        raise FFIError(f"callback {sig.name!r}: no mechanism accepts this signature: "
                       + "; ".join(f"{m}: {r}" for m, r in refused.items()))
    raise FFIError(f"callback {sig.name!r}: tier {candidates[0]!r} refused: {refused[candidates[0]]}")


def temporary_maker(sig: Signature):
    """``make(func)``: a Callback of ``sig`` with the defaults (error 0, no
    onerror, the best mechanism), named for ``func``, from a spec decided
    once -- what a plain callable passed for a function-pointer parameter
    runs as, for one call (tiers/checks.py: one maker per parameter type)."""
    m, refused, extra = _select_prepared(sig, "auto")
    template = _spec(sig, None, 0, None, m, refused, extra, None)
    ret, args = type_name(sig.restype), ", ".join(type_name(t) for t in sig.argtypes)

    def make(func):
        name = getattr(func, "__name__", None)
        if not isinstance(name, str) or not callable(func):
            return create(sig, func)   # its exact errors
        return _core.make_callback(template._replace(
            name=name, func=func, signature=f"{ret} {name}({args})",
            explanation=_Explainer(sig._replace(name=name), m, refused)))
    return make


def _function_result(ret):
    """What a Callback returned for a function-pointer result is compared with, as one
    passed for a function-pointer parameter is (tiers/checks.py)."""
    ftype = ret.pointee if ret.__class__ is Scalar else None
    if not isinstance(ftype, FunctionType):
        return None
    return checks.function_key(ftype), checks.function_pointer_name(ftype)


def _spec(sig: Signature, func, error, onerror, mechanism: str, refused: dict, extra: dict, key,
          declaration: str | None = None) -> CallbackSpec:
    ret = sig.restype
    scalar_ret = ret.__class__ is Scalar
    if key is None:   # what a function-pointer parameter is compared with (tiers/checks.py)
        key = checks.function_key(FunctionType(sig.restype, tuple(sig.argtypes)))
    if not scalar_ret and error == 0:
        error = None      # the default: a zero-filled struct
    return CallbackSpec(
        sig.name, func, onerror, error,
        ret.kind if scalar_ret else _STRUCT,
        bytes([_boxed_kind(t) for t in sig.argtypes]),
        None if scalar_ret else ret,
        ret.size if scalar_ret else ret._size_,
        _function_result(ret),
        tuple([None if t.__class__ is Scalar else t for t in sig.argtypes]),
        public_type(ret), tuple([public_type(t) for t in sig.argtypes]),
        signature_text(sig), key, _CODES[mechanism],
        _Explainer(sig, mechanism, refused),
        extra.get("ffi_structs"), extra.get("plan"), extra.get("code"), extra.get("entry", 0),
        introspection.SignatureMaker(sig, declaration, None, False),
    )


def signature_text(sig: Signature) -> str:
    """``int cmp(pointer, pointer)``: what ``cb.signature`` shows."""
    return f"{type_name(sig.restype)} {sig.name}({', '.join(type_name(t) for t in sig.argtypes)})"


class _Explainer:
    """Builds cb.explain()'s text on first use."""

    __slots__ = ("sig", "mechanism", "refused")

    def __init__(self, sig, mechanism, refused):
        self.sig, self.mechanism, self.refused = sig, mechanism, refused

    def __call__(self, cb) -> str:
        lines = [signature_text(self.sig), f"tier: {self.mechanism}"]
        lines.extend(f"  {m} refused: {r}" for m, r in self.refused.items())
        if self.mechanism == "libffi":
            lines.append("  libffi closure (ffi_closure_alloc): libffi's allocator may map writable+executable "
                         "memory where the system allows it (a double mapping where it does not); "
                         "FASTFFI_TIER=plan uses the static pool only")
        elif self.mechanism == "plan":
            lines.extend("  " + line for line in callback_pool.describe(self.sig, cb))
        elif self.mechanism == "jit":
            argkinds = bytes([_boxed_kind(t) for t in self.sig.argtypes])
            lines.extend("  " + line for line in tier_thunk.describe(self.sig, argkinds, cb))
        return "\n".join(lines)


# A plain callable passed for a function-pointer parameter runs as a
# temporary Callback made here (tiers/checks.py, runtime/convert.c).
checks.temporary_maker = temporary_maker

__all__ = ["CallbackSpec", "MECHANISMS", "available_mechanisms", "create", "signature_text"]
