"""The ABI model every tier reads: one module per ABI, same interface.

``classify(sig) -> Plan | str`` walks a signature once and returns where every
argument and the return value go (a :class:`Plan`), or the reason it cannot.
Plans are plain data: the plan tier encodes them for the C core
(:mod:`fastffi.tiers.plan`), the JIT tier takes its register placement from
them, and the libffi tier checks its own description against them.

The frame image the moves write into is defined by the C core
(``_core.PLAN_LAYOUT``): argument registers, then the stack area, then scratch
space for copies the callee receives by reference."""
from __future__ import annotations

import sys

from dataclasses import dataclass, field
from typing import NamedTuple

from .. import _core
from ..model.scalars import Scalar

L = _core.PLAN_LAYOUT
GP, FP, FP_STRIDE, INDIRECT, STACK = L["gp"], L["fp"], L["fp_stride"], L["indirect"], L["stack"]
RET_GP, RET_FP = L["ret_gp"], L["ret_fp"]
OP_SCALAR, OP_COPY, OP_REF, OP_RET_COPY = L["op_scalar"], L["op_copy"], L["op_ref"], L["op_ret_copy"]
OP_WIDE, OP_RET_WIDE, RET_X87 = L["op_wide"], L["op_ret_wide"], L["ret_x87"]


class Move(NamedTuple):
    """One fixed-size record of the plan (plan.h PlanMove).  A NamedTuple:
    plans are built at every function creation, and these are made cheaply."""

    op: int
    arg: int            # 0-based argument index (unused for return moves)
    dst: int            # frame offset (result offset for return moves)
    kind: int = 0       # scalar kind for OP_SCALAR
    size: int = 8       # bytes copied
    src: int = 0        # offset in the struct argument / scratch offset / return image offset
    note: str = ""      # how explain() shows it


@dataclass
class Plan:
    abi: str
    moves: list[Move] = field(default_factory=list)
    ret_moves: list[Move] = field(default_factory=list)
    stack_size: int = 0          # bytes of stack arguments (rounded to 16 when encoded)
    scratch_size: int = 0        # bytes of by-reference copies after the stack area
    ret_src: int = 0             # scalar return: offset in the return image
    ret_indirect: bool = False   # struct return in memory: its address goes to `indirect_dst`
    indirect_dst: int = 0
    ret_note: str = ""

    @property
    def frame_size(self) -> int:
        return _round16(STACK + _round16(self.stack_size) + self.scratch_size)

    def describe(self) -> list[str]:
        return [m.note for m in self.moves] + ([self.ret_note] if self.ret_note else []) + \
               [m.note for m in self.ret_moves]


def _round16(n: int) -> int:
    return (n + 15) & ~15


def round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def extension(t: Scalar) -> str:
    """How a scalar argument is widened in its slot, for explain()."""
    if t.name in ("i8", "i16", "i32"):
        return " sext32"
    if t.name in ("u8", "u16", "u32", "bool"):
        return " zext32"
    return ""


def scalar_move(i: int, t: Scalar, dst: int, where: str) -> Move:
    """The move of scalar argument ``i`` into ``dst``, shown as ``where``.
    Moves are immutable and few: each is made once (classification at
    function creation is mostly lookups).  ``where`` is part of the key: the
    same slot has another register name on another ABI."""
    t = t.key   # a pointer type moves as its kind does (and the memo keeps no pointee alive)
    key = (i, t, dst, where)
    move = _SCALAR_MOVES.get(key)
    if move is None:
        # A 16-byte integer is one 16-byte store: its two eightbytes go to
        # adjacent frame slots (consecutive registers, or a 16-aligned stack
        # slot), so the C side stays one move per argument.
        move = _SCALAR_MOVES[key] = Move(OP_SCALAR, i, dst, kind=t.kind, size=t.size if t.is_int128 else 8,
                                         note=f"arg {i + 1} {t.name}{extension(t)} -> {where}")
    return move


_SCALAR_MOVES: dict = {}


def scalar_return(plan: Plan, t: Scalar, src: int, reg: str) -> None:
    """A scalar result read from the return image at ``src`` (register ``reg``)."""
    plan.ret_src = src
    narrow = " (truncated to its width)" if t.size < 4 else ""
    plan.ret_note = f"ret {t.name} <- {reg}{narrow}"


def gp_slot(i: int) -> int:
    return GP + 8 * i


def fp_slot(i: int) -> int:
    return FP + FP_STRIDE * i


def stack_slot(offset: int) -> int:
    return STACK + offset


MAX_AGGREGATE_BYTES = 0xFFFF  # PlanMove.size is 16 bits


def aggregate_refusal(cls) -> str | None:
    """What no plan takes by value, on any ABI."""
    lay = cls._layout_
    if lay.size == 0:
        # C has no empty structs; GCC's extension passes nothing for them.
        return f"{cls.__name__} is an empty struct (not supported by value)"
    if lay.size > MAX_AGGREGATE_BYTES:
        return f"{cls.__name__} is {lay.size} bytes by value (at most {MAX_AGGREGATE_BYTES})"
    return None


def wide_field(cls) -> Scalar | None:
    """The type of a c64/c128/longdouble field of struct ``cls`` (nested
    structs and arrays included), or None."""
    lay = getattr(cls, "_layout_", None)
    if lay is None or lay.size > MAX_AGGREGATE_BYTES:   # too big for any plan: leaves not walked
        return None
    for leaf in lay.leaves:
        if leaf.type.__class__ is Scalar and leaf.type.is_wide:
            return leaf.type
    return None


def variadic_refusal(sig) -> str | None:
    """Why a variadic ``sig`` must not be called with the fixed-argument
    convention here, or None.  x86-64 SysV (with %al set) and AAPCS64 on
    Linux (AAPCS64 6.4.2: variadic arguments as if named) pass them alike;
    Apple's arm64 ABI puts every variadic argument on the stack."""
    if sig.nfixed is not None and sys.platform == "darwin":
        return ("variadic: Apple arm64 passes variadic arguments on the stack, not as named ones "
                "(only libffi calls them)")
    return None
