"""Choosing a tier, once, when a function is created.

Tiers, fastest first: ``jit`` (per-signature machine code), ``plan`` (the ABI
classification stored as a flat list of moves), ``libffi`` (the universal
fallback).  ``tier="auto"`` takes the fastest tier that accepts the signature;
naming a tier is an exact request that raises :class:`FFIError` with the
refusal.  ``FASTFFI_TIER`` is a ceiling read at each creation: it lowers what
``auto`` may pick and lowers an exact request (so a process can avoid the JIT,
and its executable-memory probe, entirely)."""
from __future__ import annotations

from .. import _core
from ..errors import FFIError, SignatureError
from ..model.aggregates import set_function_maker
from ..model.scalars import Scalar
from ..model.signature import Signature
from ..model.typed_pointers import result_class
from . import checks, function_pointers
from . import introspection
from . import jit as tier_jit
from . import libffi as tier_libffi
from . import plan as tier_plan
from . import variadic as tier_variadic
from .spec import FunctionSpec

#: Every tier fastest first.  A tier module has the same interface:
#: platform_refusal(), refusal(sig), prepare(sig, flags) -> make_function
#: arguments, describe(sig, fn) -> explain() lines.
TIERS = ("jit", "plan", "libffi")
_MODULES = {"jit": tier_jit, "plan": tier_plan, "libffi": tier_libffi}


def _platform_refusal(tier: str) -> str | None:
    return _MODULES[tier].platform_refusal()


def available_tiers() -> tuple[str, ...]:
    """The tiers this process can use, fastest first.  Tiers above the
    FASTFFI_TIER ceiling are not probed (the JIT's probe never runs)."""
    cap = TIERS.index(ceiling())
    return tuple(t for t in TIERS[cap:] if _platform_refusal(t) is None)


def ceiling() -> str:
    """The fastest tier FASTFFI_TIER allows (read now, not cached)."""
    value = (_core.getenv("FASTFFI_TIER") or "").strip()
    if not value:
        return TIERS[0]
    if value not in TIERS:
        raise ValueError(f"FASTFFI_TIER={value!r} is not a tier (expected 'jit', 'plan' or 'libffi')")
    return value


def _candidates(requested: str, cap: int) -> list[str]:
    if requested != "auto" and requested not in TIERS:
        raise ValueError(f"unknown tier {requested!r} (expected 'auto', 'jit', 'plan' or 'libffi')")
    if requested == "auto":
        return list(TIERS[cap:])
    return [TIERS[max(TIERS.index(requested), cap)]]


def _refusal(tier: str, sig: Signature) -> tuple[str | None, bool]:
    """(reason, is_about_the_signature) for one tier."""
    reason = _platform_refusal(tier)
    if reason is not None:
        return reason, False
    reason = _MODULES[tier].refusal(sig)
    return reason, reason is not None


def create(address: int, sig: Signature, *, handle=None, release_gil: bool = False, use_errno: bool = False,
           tier: str = "auto", types=None, declaration: str | None = None, _concrete: bool = False):
    """Create the Function object for ``sig`` at ``address`` on the fastest
    tier that takes it (or exactly ``tier``).

    A variadic ``sig`` (``nfixed`` set) with only its fixed arguments is a
    declaration: its calls dispatch by the extra arguments' types to
    Functions made here again, ``_concrete``, for the whole argument list
    (tiers/variadic.py); ``types`` is the namespace fn.variadic() resolves in.  ``declaration``
    is the C text the function was declared by, if any (``fn.__doc__``, the parameter names of
    ``inspect.signature(fn)``)."""
    if not isinstance(address, int) or isinstance(address, bool):
        raise TypeError(f"function address must be an int, got {type(address).__name__}")
    if address == 0:
        raise ValueError("function address must not be NULL")
    if not 0 < address < 1 << (8 * _core.POINTER_SIZE):
        raise OverflowError(f"function address {address} does not fit pointer")
    if len(sig.argtypes) > _core.MAX_ARGS:
        raise FFIError(f"{sig.name}: {len(sig.argtypes)} arguments (at most {_core.MAX_ARGS} are supported)")
    cap = TIERS.index(ceiling())
    candidates = _candidates(tier, cap)
    refused = {t: "above the FASTFFI_TIER ceiling" for t in TIERS[:cap]}
    flags = (_core.RELEASE_GIL if release_gil else 0) | (_core.USE_ERRNO if use_errno else 0)
    about_signature = False
    for t in candidates:
        reason, about_signature = _refusal(t, sig)
        if reason is None:
            try:
                extra = _MODULES[t].prepare(sig, flags)
            except tier_jit.InstallRefused as e:
                reason, about_signature = str(e), False
            else:
                # fn.map() may use an emitted loop even when the call itself
                # runs on the plan tier (e.g. more than 8 arguments).
                jit_allowed = "jit" in candidates and (t == "jit" or _platform_refusal("jit") is None)
                variadic = None
                if sig.nfixed is not None and not _concrete:
                    def concrete(full, options=(handle, release_gil, use_errno, tier, types, declaration)):
                        return create(address, full, handle=options[0], release_gil=options[1],
                                      use_errno=options[2], tier=options[3], types=options[4],
                                      declaration=options[5], _concrete=True)
                    variadic = tier_variadic.Variadic(concrete, sig, types)
                return _make(address, sig, handle, flags | (_core.JIT_ALLOWED if jit_allowed else 0), t, refused,
                             extra, variadic, declaration, types)
        refused[t] = reason
    if tier == "auto":
        raise FFIError(f"{sig.name}: no tier accepts this signature: "
                       + "; ".join(f"{t}: {r}" for t, r in refused.items()))
    t = candidates[0]
    # A tier that cannot take this signature is a SignatureError (an FFIError);
    # a tier this platform lacks is a plain FFIError.
    error = SignatureError if about_signature else FFIError
    raise error(f"{sig.name}: tier {t!r} refused: {refused[t]}")


def install_together(sigs, *, release_gil: bool = False, use_errno: bool = False, tier: str = "auto"):
    """Before creating functions given together (dlopen's definitions): the
    JIT code of those the JIT will take, emitted into one sealed mapping.
    Keep the result (the region, or None) until the functions are created:
    they find their code installed.  Anything refused here is refused again,
    and explained, by create()."""
    if "jit" not in _candidates(tier, TIERS.index(ceiling())) or _platform_refusal("jit") is not None:
        return None
    bracket = release_gil or use_errno
    return tier_jit.install_together([tier_jit.shape_of(sig, bracket) for sig in sigs
                                      if tier_jit.refusal(sig) is None])


_STRING = _core.KINDS["string"][0]
_TIER_CODES = {"jit": _core.TIER_JIT, "plan": _core.TIER_PLAN, "libffi": _core.TIER_LIBFFI}
# Builds the FunctionSpec its generated __new__ would, without that Python-level
# call: the spec is made at every creation, and creation speed is measured.
_new = tuple.__new__


def _make(address, sig, handle, flags, tier, refused, extra, variadic=None, text=None, types=None):
    ret = sig.restype
    scalar_ret = ret.__class__ is Scalar
    args = sig.argtypes
    struct = _core.KIND_STRUCT
    if scalar_ret and ret.kind == _STRING and not ret.const and ret.pointee is not None:
        # A declared non-const `char *` result may be memory the caller must
        # free: returned as a CString carrying the address.  `const char *`
        # and the list form's "string" (no pointee) stay plain str.
        flags |= _core.STRING_ADDRESS
    result_maker = None
    ftype = function_pointers.pointee_function(ret)
    if ftype is not None:
        # A function-pointer result is a Function of its type (None for NULL).
        flags |= _core.FUNCTION_RESULT
        result_maker = function_pointers.FunctionMaker(create, ftype, handle)
    elif scalar_ret and ret.pointee is not None and (typed := result_class(ret)) is not None:
        # A `T *` result for a struct/union T is a Pointer of T (an int with
        # p[i] / p.contents): its class made once per T, called by the result
        # converter only under this flag.  An incomplete T's is a plain int.
        flags |= _core.TYPED_POINTER_RESULT
        result_maker = typed
    argchecks, argpointees = checks.argument_checks(args)
    # In FunctionSpec's field order.
    return _core.make_function(_new(FunctionSpec, (
        address, sig.name,
        ret.kind if scalar_ret else struct,                                   # retkind
        bytes([t.kind if t.__class__ is Scalar else struct for t in args]),    # argkinds
        None if scalar_ret else ret,                                          # retstruct
        ret.size if scalar_ret else ret._size_,                               # retsize
        tuple([None if t.__class__ is Scalar else t for t in args]),          # argstructs
        public_type(ret), tuple([public_type(t) for t in args]),              # restype, argtypes
        handle, flags, _TIER_CODES[tier],                                     # lib, flags, tier
        _Explainer(sig, tier, refused, flags, variadic is not None),          # explanation
        extra.get("ffi_structs"), extra.get("plan"), extra.get("code"), extra.get("entry", 0),
        argchecks, argpointees,
        _stack_check(sig, tier),                                              # stack_check
        -1 if sig.nfixed is None else sig.nfixed, variadic,                   # nfixed, variadic
        result_maker,
        introspection.declaration(sig, text),                                 # doc
        introspection.SignatureMaker(sig, text, types, variadic is not None),  # signature
    )))


#: tiers/stack.h STACK_CHECK_MIN: smaller stack-argument areas are not checked.
_STACK_CHECK_MIN = 4096


def _stack_check(sig, tier) -> int:
    """The bytes of machine stack ``tier`` puts ``sig``'s arguments in, when
    enough to be checked against the calling thread's free stack before each
    call (0: unchecked).  Scalar-only signatures have at most MAX_ARGS
    eightbytes there (the JIT takes register-only ones): never checked."""
    if all(t.__class__ is Scalar for t in sig.argtypes) and 8 * len(sig.argtypes) < _STACK_CHECK_MIN:
        return 0
    plan = tier_plan.build_plan(sig)
    if isinstance(plan, str):
        # No classification (e.g. a struct over the plan tier's 64 KiB): what
        # libffi could put on the stack, every argument in memory.
        stack = sum(((t.size if t.__class__ is Scalar else t._size_) + 15) & ~15 for t in sig.argtypes)
    elif tier == "plan":
        stack = plan.stack_size            # by-reference copies live in the (heap) frame image
    else:
        # libffi allocas the stack area, and on AAPCS64 its by-reference
        # copies as well (the plan's scratch).
        stack = plan.stack_size + plan.scratch_size
    return stack if stack >= _STACK_CHECK_MIN else 0


def public_type(t):
    """What fn.restype/argtypes show: the canonical name, or the class."""
    return t.name if isinstance(t, Scalar) else t


class _Explainer:
    """Builds fn.explain()'s text on first use (creation stays cheap)."""

    __slots__ = ("sig", "tier", "refused", "flags", "declaration")

    def __init__(self, sig, tier, refused, flags, declaration=False):
        self.sig, self.tier, self.refused, self.flags = sig, tier, refused, flags
        self.declaration = declaration

    def __call__(self, fn) -> str:
        lines = [str(self.sig), f"tier: {self.tier}"]
        for t, reason in self.refused.items():
            lines.append(f"  {t} refused: {reason}")
        options = [name for name, bit in (("release_gil", _core.RELEASE_GIL), ("use_errno", _core.USE_ERRNO))
                   if self.flags & bit]
        if options:
            lines.append("options: " + ", ".join(options))
        lines.extend("  " + line for line in _MODULES[self.tier].describe(self.sig, fn))
        if self.declaration:
            lines.extend(tier_variadic.describe(self.sig))
        return "\n".join(lines)


# Struct fields of function-pointer type read as Functions too; the model
# cannot import the tiers, so it is handed the way to make them.
set_function_maker(lambda ftype, name: function_pointers.FunctionMaker(create, ftype, None, name))

__all__ = ["TIERS", "available_tiers", "ceiling", "create", "install_together", "public_type"]
