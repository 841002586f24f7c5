"""The ``plan`` callback mechanism: a slot of the static trampoline pool.

The pool is code assembled into ``_core`` (callbacks/pool_<abi>.S): 16,384
slots, each a landing pad, its index in a scratch register and a jump to a
relay that spills the argument registers.  Nothing is mapped executable at
run time, so this works where W^X policies refuse executable memory.

A callback's callee-side moves are the caller's read in reverse: the spec
field ``plan`` is exactly :mod:`fastffi.tiers.plan`'s encoding of the
signature's classification, which ``callback_dispatch_slot`` (callbacks/pool.c)
reads to find each argument where a caller put it."""
from __future__ import annotations

from .. import _core
from ..abi import OP_COPY, STACK, wide_field
from ..model.scalars import Scalar
from ..model.signature import Signature
from . import plan as tier_plan

NAME = "plan"
#: Slots in the pool (pool_<abi>.S's .rept count).
SLOTS = 16384
#: What the dispatcher's per-call scratch holds of structs passed in
#: registers, and of a struct result in registers (pool.c POOL_MAX_TEMP,
#: POOL_MAX_RETREGS).  No signature the classifiers produce exceeds them;
#: checked so an unforeseen one is refused here, not by the C core.
MAX_TEMP = 512
MAX_RETREGS = 64


def platform_refusal() -> str | None:
    if _core.PLAN_ABI is None:
        return "no static trampoline pool for this platform (x86-64 SysV and AArch64 Linux only)"
    return None


def available() -> int:
    """Slots neither live nor quarantined."""
    return _core.callback_pool_available()


def refusal(sig: Signature) -> str | None:
    """Why the static pool cannot take a callback of ``sig`` now, or None."""
    reason = platform_refusal()
    if reason:
        return reason
    # Variadic signatures never get here: tiers/callback.py refuses them for every mechanism.
    reason = _wide_refusal(sig)
    if reason:
        return reason
    plan = tier_plan.build_plan(sig)
    if isinstance(plan, str):
        return plan
    # Structs the dispatcher puts back together from register pieces (one
    # whole on the stack is read where it lies), as pool.c lays them out.
    pieced = {m.arg: sig.argtypes[m.arg]._size_ for m in plan.moves
              if m.op == OP_COPY and not (m.dst >= STACK and m.src == 0 and m.size == sig.argtypes[m.arg]._size_)}
    temp = 0
    for size in pieced.values():
        temp = ((temp + 15) & ~15) + size
    if temp > MAX_TEMP:
        return f"structs passed in registers need {temp} bytes of scratch (the pool's dispatcher has {MAX_TEMP})"
    if plan.ret_moves and sig.restype._size_ > MAX_RETREGS:
        return f"a struct result of {sig.restype._size_} bytes in registers (the pool takes at most {MAX_RETREGS})"
    if available() == 0:
        return f"the static pool's {SLOTS} slots are all in use (live or quarantined); libffi closures take over"
    return None


#: Why the pool leaves c64/c128/longdouble to libffi, per ABI: its dispatcher
#: boxes and converts 8-byte register images (pool.c), while a complex value
#: spans two vector registers (psABI 3.2.3: two SSE eightbytes; AAPCS64: an HFA
#: of two members), an AArch64 long double fills a q register, and an x86-64
#: long double result goes in st0 (class X87), which the relay never loads.
_WIDE = {
    "sysv-x86_64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans two "
                   "xmm registers) and its relay never loads st0; the libffi mechanism takes it",
    "aapcs64": "the static pool's dispatcher moves 8-byte register images only (a complex value spans two v "
               "registers, a long double a whole q register); the libffi mechanism takes it",
}
_WIDE_REASON = _WIDE.get(_core.PLAN_ABI or "", "the static pool moves 8-byte register images only; "
                                               "the libffi mechanism takes it")


def _wide_refusal(sig: Signature) -> str | None:
    for i, t in enumerate((sig.restype, *sig.argtypes)):
        where = "the result" if i == 0 else f"argument {i}"
        if t.__class__ is Scalar:
            if t.is_wide:
                return f"{where} is {t.name} ({_WIDE_REASON})"
            continue
        field = wide_field(t)
        if field is not None:
            return f"{where}: {t.__name__} holds a {field.name} field ({_WIDE_REASON})"
    return None


def prepare(sig: Signature) -> dict:
    """The spec fields of the plan mechanism: the caller-side plan's encoding."""
    return {"plan": tier_plan.encoded(sig)}


def describe(sig: Signature, cb=None) -> list[str]:
    plan = tier_plan.plan_of(sig)
    lines = [f"static pool slot ({plan.abi}): no executable memory made; {available()} of {SLOTS} slots free",
             f"callee side of the plan, {len(plan.moves)} moves (the caller's, read in reverse):"]
    return lines + ["  " + line for line in plan.describe()]
