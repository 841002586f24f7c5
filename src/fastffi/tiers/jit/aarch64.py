"""AArch64 (AAPCS64, Linux) emitter for the JIT tier.

The code is a vectorcall entry ``PyObject *(PyObject *fn /*x0*/, PyObject
*const *args /*x1*/, size_t nargsf /*x2*/, PyObject *kwnames /*x3*/)`` doing
the whole call, step for step what jit/x86_64.py does:

1. keywords, arity and closed library are checked (any failure goes to the
   ``reject`` helper, which raises exactly what every tier raises);
2. each argument is unboxed into its 8-byte slot in our frame -- inline for
   exact ints that fit in one digit, exact floats, bytes, None, True/False --
   otherwise by the ``convert`` helper, which handles every other case and
   every error;
3. the enter helper runs when release_gil/use_errno is set;
4. the slots are loaded into the argument registers (x0..x7, d0..d7 / s0..s7
   as the AAPCS64 classifier placed them), the target is called;
5. leave helper, buffer release, then the result is truncated to its declared
   width and boxed by the CPython function for its kind.

Registers kept across helper calls (callee-saved, AAPCS64 6.1.1): x19 = the
Function, x20 = args, x21 = the thread state from ``enter``.  Scratch: x9,
x10 (and d0 in the f32 path); helper and target addresses go through x16
(IP0), which no veneer can be in the way of since we branch with ``blr``.

Frame, from sp upwards: the argument slots, the saved return registers (x0,
d0), the BufferList and its Py_buffer array, rounded to 16; above it the
frame record (x29, x30) and x19..x21.  sp stays 16-byte aligned throughout.

The inline int path reads CPython 3.10/3.11's int layout (signed digit count
in ob_size, 30-bit digits); tier_jit only uses this emitter where
``JIT_RUNTIME["object_layout"]`` says that is the layout.

``emit_loop`` gives the batch loop of fn.map() for a shape (see its docstring).

Encodings: Arm Architecture Reference Manual for A-profile, section C6
(A64 base instructions) and C7 (SIMD&FP)."""
from __future__ import annotations

import struct

from .assembly import Labels, Recorder, Shape, box_function, frame_of

NAME = "aapcs64"
#: (integer-class, float-class) argument registers: x0..x7, v0..v7.
LIMITS = (8, 8)

X0, X1, X2, X3, X4, X5 = range(6)
X9, X10, X16 = 9, 10, 16                # scratch, scratch, IP0
X19, X20, X21 = 19, 20, 21              # callee-saved: fn, args, thread state
X22, X23, X24, X25 = 22, 23, 24, 25     # callee-saved, used by the batch loop (emit_loop)
FP, LR = 29, 30                         # frame pointer, link register
SP = ZR = 31                            # sp as a base/ADD operand, xzr/wzr elsewhere

# Condition codes (C1.2.4).
EQ, NE, MI, PL, HI = 0x0, 0x1, 0x4, 0x5, 0x8


class A64:
    """Small encoders, one per instruction form used; every instruction is one
    little-endian 32-bit word."""

    def __init__(self):
        self.code = bytearray()
        self.labels = Labels(self.code)

    def _w(self, word: int) -> None:
        self.code.extend(struct.pack("<I", word))

    @staticmethod
    def _scaled(offset: int, size: int, limit: int = 4096) -> int:
        """Unsigned offset field of a load/store: offset / size, which must be exact."""
        assert offset % size == 0 and 0 <= offset // size < limit, (offset, size)
        return offset // size

    # -- loads and stores, [base, #offset] (unsigned scaled offset) --
    def ldr_x(self, rt, base, off):             # ldr xt, [base, #off]
        self._w(0xF9400000 | self._scaled(off, 8) << 10 | base << 5 | rt)

    def str_x(self, rt, base, off):             # str xt, [base, #off]
        self._w(0xF9000000 | self._scaled(off, 8) << 10 | base << 5 | rt)

    def ldr_w(self, rt, base, off):           # ldr wt, [base, #off] (zero-extends)
        self._w(0xB9400000 | self._scaled(off, 4) << 10 | base << 5 | rt)

    def str_w(self, rt, base, off):           # str wt, [base, #off]
        self._w(0xB9000000 | self._scaled(off, 4) << 10 | base << 5 | rt)

    def ldrb(self, rt, base, off):            # ldrb wt, [base, #off] (zero-extends)
        self._w(0x39400000 | self._scaled(off, 1) << 10 | base << 5 | rt)

    def ldr_d(self, dt, base, off):           # ldr dt, [base, #off]
        self._w(0xFD400000 | self._scaled(off, 8) << 10 | base << 5 | dt)

    def str_d(self, dt, base, off):           # str dt, [base, #off]
        self._w(0xFD000000 | self._scaled(off, 8) << 10 | base << 5 | dt)

    def ldr_s(self, st, base, off):           # ldr st, [base, #off]
        self._w(0xBD400000 | self._scaled(off, 4) << 10 | base << 5 | st)

    def str_s(self, st, base, off):           # str st, [base, #off]
        self._w(0xBD000000 | self._scaled(off, 4) << 10 | base << 5 | st)

    def ldrh(self, rt, base, off):            # ldrh wt, [base, #off] (zero-extends)
        self._w(0x79400000 | self._scaled(off, 2) << 10 | base << 5 | rt)

    def ldrsb_x(self, rt, base, off):         # ldrsb xt, [base, #off] (sign-extends to 64 bits)
        self._w(0x39800000 | self._scaled(off, 1) << 10 | base << 5 | rt)

    def ldrsh_x(self, rt, base, off):         # ldrsh xt, [base, #off] (sign-extends to 64 bits)
        self._w(0x79800000 | self._scaled(off, 2) << 10 | base << 5 | rt)

    def ldrsw(self, rt, base, off):           # ldrsw xt, [base, #off] (sign-extends to 64 bits)
        self._w(0xB9800000 | self._scaled(off, 4) << 10 | base << 5 | rt)

    def strb(self, rt, base, off):            # strb wt, [base, #off] (the low 8 bits)
        self._w(0x39000000 | self._scaled(off, 1) << 10 | base << 5 | rt)

    def strh(self, rt, base, off):            # strh wt, [base, #off] (the low 16 bits)
        self._w(0x79000000 | self._scaled(off, 2) << 10 | base << 5 | rt)

    # -- register pairs (signed offset / pre-index / post-index, imm7 scaled by 8) --
    @staticmethod
    def _pair(opc: int, rt, rt2, base, off) -> int:
        assert off % 8 == 0 and -64 <= off // 8 < 64, off
        return opc | ((off // 8) & 0x7F) << 15 | rt2 << 10 | base << 5 | rt

    def stp_pre(self, rt, rt2, base, off):    # stp xt, xt2, [base, #off]!
        self._w(self._pair(0xA9800000, rt, rt2, base, off))

    def ldp_post(self, rt, rt2, base, off):   # ldp xt, xt2, [base], #off
        self._w(self._pair(0xA8C00000, rt, rt2, base, off))

    def stp(self, rt, rt2, base, off):        # stp xt, xt2, [base, #off]
        self._w(self._pair(0xA9000000, rt, rt2, base, off))

    def ldp(self, rt, rt2, base, off):        # ldp xt, xt2, [base, #off]
        self._w(self._pair(0xA9400000, rt, rt2, base, off))

    # -- moves and constants --
    def mov(self, rd, rm):                    # mov xd, xm (orr xd, xzr, xm; not for sp)
        self._w(0xAA0003E0 | rm << 16 | rd)

    def mov_w(self, rd, rm):                  # mov wd, wm (orr; zero-extends into xd)
        self._w(0x2A0003E0 | rm << 16 | rd)

    def movz(self, rd, imm16, shift=0):       # movz xd, #imm16, lsl #shift
        assert 0 <= imm16 < 1 << 16 and shift in (0, 16, 32, 48)
        self._w(0xD2800000 | shift // 16 << 21 | imm16 << 5 | rd)

    def movk(self, rd, imm16, shift=0):       # movk xd, #imm16, lsl #shift (keeps the other bits)
        assert 0 <= imm16 < 1 << 16 and shift in (0, 16, 32, 48)
        self._w(0xF2800000 | shift // 16 << 21 | imm16 << 5 | rd)

    def mov_imm64(self, rd, value):           # movz + one movk per further non-zero halfword
        value &= (1 << 64) - 1
        parts = [(value >> s & 0xFFFF, s) for s in (0, 16, 32, 48)]
        nonzero = [p for p in parts if p[0]] or [(0, 0)]
        self.movz(rd, *nonzero[0])
        for imm16, shift in nonzero[1:]:
            self.movk(rd, imm16, shift)

    # -- arithmetic, logic and compares --
    def add_imm(self, rd, rn, imm):           # add xd, xn, #imm12 (rd/rn may be sp)
        assert 0 <= imm < 4096, imm
        self._w(0x91000000 | imm << 10 | rn << 5 | rd)

    def sub_imm(self, rd, rn, imm):           # sub xd, xn, #imm12 (rd/rn may be sp)
        assert 0 <= imm < 4096, imm
        self._w(0xD1000000 | imm << 10 | rn << 5 | rd)

    def cmp_imm(self, rn, imm):               # cmp xn, #imm12 (subs xzr, xn, #imm)
        assert 0 <= imm < 4096, imm
        self._w(0xF100001F | imm << 10 | rn << 5)

    def cmp_w_imm(self, rn, imm):             # cmp wn, #imm12 (subs wzr, wn, #imm)
        assert 0 <= imm < 4096, imm
        self._w(0x7100001F | imm << 10 | rn << 5)

    def cmp(self, rn, rm):                    # cmp xn, xm (subs xzr, xn, xm)
        self._w(0xEB00001F | rm << 16 | rn << 5)

    def mul(self, rd, rn, rm):                # mul xd, xn, xm (madd xd, xn, xm, xzr)
        self._w(0x9B007C00 | rm << 16 | rn << 5 | rd)

    def madd(self, rd, rn, rm, ra):           # madd xd, xn, xm, xa (xd = xa + xn * xm)
        self._w(0x9B000000 | rm << 16 | ra << 10 | rn << 5 | rd)

    def tst_w_low(self, rn, bits):            # tst wn, #(1 << bits) - 1 (ands wzr, wn, #mask: the low bits)
        assert 0 < bits < 32, bits
        self._w(0x7200001F | (bits - 1) << 10 | rn << 5)

    def and_imm(self, rd, rn, mask):          # and xd, xn, #mask (one run of ones, rotated)
        ones = bin(mask).count("1")
        assert 0 < ones < 64, hex(mask)
        run = (1 << ones) - 1
        # The field holds the run at bit 0 and a right rotation (C3.4.2 DecodeBitMasks).
        immr = next(r for r in range(64) if ((run >> r) | (run << (64 - r))) & ((1 << 64) - 1) == mask)
        self._w(0x92400000 | immr << 16 | (ones - 1) << 10 | rn << 5 | rd)

    def cset_w(self, rd, cond):               # cset wd, cond (csinc wd, wzr, wzr, !cond)
        self._w(0x1A9F07E0 | (cond ^ 1) << 12 | rd)

    # -- extensions (bitfield moves: sbfm/ubfm) --
    def _bfm(self, base, rd, rn, immr, imms):
        self._w(base | immr << 16 | imms << 10 | rn << 5 | rd)

    def sxtb(self, rd, rn):                   # sxtb xd, wn (sbfm xd, xn, #0, #7)
        self._bfm(0x93400000, rd, rn, 0, 7)

    def sxth(self, rd, rn):                   # sxth xd, wn (sbfm xd, xn, #0, #15)
        self._bfm(0x93400000, rd, rn, 0, 15)

    def sxtw(self, rd, rn):                   # sxtw xd, wn (sbfm xd, xn, #0, #31)
        self._bfm(0x93400000, rd, rn, 0, 31)

    def uxtb(self, rd, rn):                   # uxtb wd, wn (ubfm wd, wn, #0, #7; zero-extends into xd)
        self._bfm(0x53000000, rd, rn, 0, 7)

    def uxth(self, rd, rn):                   # uxth wd, wn (ubfm wd, wn, #0, #15; zero-extends into xd)
        self._bfm(0x53000000, rd, rn, 0, 15)

    def ubfx_w(self, rd, rn, lsb, width):     # ubfx wd, wn, #lsb, #width (ubfm wd, wn, #lsb, #lsb+width-1)
        assert 0 <= lsb and 0 < width and lsb + width <= 32
        self._bfm(0x53000000, rd, rn, lsb, lsb + width - 1)

    # -- floating point --
    def fcvt_sd(self, sd, dn):                # fcvt sd, dn (double -> single, FPCR rounding)
        self._w(0x1E624000 | dn << 5 | sd)

    def fcvt_ds(self, dd, sn):                # fcvt dd, sn (single -> double, exact)
        self._w(0x1E22C000 | sn << 5 | dd)

    def fmov_ws(self, rd, sn):                # fmov wd, sn (bits; zero-extends into xd)
        self._w(0x1E260000 | sn << 5 | rd)

    # -- control flow --
    def blr(self, rn):                        # blr xn
        self._w(0xD63F0000 | rn << 5)

    def call_abs(self, address):              # mov x16, #address (movz/movk); blr x16
        self.mov_imm64(X16, address)
        self.blr(X16)

    def ret(self):                            # ret (x30)
        self._w(0xD65F03C0)

    def _branch(self, word, label, patch):
        self.labels.refer(len(self.code), label, len(self.code), patch)
        self._w(word)

    def b(self, label):                       # b label (imm26 words, patched)
        self._branch(0x14000000, label, _patch_imm26)

    def b_cond(self, cond, label):            # b.cond label (imm19 words, patched)
        self._branch(0x54000000 | cond, label, _patch_imm19)

    def cbz(self, rt, label):                 # cbz xt, label (imm19 words, patched)
        self._branch(0xB4000000 | rt, label, _patch_imm19)

    def cbnz(self, rt, label):                # cbnz xt, label (imm19 words, patched)
        self._branch(0xB5000000 | rt, label, _patch_imm19)

    def cbz_w(self, rt, label):               # cbz wt, label (imm19 words, patched)
        self._branch(0x34000000 | rt, label, _patch_imm19)

    def cbnz_w(self, rt, label):              # cbnz wt, label (imm19 words, patched)
        self._branch(0x35000000 | rt, label, _patch_imm19)

    def label(self, name):
        self.labels.place(name)

    def finish(self) -> bytes:
        self.labels.resolve()
        return bytes(self.code)


def _patch_imm19(code: bytearray, offset: int, delta: int) -> None:
    """Bits 5..23 of the word at ``offset``: the signed word displacement."""
    assert delta % 4 == 0 and -(1 << 20) <= delta < 1 << 20, delta
    (word,) = struct.unpack_from("<I", code, offset)
    struct.pack_into("<I", code, offset, word | ((delta >> 2) & 0x7FFFF) << 5)


def _patch_imm26(code: bytearray, offset: int, delta: int) -> None:
    """Bits 0..25 of the word at ``offset``: the signed word displacement."""
    assert delta % 4 == 0 and -(1 << 27) <= delta < 1 << 27, delta
    (word,) = struct.unpack_from("<I", code, offset)
    struct.pack_into("<I", code, offset, word | (delta >> 2) & 0x3FFFFFF)


def emit(shape: Shape, rt: dict) -> bytes:
    """The entry point's code for ``shape``; ``rt`` is ``_core.JIT_RUNTIME``.

    Laid end to end from recorded blocks (jit.Recorder), as on x86-64: the
    entry checks, one block per argument, the call with its result; each
    block carries its own failure exits, so no branch crosses a block."""
    n = len(shape.args)
    ret_save, bufs, frame = frame_of(shape, rt)   # below the saved registers
    bracket = shape.bracket
    return b"".join([
        _recorded(rt, _entry, n, frame, bufs, bracket),
        *[_recorded(rt, _argument, arg.type.name, i, bufs, frame, bracket) for i, arg in enumerate(shape.args)],
        _recorded(rt, _call, tuple([(arg.fp, arg.reg, arg.type.name == "f32") for arg in shape.args]),
                  shape.ret.name, bracket, ret_save, bufs, frame),
    ])


_recorded = Recorder(A64)


def _entry(a: A64, rt: dict, n: int, frame: int, bufs, bracket: bool) -> None:
    """Frame, then keywords, arity and closed library; a failure goes to the
    reject helper, which raises exactly what every tier raises."""
    # Frame record (x29, x30) and x19..x21 in 48 bytes, then our frame; both
    # multiples of 16, so sp stays aligned (AAPCS64 6.4.5.1).
    a.stp_pre(FP, LR, SP, -48)
    a.add_imm(FP, SP, 0)                      # mov x29, sp: the frame chain
    a.stp(X19, X20, SP, 16)
    if bracket:
        a.str_x(X21, SP, 32)
    a.sub_imm(SP, SP, frame)
    a.mov(X19, X0)
    a.mov(X20, X1)
    # Keyword names: almost always NULL; an empty tuple is allowed too.
    a.cbnz(X3, "kwnames")
    a.label("kwnames_ok")
    a.and_imm(X9, X2, (1 << rt["vectorcall_nargs_mask_bit"]) - 1)   # PyVectorcall_NARGS
    a.cmp_imm(X9, n)
    a.b_cond(NE, "reject")
    a.ldr_x(X9, X19, rt["fn_closed"])
    a.ldrb(X9, X9, 0)
    a.cbz_w(X9, "accepted")
    a.label("reject")
    a.mov(X0, X19)
    a.mov(X1, X2)
    a.mov(X2, X3)
    a.call_abs(rt["reject"])
    _epilogue(a, frame, bracket)
    a.label("kwnames")
    a.ldr_x(X9, X3, rt["ob_size"])
    a.cbz(X9, "kwnames_ok")
    a.b("reject")
    a.label("accepted")
    if bufs is not None:
        a.add_imm(X9, SP, bufs + rt["sizeof_BufferList"])
        a.str_x(X9, SP, bufs + rt["bufs_views"])
        a.str_w(ZR, SP, bufs + rt["bufs_count"])


def _argument(a: A64, rt: dict, kind: str, i: int, bufs, frame: int, bracket: bool) -> None:
    """Argument ``i`` into its slot [sp, #8i]: the inline fast path, which
    ends by branching past the rest; then the convert helper, which handles
    every other case and raises every error; then this argument's failure
    exit (release what was acquired, return NULL)."""
    slot = 8 * i
    a.ldr_x(X0, X20, slot)
    _unbox(a, kind, slot, rt)
    a.label("slow")
    a.mov(X0, X19)
    a.mov_imm64(X1, i)
    a.ldr_x(X2, X20, slot)
    a.add_imm(X3, SP, slot)
    if bufs is not None:
        a.add_imm(X4, SP, bufs)
    else:
        a.mov(X4, ZR)       # no pointer/string argument: never dereferenced
    a.call_abs(rt["convert"])
    a.cbz_w(X0, "done")
    if bufs is not None:
        a.add_imm(X0, SP, bufs)
        a.call_abs(rt["release"])
    a.mov(X0, ZR)
    _epilogue(a, frame, bracket)
    a.label("done")


def _call(a: A64, rt: dict, registers: tuple, ret: str, bracket: bool, ret_save: int, bufs, frame: int) -> None:
    """Each slot into the register the classifier gave it (x<reg>, or
    s<reg>/d<reg>), the target (bracketed by enter/leave when asked),
    buffers released, the result boxed."""
    if bracket:
        a.mov(X0, X19)
        a.call_abs(rt["enter"])
        a.mov(X21, X0)
    for i, (fp, reg, single) in enumerate(registers):
        if not fp:
            a.ldr_x(reg, SP, 8 * i)
        elif single:
            a.ldr_s(reg, SP, 8 * i)           # the low half of the slot
        else:
            a.ldr_d(reg, SP, 8 * i)
    a.ldr_x(X16, X19, rt["fn_target"])
    a.blr(X16)
    if bracket or bufs is not None:
        a.str_x(X0, SP, ret_save)
        a.str_d(0, SP, ret_save + 8)
        if bracket:
            # errno is saved first thing in `leave`, before any other code runs.
            a.mov(X0, X19)
            a.mov(X1, X21)
            a.call_abs(rt["leave"])
        if bufs is not None:
            a.ldr_w(X9, SP, bufs + rt["bufs_count"])
            a.cbz_w(X9, "released")
            a.add_imm(X0, SP, bufs)
            a.call_abs(rt["release"])
            a.label("released")
        a.ldr_x(X0, SP, ret_save)
        a.ldr_d(0, SP, ret_save + 8)
    _box(a, ret, rt)
    _epilogue(a, frame, bracket)


def _epilogue(a: A64, frame: int, bracket: bool) -> None:
    a.add_imm(SP, SP, frame)
    if bracket:
        a.ldr_x(X21, SP, 32)
    a.ldp(X19, X20, SP, 16)
    a.ldp_post(FP, LR, SP, 48)
    a.ret()


def _unbox(a: A64, name: str, slot: int, rt: dict) -> None:
    """Inline fast path for an argument (object in x0) into [sp, #slot],
    ending with a branch to "done"; anything else goes on to "slow", which
    follows (and overwrites the slot).  Where the last check can end the path,
    the value is stored first and that check branches to "done": no extra
    branch on the fast path."""
    if name in ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"):
        a.ldr_x(X9, X0, rt["ob_type"])
        a.mov_imm64(X10, rt["PyLong_Type"])
        a.cmp(X9, X10)
        a.b_cond(NE, "slow")
        # One-digit ints: ob_size in {-1, 0, 1}, value = ob_size * digit[0].
        a.ldr_x(X9, X0, rt["ob_size"])
        a.add_imm(X10, X9, 1)
        a.cmp_imm(X10, 2)
        a.b_cond(HI, "slow")
        a.ldr_w(X10, X0, rt["long_digit0"])
        a.mul(X9, X9, X10)
        a.str_x(X9, SP, slot)
        # In range iff extending the low bits of the kind gives the value back.
        narrow = {"i8": a.sxtb, "i16": a.sxth, "i32": a.sxtw,
                  "u8": a.uxtb, "u16": a.uxth, "u32": a.mov_w}.get(name)
        if narrow is not None:
            narrow(X10, X9)
            a.cmp(X10, X9)
            a.b_cond(EQ, "done")
        elif name == "u64":
            a.cmp_imm(X9, 0)
            a.b_cond(PL, "done")
        else:
            a.b("done")
    elif name in ("f64", "f32"):
        a.ldr_x(X9, X0, rt["ob_type"])
        a.mov_imm64(X10, rt["PyFloat_Type"])
        a.cmp(X9, X10)
        a.b_cond(NE, "slow")
        if name == "f64":
            a.ldr_x(X9, X0, rt["float_value"])
            a.str_x(X9, SP, slot)
            a.b("done")
        else:
            # Round to f32; infinities and NaNs (including overflow) take the
            # slow path, which applies struct.pack("<f")'s exact rule.
            a.ldr_d(0, X0, rt["float_value"])
            a.fcvt_sd(0, 0)
            a.fmov_ws(X9, 0)
            a.str_x(X9, SP, slot)
            a.ubfx_w(X10, X9, 23, 8)          # the exponent field
            a.cmp_w_imm(X10, 0xFF)
            a.b_cond(NE, "done")
    elif name == "bool":
        a.mov_imm64(X10, rt["Py_True"])
        a.cmp(X0, X10)
        a.cset_w(X9, EQ)
        a.b_cond(EQ, "store")
        a.mov_imm64(X10, rt["Py_False"])
        a.cmp(X0, X10)
        a.b_cond(NE, "slow")
        a.label("store")                      # x9 = 1 for True, 0 for False
        a.str_x(X9, SP, slot)
        a.b("done")
    elif name in ("pointer", "string"):
        a.ldr_x(X9, X0, rt["ob_type"])
        a.mov_imm64(X10, rt["PyBytes_Type"])
        a.cmp(X9, X10)
        a.b_cond(NE, "notbytes")
        a.add_imm(X9, X0, rt["bytes_data"])   # immutable, kept alive by the caller
        a.b("store")
        a.label("notbytes")
        a.mov_imm64(X10, rt["Py_None"])
        a.cmp(X0, X10)
        a.b_cond(NE, "slow")
        a.mov(X9, ZR)
        a.label("store")
        a.str_x(X9, SP, slot)
        a.b("done")


def _box(a: A64, name: str, rt: dict) -> None:
    """Truncate the return register to the declared width and box it."""
    if name == "void":
        a.call_abs(rt["none"])
        return
    if name in ("f64", "f32"):
        if name == "f32":
            a.fcvt_ds(0, 0)
        a.call_abs(rt["PyFloat_FromDouble"])
        return
    if name == "string":
        a.mov(X1, X0)
        a.mov(X0, X19)
        a.call_abs(rt["box"])
        return
    # AAPCS64 leaves the bits above a narrow return unspecified: extend from its width.
    widen = {"i8": a.sxtb, "i16": a.sxth, "i32": a.sxtw, "u8": a.uxtb, "u16": a.uxth,
             "u32": a.mov_w, "bool": a.uxtb}
    if name in widen:
        widen[name](X0, X0)
    a.call_abs(rt[box_function(name)])


# The batch loop's values, in callee-saved registers (AAPCS64 6.1.1) that
# survive every call of the target.
L_TARGET, L_STRIDES, L_OUT, L_OUT_STRIDE, L_ROWS, L_INDEX, L_COLUMNS = X19, X20, X21, X22, X23, X24, X25


def emit_loop(shape: Shape, rt: dict) -> bytes:
    """The batch loop for ``shape`` (fn.map): ``void loop(target /*x0*/, char
    **columns /*x1*/, const ssize_t *strides /*x2*/, char *out /*x3*/, ssize_t
    out_stride /*x4*/, ssize_t rows /*x5*/)``, what jit/x86_64.py's emit_loop does.

    Each row loads the argument registers straight from the columns (whose
    item formats equal the C types: batch.py checked), extended as the call
    path extends them, calls the target, and stores the return register into
    the output row at its declared width.  Addresses are computed from the row
    index (base + index * stride, one madd) rather than by bumping pointers:
    the only value carried from one row to the next is the index, in x24.

    x19 = target, x20 = strides, x21 = out, x22 = out stride, x23 = rows,
    x24 = row index, x25 = columns (the caller's array of column bases, which
    lives for the whole call).  Scratch: x9, x10.  Frame: the frame record
    (x29, x30) and x19..x25 in 80 bytes, so sp stays 16-byte aligned."""
    a = A64()
    a.stp_pre(FP, LR, SP, -80)
    a.add_imm(FP, SP, 0)                      # mov x29, sp: the frame chain
    a.stp(X19, X20, SP, 16)
    a.stp(X21, X22, SP, 32)
    a.stp(X23, X24, SP, 48)
    a.str_x(X25, SP, 64)
    a.mov(L_TARGET, X0)
    a.mov(L_COLUMNS, X1)
    a.mov(L_STRIDES, X2)
    a.mov(L_OUT, X3)
    a.mov(L_OUT_STRIDE, X4)
    a.mov(L_ROWS, X5)
    a.mov(L_INDEX, ZR)
    a.cbz(L_ROWS, "done")
    a.label("row")
    for i, arg in enumerate(shape.args):
        a.ldr_x(X9, L_STRIDES, 8 * i)
        a.ldr_x(X10, L_COLUMNS, 8 * i)
        a.madd(X9, X9, L_INDEX, X10)          # this row's item
        _load_column(a, arg, X9)
    a.blr(L_TARGET)
    if shape.ret.name != "void":
        a.madd(X9, L_OUT_STRIDE, L_INDEX, L_OUT)
        _store_result(a, shape.ret.name, X9)
    a.add_imm(L_INDEX, L_INDEX, 1)
    a.cmp(L_INDEX, L_ROWS)
    a.b_cond(NE, "row")
    a.label("done")
    a.ldr_x(X25, SP, 64)
    a.ldp(X23, X24, SP, 48)
    a.ldp(X21, X22, SP, 32)
    a.ldp(X19, X20, SP, 16)
    a.ldp_post(FP, LR, SP, 80)
    a.ret()
    return a.finish()


def _load_column(a: A64, arg, src: int) -> None:
    """Load one row's argument from [src] into its register, extended as the
    call path extends it (its slots hold narrow integers extended to 64 bits;
    an f32 is the low 32 bits of its v register)."""
    name = arg.type.name
    if arg.fp:
        (a.ldr_d if name == "f64" else a.ldr_s)(arg.reg, src, 0)
        return
    load = {"i8": a.ldrsb_x, "i16": a.ldrsh_x, "i32": a.ldrsw, "u8": a.ldrb, "bool": a.ldrb,
            "u16": a.ldrh, "u32": a.ldr_w}.get(name, a.ldr_x)
    load(arg.reg, src, 0)


def _store_result(a: A64, name: str, dst: int) -> None:
    """Store the return register at [dst], truncated to the declared width
    (AAPCS64 leaves the bits above a narrow return unspecified)."""
    if name == "f64":
        a.str_d(0, dst, 0)
    elif name == "f32":
        a.str_s(0, dst, 0)
    elif name == "bool":
        a.tst_w_low(X0, 8)                    # a bool is its low byte: any bit set is true
        a.cset_w(X0, NE)
        a.strb(X0, dst, 0)
    elif name in ("i8", "u8"):
        a.strb(X0, dst, 0)
    elif name in ("i16", "u16"):
        a.strh(X0, dst, 0)
    elif name in ("i32", "u32"):
        a.str_w(X0, dst, 0)
    else:
        a.str_x(X0, dst, 0)
