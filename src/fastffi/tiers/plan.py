"""The plan tier: classify a signature once, call by running its moves.

``fastffi.abi`` holds one classifier per ABI; this module picks the one for
the platform the C core was built for (``_core.PLAN_ABI``), and encodes the
resulting :class:`~fastffi.abi.Plan` into the packed records of
``_core/tiers/plan.h``."""
from __future__ import annotations

import struct
from typing import cast

from .. import _core
from ..abi import Plan, aapcs64, sysv_x86_64, variadic_refusal
from ..errors import FFIError
from ..model.signature import Signature

NAME = "plan"
_CLASSIFIERS = {sysv_x86_64.NAME: sysv_x86_64, aapcs64.NAME: aapcs64}
_L = _core.PLAN_LAYOUT
_ABI_CODES = {sysv_x86_64.NAME: _L["abi_sysv_x86_64"], aapcs64.NAME: _L["abi_aapcs64"]}
_HEADER = struct.Struct("<IIHHHBBII")
_MOVE = struct.Struct("<BBHHHII")
assert _HEADER.size == _L["header_size"] and _MOVE.size == _L["move_size"]


def abi_name() -> str | None:
    """The ABI the C core's plan routine was built for, or None."""
    return _core.PLAN_ABI


def platform_refusal() -> str | None:
    abi = _core.PLAN_ABI
    if abi is None:
        return "no plan classifier for this platform (x86-64 SysV and AArch64 Linux only)"
    return None


#: Signature.call_key() -> (plan or refusal, its encoding); bounded, and
#: holding no class (see Signature.call_key).
_plans: dict = {}
_PLANS_LIMIT = 4096


def _entry(sig: Signature) -> tuple:
    key = sig.call_key()
    hit = _plans.get(key)
    if hit is None:
        refused = platform_refusal()
        plan = refused if refused else _CLASSIFIERS[cast(str, _core.PLAN_ABI)].classify(sig)
        hit = (plan, None if isinstance(plan, str) else encode(plan))
        if len(_plans) >= _PLANS_LIMIT:
            _plans.clear()
        _plans[key] = hit
    return hit


def build_plan(sig: Signature) -> Plan | str:
    """The plan for ``sig`` on this platform, or why there is none (cached:
    refusal, prepare and describe all ask).  Plans are never mutated."""
    return _entry(sig)[0]


def plan_of(sig: Signature) -> Plan:
    """The plan of a signature the plan tier took (build_plan's answer where a
    refusal would be a bug of the caller's)."""
    plan = build_plan(sig)
    if isinstance(plan, str):
        raise FFIError(f"{sig.name}: no plan ({plan})")
    return plan


def encode(plan: Plan) -> bytes:
    stack = (plan.stack_size + 15) & ~15
    header = _HEADER.pack(plan.frame_size, stack, len(plan.moves), len(plan.ret_moves), plan.ret_src,
                          int(plan.ret_indirect), _ABI_CODES[plan.abi], plan.indirect_dst, 0)
    moves = (*plan.moves, *plan.ret_moves)
    try:
        return header + b"".join([_RECORDS[m] for m in moves])
    except KeyError:
        if len(_RECORDS) > 65536:
            _RECORDS.clear()
        records = []
        for m in moves:   # read back nothing: another thread may clear the cache meanwhile
            record = _RECORDS.get(m)
            if record is None:
                record = _RECORDS[m] = _MOVE.pack(m.op, m.kind, m.arg, m.size, 0, m.src, m.dst)
            records.append(record)
        return header + b"".join(records)


#: Move -> its packed record (moves repeat from plan to plan).  Bounded by
#: the moves of the plans made; cleared when it grows past 64k.
_RECORDS: dict = {}


#: The largest frame image the C core takes (plan.c PLAN_MAX_FRAME).
MAX_FRAME = _L["max_frame"]


def refusal(sig: Signature) -> str | None:
    reason = variadic_refusal(sig)
    if reason:
        return reason
    result = build_plan(sig)
    if isinstance(result, str):
        return result
    if result.frame_size > MAX_FRAME:
        # Refused here, with the reason explain() shows, so `auto` falls to
        # libffi (plan.c would only see an invalid plan).
        return f"a frame of {result.frame_size} bytes (the plan tier takes at most {MAX_FRAME})"
    return None


def encoded(sig: Signature) -> bytes:
    """The C core's form of ``sig``'s plan (cached with it)."""
    return _entry(sig)[1]


def prepare(sig: Signature, flags: int = 0) -> dict:
    return {"plan": encoded(sig)}


def describe(sig: Signature, fn=None) -> list[str]:
    plan = cast(Plan, build_plan(sig))   # described only once the plan tier took sig
    return [f"plan ({plan.abi}), {len(plan.moves)} moves, frame {plan.frame_size} bytes:"] + \
           ["  " + line for line in plan.describe()]
