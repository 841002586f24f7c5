"""System V AMD64 psABI (x86-64 Linux) classification: where every argument and the result go.

References are to the psABI, section 3.2.3 "Parameter Passing"."""
from __future__ import annotations

from ..model.scalars import Scalar
from ..model.signature import Signature
from . import (OP_COPY, OP_RET_COPY, OP_RET_WIDE, OP_WIDE, RET_FP, RET_GP, RET_X87, Move, Plan, aggregate_refusal,
               fp_slot, gp_slot, round_up, scalar_move, scalar_return, stack_slot)

NAME = "sysv-x86_64"
GP_REGS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
FP_REGS = tuple(f"xmm{i}" for i in range(8))
RET_GP_REGS = ("rax", "rdx")
RET_FP_REGS = ("xmm0", "xmm1")

INTEGER, SSE, MEMORY, NO_CLASS = "INTEGER", "SSE", "MEMORY", "NO_CLASS"
X87, X87UP = "X87", "X87UP"   # a long double field's two eightbytes


def scalar_class(t: Scalar) -> str:
    return SSE if t.is_float else INTEGER


def _merge(a: str, b: str) -> str:
    """psABI 3.2.3 step 4: merging the classes of two fields in one eightbyte."""
    if a == b or b == NO_CLASS:
        return a
    if a == NO_CLASS:
        return b
    if MEMORY in (a, b) or X87 in (a, b) or X87UP in (a, b):   # (c) ... X87, X87UP: MEMORY
        return MEMORY
    if INTEGER in (a, b):
        return INTEGER
    return SSE


def _classify(t, offset: int, count: int | None = None) -> list[str] | None:
    """Classes of the eightbytes of ``t`` (``count`` elements of it when an
    array) placed at byte ``offset`` of the outermost argument; None for MEMORY.

    This follows the psABI as GCC implements it, which is what C callees are
    compiled for: a scalar not at a multiple of its size is misaligned (MEMORY);
    an array is classified by its first element, whose eightbyte classes repeat
    over the array -- so only element 0 is checked for misalignment."""
    if count is not None:
        if count == 0:
            return []
        sub = _classify(t, offset)
        if sub is None:
            return None
        nbytes = t._size_ * count if not isinstance(t, Scalar) else t.size * count
        words = (nbytes + offset % 8 + 7) // 8
        return [sub[i % len(sub)] for i in range(words)] if sub else []
    if isinstance(t, Scalar) and t.is_wide:
        # long double: X87, X87UP.  A complex field classifies as its two parts (SSE),
        # however the eightbytes split them (float _Complex at offset 4 spans two).
        if t.name == "longdouble":
            return None if offset % 16 else [X87, X87UP]
        part = t.size // 2
        return None if offset % part else [SSE] * ((offset % 8 + t.size + 7) // 8)
    if isinstance(t, Scalar):
        if offset % t.size:
            return None
        # __int128 is two INTEGER eightbytes (3.2.3, "Arguments of type __int128").
        return [INTEGER, INTEGER] if t.is_int128 else [scalar_class(t)]
    lay = t._layout_
    words = (lay.size + offset % 8 + 7) // 8
    if words > 2:  # over 16 bytes: no __m256 members here, so MEMORY
        return None
    classes = [NO_CLASS] * words
    for f in lay.fields:
        sub = _classify(f.type, offset + f.offset, f.count)
        if sub is None:
            return None
        pos = (f.offset + offset % 8) // 8
        for i, c in enumerate(sub[:max(words - pos, 0)]):
            classes[pos + i] = _merge(c, classes[pos + i])
    if MEMORY in classes:  # post-merger: one MEMORY eightbyte makes all MEMORY
        return None
    if X87UP in classes and classes != [X87, X87UP]:   # (c): X87UP not preceded by X87 -- or more
        return None
    return classes


def aggregate_classes(cls) -> list[str]:
    """The class of each eightbyte of a struct/union (psABI 3.2.3): INTEGER,
    SSE or NO_CLASS (padding only: passed in no register), or [MEMORY];
    [X87, X87UP] for a struct or union of one long double."""
    classes = _classify(cls, 0)
    return [MEMORY] if classes is None else classes


def _piece_sizes(size: int, n: int) -> list[int]:
    return [min(8, size - 8 * i) for i in range(n)]


def classify(sig: Signature) -> Plan | str:
    plan = Plan(NAME)
    ngp = nfp = 0
    stack = 0

    ret = sig.restype
    if not isinstance(ret, Scalar):
        reason = aggregate_refusal(ret)
        if reason:
            return reason
        classes = aggregate_classes(ret)
        if classes == [X87, X87UP]:
            # "If the class is X87, the value is returned on the X87 stack in %st0 together
            # with X87UP": the x87 routine stores st0's 10 bytes (as GCC returns such a struct).
            plan.ret_moves.append(Move(OP_RET_COPY, 0, 0, size=10, src=RET_X87,
                                       note=f"ret {ret.__name__} bytes 0..10 <- st0 (X87)"))
        elif classes == [MEMORY]:
            # 3.2.3 "Returning of values", MEMORY: the caller passes the result
            # address in %rdi as if it were the first argument; it consumes rdi.
            plan.ret_indirect = True
            plan.indirect_dst = gp_slot(0)
            plan.ret_note = f"ret {ret.__name__} in memory: result address -> rdi"
            ngp = 1
        else:
            ri = rf = 0
            for i, (c, size) in enumerate(zip(classes, _piece_sizes(ret._size_, len(classes)))):
                if c == NO_CLASS:
                    continue
                if c == INTEGER:
                    src, reg = RET_GP + 8 * ri, RET_GP_REGS[ri]
                    ri += 1
                else:
                    src, reg = RET_FP + 16 * rf, RET_FP_REGS[rf]
                    rf += 1
                plan.ret_moves.append(Move(OP_RET_COPY, 0, 8 * i, size=size, src=src,
                                           note=f"ret {ret.__name__} bytes {8 * i}..{8 * i + size} <- {reg}"))
    elif ret.is_wide:
        plan.ret_moves.extend(_wide_return(ret))
    elif ret.name != "void":
        # __int128 comes back in rax (low) and rdx (high), 3.2.3 "Returning of values".
        scalar_return(plan, ret, *((RET_FP, "xmm0") if ret.is_float else
                                   (RET_GP, "rax:rdx") if ret.is_int128 else (RET_GP, "rax")))

    for i, t in enumerate(sig.argtypes):
        if t.__class__ is Scalar and t.is_wide:
            move, nfp, stack = _wide_argument(i, t, nfp, stack)
            plan.moves.append(move)
            continue
        if t.__class__ is Scalar:
            if t.is_int128:
                # 3.2.3: two INTEGER eightbytes in the next two free GPRs (no
                # even-register pairing); if both do not fit, the whole
                # argument goes on the stack, 16-byte aligned -- and the GPR
                # left over still takes a later INTEGER argument.
                if ngp + 2 <= len(GP_REGS):
                    plan.moves.append(scalar_move(i, t, gp_slot(ngp), f"{GP_REGS[ngp]}:{GP_REGS[ngp + 1]}"))
                    ngp += 2
                else:
                    stack = round_up(stack, 16)
                    plan.moves.append(scalar_move(i, t, stack_slot(stack), f"stack+{stack}"))
                    stack += 16
                continue
            if not t.is_float and ngp < len(GP_REGS):       # INTEGER
                plan.moves.append(scalar_move(i, t, gp_slot(ngp), GP_REGS[ngp]))
                ngp += 1
            elif t.is_float and nfp < len(FP_REGS):         # SSE
                plan.moves.append(scalar_move(i, t, fp_slot(nfp), FP_REGS[nfp]))
                nfp += 1
            else:
                plan.moves.append(scalar_move(i, t, stack_slot(stack), f"stack+{stack}"))
                stack += 8
            continue

        n = i + 1
        reason = aggregate_refusal(t)
        if reason:
            return f"argument {n}: {reason}"
        classes = aggregate_classes(t)
        if classes == [X87, X87UP]:   # "If the class is X87, X87UP ... it is passed in memory"
            classes = [MEMORY]
        need_gp = classes.count(INTEGER)
        need_fp = classes.count(SSE)
        if classes != [MEMORY] and ngp + need_gp <= len(GP_REGS) and nfp + need_fp <= len(FP_REGS):
            for k, (c, size) in enumerate(zip(classes, _piece_sizes(t._size_, len(classes)))):
                if c == NO_CLASS:
                    continue
                if c == INTEGER:
                    dst, where = gp_slot(ngp), GP_REGS[ngp]
                    ngp += 1
                else:
                    dst, where = fp_slot(nfp), FP_REGS[nfp]
                    nfp += 1
                plan.moves.append(Move(OP_COPY, i, dst, size=size, src=8 * k,
                                       note=f"arg {n} {t.__name__} bytes {8 * k}..{8 * k + size} -> {where}"))
        else:
            # MEMORY, or the all-or-nothing rule: "If there are no registers
            # available for any eightbyte of an argument, the whole argument is
            # passed on the stack" -- registers already assigned are undone.
            # Stack slots are eightbytes, and a 16-aligned aggregate (one holding
            # __int128 or long double) keeps its alignment there (3.2.3, as GCC
            # passes it).
            stack = round_up(stack, max(8, t._layout_.align))
            plan.moves.append(Move(OP_COPY, i, stack_slot(stack), size=t._size_, src=0,
                                   note=f"arg {n} {t.__name__} copy {t._size_} bytes -> stack+{stack}"))
            stack += round_up(t._size_, 8)
    plan.stack_size = stack
    return plan


# ---- c64, c128, long double as scalars ----

def _wide_return(t: Scalar) -> list[Move]:
    """psABI 3.2.3 "Returning of values": float _Complex is one SSE eightbyte
    (xmm0's low 8 bytes: real, imaginary); double _Complex two (xmm0, xmm1 --
    as GCC returns it); long double class X87, in %st0 (10 bytes of x87
    extended, stored by the x87 routine)."""
    if t.name == "c64":
        return [Move(OP_RET_WIDE, 0, 0, size=8, src=RET_FP, note="ret c64 <- xmm0 (real, imaginary)")]
    if t.name == "c128":
        return [Move(OP_RET_WIDE, 0, 0, size=8, src=RET_FP, note="ret c128 real <- xmm0"),
                Move(OP_RET_WIDE, 0, 8, size=8, src=RET_FP + 16, note="ret c128 imaginary <- xmm1")]
    return [Move(OP_RET_WIDE, 0, 0, size=10, src=RET_X87, note="ret longdouble <- st0 (X87)")]


def _wide_argument(i: int, t: Scalar, nfp: int, stack: int) -> tuple[Move, int, int]:
    """(move, nfp, stack) for wide argument ``i``.  float _Complex: one SSE
    eightbyte; double _Complex: two, both in registers or wholly on the stack
    (3.2.3: "If there are no registers available for any eightbyte of an
    argument, the whole argument is passed on the stack"); long double: X87
    and X87UP, always in memory, on a 16-byte boundary (its alignment)."""
    n = i + 1
    if t.name == "c64" and nfp < len(FP_REGS):
        return Move(OP_WIDE, i, fp_slot(nfp), kind=t.kind, size=8,
                    note=f"arg {n} c64 -> {FP_REGS[nfp]}"), nfp + 1, stack
    if t.name == "c128" and nfp + 2 <= len(FP_REGS):
        return Move(OP_WIDE, i, fp_slot(nfp), kind=t.kind, size=8, src=fp_slot(nfp + 1),
                    note=f"arg {n} c128 -> {FP_REGS[nfp]}, {FP_REGS[nfp + 1]}"), nfp + 2, stack
    if t.name == "longdouble":
        stack = round_up(stack, 16)
    move = Move(OP_WIDE, i, stack_slot(stack), kind=t.kind, size=t.size,
                note=f"arg {n} {t.name} -> stack+{stack}" + (" (X87: memory)" if t.name == "longdouble" else ""))
    return move, nfp, stack + round_up(t.size, 8)


__all__ = ["NAME", "classify", "aggregate_classes"]
