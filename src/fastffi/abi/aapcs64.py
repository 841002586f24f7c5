"""AAPCS64 (Procedure Call Standard for the Arm 64-bit Architecture, Linux
flavour) classification: where every argument and the result go.

Rule numbers are the standard's, section 6.8.2 "Parameter passing rules"
(stages B and C) and 6.9 "Result return".  Apple's variant packs stack
arguments by natural size and is not targeted."""
from __future__ import annotations

from ..model.scalars import SCALARS, Scalar
from ..model.signature import Signature
from . import (INDIRECT, OP_COPY, OP_REF, OP_RET_COPY, OP_RET_WIDE, OP_WIDE, RET_FP, RET_GP, Move, Plan,
               aggregate_refusal, fp_slot, gp_slot, round_up, scalar_move, scalar_return, stack_slot)

NAME = "aapcs64"
NGRN_MAX = 8  # x0..x7
NSRN_MAX = 8  # v0..v7


def hfa(cls) -> tuple[Scalar, int] | None:
    """(base type, member count) when ``cls`` is a Homogeneous Floating-point
    Aggregate: 1 to 4 members, all the same floating-point type, no padding."""
    lay = cls._layout_
    if lay.size > 4 * 16:
        # More than four of the widest floating-point member (16 bytes, 6.8.2
        # B.2's quad/short vectors): not an HFA, and no need to expand the
        # layout's arrays (lay.leaves is O(elements)).
        return None
    offsets: dict[int, Scalar] = {}
    for leaf in lay.leaves:
        for offset, t in _hfa_members(leaf.offset, leaf.type):
            if t is None:
                return None
            if offsets.setdefault(offset, t) is not t:
                return None
    if not offsets:
        return None
    base = next(iter(offsets.values()))
    if any(t is not base for t in offsets.values()):
        return None
    count = lay.size // base.size
    # Every member slot is covered and nothing else is there (union members
    # sharing offsets count once).
    if not 1 <= count <= 4 or sorted(offsets) != [base.size * i for i in range(count)] \
            or lay.size != count * base.size:
        return None
    return base, count


def _hfa_members(offset: int, t) -> list:
    """[(offset, floating-point type)] a leaf contributes to an HFA, or [(offset, None)].
    long double (quad precision) is a floating-point type; a complex field is two
    members of its part type (5.1.2)."""
    if t.__class__ is Scalar and t.is_complex:
        part = SCALARS["f32" if t.name == "c64" else "f64"]
        return [(offset, part), (offset + part.size, part)]
    if t.__class__ is Scalar and (t.is_float or t.name == "longdouble"):
        return [(offset, t)]
    return [(offset, None)]


def classify(sig: Signature) -> Plan | str:
    plan = Plan(NAME)
    ngrn = nsrn = 0
    nsaa = 0          # next stacked argument offset
    scratch = 0       # by-reference copies, after the stack area (offsets fixed up below)
    refs = []

    ret = sig.restype
    if not isinstance(ret, Scalar):
        reason = aggregate_refusal(ret)
        if reason:
            return reason
        h = hfa(ret)
        if h is not None:
            # 6.9: an HFA is returned in v0..v(n-1), one member per register.
            base, count = h
            for k in range(count):
                plan.ret_moves.append(Move(OP_RET_COPY, 0, k * base.size, size=base.size, src=RET_FP + 16 * k,
                                           note=f"ret {ret.__name__} member {k} ({base.name}) <- v{k}"))
        elif ret._size_ <= 16:
            # 6.9: composites up to 16 bytes come back in x0/x1 as if loaded by LDR/LDP.
            for k in range((ret._size_ + 7) // 8):
                size = min(8, ret._size_ - 8 * k)
                plan.ret_moves.append(Move(OP_RET_COPY, 0, 8 * k, size=size, src=RET_GP + 8 * k,
                                           note=f"ret {ret.__name__} bytes {8 * k}..{8 * k + size} <- x{k}"))
        else:
            # 6.9 / B.5: larger results go to memory whose address the caller
            # passes in x8, which is not an argument register.
            plan.ret_indirect = True
            plan.indirect_dst = INDIRECT
            plan.ret_note = f"ret {ret.__name__} in memory: result address -> x8"
    elif ret.is_wide:
        plan.ret_moves.extend(_wide_return(ret))
    elif ret.name != "void":
        # 6.9: a 16-byte integer comes back in x0 (low) and x1 (high).
        scalar_return(plan, ret, *((RET_FP, "v0") if ret.is_float else
                                   (RET_GP, "x0:x1") if ret.is_int128 else (RET_GP, "x0")))

    for i, t in enumerate(sig.argtypes):
        n = i + 1
        if isinstance(t, Scalar) and t.is_wide:
            move, nsrn, nsaa = _wide_argument(i, t, nsrn, nsaa)
            plan.moves.append(move)
            continue
        if isinstance(t, Scalar):
            if t.is_int128:
                # C.8: 16-byte alignment rounds NGRN up to even; C.9: the
                # quad goes to x[NGRN], x[NGRN+1].  Otherwise C.11-C.13:
                # NGRN = 8 and the stack, NSAA rounded up to 16.
                if ngrn % 2:
                    ngrn += 1
                if ngrn + 2 <= NGRN_MAX:
                    dst, where = gp_slot(ngrn), f"x{ngrn}:x{ngrn + 1}"
                    ngrn += 2
                else:
                    ngrn = NGRN_MAX
                    nsaa = round_up(nsaa, 16)
                    dst, where = stack_slot(nsaa), f"stack+{nsaa}"
                    nsaa += 16
                plan.moves.append(scalar_move(i, t, dst, where))
                continue
            if t.is_float and nsrn < NSRN_MAX:                       # C.1
                dst, where = fp_slot(nsrn), f"v{nsrn}"
                nsrn += 1
            elif not t.is_float and ngrn < NGRN_MAX:                 # C.7
                dst, where = gp_slot(ngrn), f"x{ngrn}"
                ngrn += 1
            else:                                                     # C.5/C.6, C.14/C.15: 8-byte slots
                dst, where = stack_slot(nsaa), f"stack+{nsaa}"
                nsaa += 8
            plan.moves.append(scalar_move(i, t, dst, where))
            continue

        reason = aggregate_refusal(t)
        if reason:
            return f"argument {n}: {reason}"
        size = t._size_
        h = hfa(t)
        if h is not None:                                             # B.3: HFAs are used unmodified
            base, count = h
            if nsrn + count <= NSRN_MAX:                              # C.2: one member per v register
                for k in range(count):
                    plan.moves.append(Move(OP_COPY, i, fp_slot(nsrn), size=base.size, src=k * base.size,
                                           note=f"arg {n} {t.__name__} member {k} ({base.name}) -> v{nsrn}"))
                    nsrn += 1
            else:
                nsrn = NSRN_MAX                                       # C.3: no later FP argument uses v regs
                nsaa = round_up(nsaa, max(8, t._layout_.align))       # C.4 (16 for a quad HFA)
                plan.moves.append(Move(OP_COPY, i, stack_slot(nsaa), size=size,
                                       note=f"arg {n} {t.__name__} copy {size} bytes -> stack+{nsaa}"))
                nsaa += round_up(size, 8)
            continue
        if size > 16:
            # B.4: copied to caller-allocated memory; the argument becomes a
            # pointer to the copy, passed like any pointer (C.7 / C.13).
            scratch = round_up(scratch, 16)
            refs.append((len(plan.moves), scratch))
            if ngrn < NGRN_MAX:
                dst, where = gp_slot(ngrn), f"x{ngrn}"
                ngrn += 1
            else:
                dst, where = stack_slot(nsaa), f"stack+{nsaa}"
                nsaa += 8
            plan.moves.append(Move(OP_REF, i, dst, size=size, src=scratch,
                                   note=f"arg {n} {t.__name__} copy {size} bytes, address -> {where}"))
            scratch += size
            continue
        dwords = (size + 7) // 8                                      # B.5: size rounded up to 8
        if t._layout_.align == 16 and ngrn % 2:                       # C.8 (16-byte aligned composites)
            ngrn += 1
        if dwords <= NGRN_MAX - ngrn:                                 # C.10: consecutive x registers
            for k in range(dwords):
                piece = min(8, size - 8 * k)
                plan.moves.append(Move(OP_COPY, i, gp_slot(ngrn), size=piece, src=8 * k,
                                       note=f"arg {n} {t.__name__} bytes {8 * k}..{8 * k + piece} -> x{ngrn}"))
                ngrn += 1
        else:
            ngrn = NGRN_MAX                                           # C.11
            nsaa = round_up(nsaa, max(8, t._layout_.align))           # C.12
            plan.moves.append(Move(OP_COPY, i, stack_slot(nsaa), size=size,
                                   note=f"arg {n} {t.__name__} copy {size} bytes -> stack+{nsaa}"))
            nsaa += dwords * 8                                        # C.13
    plan.stack_size = nsaa
    # Scratch copies live after the (16-byte rounded) stack area.
    scratch_base = stack_slot(round_up(nsaa, 16))
    for index, offset in refs:
        m = plan.moves[index]
        plan.moves[index] = Move(m.op, m.arg, m.dst, size=m.size, src=scratch_base + offset, note=m.note)
    plan.scratch_size = round_up(scratch, 16)
    return plan


# ---- c64, c128, long double as scalars ----

def _wide_return(t: Scalar) -> list[Move]:
    """6.9: long double (quad precision) comes back in q0; a complex value is an HFA of two
    (5.1.2: "a complex type ... is treated as ... a composite of two floating-point members"),
    returned one member per register: s0/s1 or d0/d1."""
    if t.name == "longdouble":
        return [Move(OP_RET_WIDE, 0, 0, size=16, src=RET_FP, note="ret longdouble <- q0")]
    part = t.size // 2
    reg = "s" if part == 4 else "d"
    return [Move(OP_RET_WIDE, 0, 0, size=part, src=RET_FP, note=f"ret {t.name} real <- {reg}0"),
            Move(OP_RET_WIDE, 0, part, size=part, src=RET_FP + 16, note=f"ret {t.name} imaginary <- {reg}1")]


def _wide_argument(i: int, t: Scalar, nsrn: int, nsaa: int) -> tuple[Move, int, int]:
    """(move, nsrn, nsaa) for wide argument ``i``.  long double: C.1, the next v register (as a
    q register), else C.5/C.6: the stack, 16-aligned.  Complex: an HFA of two members, C.2: two
    consecutive v registers, else C.3/C.4: no later one either (NSRN = 8), the stack, 8-aligned."""
    n = i + 1
    if t.name == "longdouble":
        if nsrn < NSRN_MAX:
            return Move(OP_WIDE, i, fp_slot(nsrn), kind=t.kind, size=16, note=f"arg {n} longdouble -> q{nsrn}"), \
                nsrn + 1, nsaa
        nsaa = round_up(nsaa, 16)
        return Move(OP_WIDE, i, stack_slot(nsaa), kind=t.kind, size=16, note=f"arg {n} longdouble -> stack+{nsaa}"), \
            NSRN_MAX, nsaa + 16
    part = t.size // 2
    reg = "s" if part == 4 else "d"
    if nsrn + 2 <= NSRN_MAX:
        return Move(OP_WIDE, i, fp_slot(nsrn), kind=t.kind, size=part, src=fp_slot(nsrn + 1),
                    note=f"arg {n} {t.name} -> {reg}{nsrn}, {reg}{nsrn + 1}"), nsrn + 2, nsaa
    nsaa = round_up(nsaa, 8)
    return Move(OP_WIDE, i, stack_slot(nsaa), kind=t.kind, size=t.size, note=f"arg {n} {t.name} -> stack+{nsaa}"), \
        NSRN_MAX, nsaa + round_up(t.size, 8)


__all__ = ["NAME", "classify", "hfa"]
