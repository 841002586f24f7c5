"""AArch64 (AAPCS64, Linux) emitter for the JIT tier: its assembler and the
ISA operations (jit/isa.py) that jit/entry.py (a Function's vectorcall entry)
and jit/loop.py (the batch loop of fn.map) are written over.

Registers kept across helper calls (callee-saved, AAPCS64 6.1.1): x19 = the
Function, x20 = args, x21 = the thread state from ``enter``.  Scratch: x9,
x10 (and d0 in the f32 path); helper and target addresses go through x16
(IP0), which no veneer can be in the way of since we branch with ``blr``.

Frame, from sp upwards: jit.Frame (the argument slots, the saved return
registers (x0, d0), the BufferList and its Py_buffer array); above it the
frame record (x29, x30) and x19..x21.  sp stays 16-byte aligned throughout.

The batch loop keeps x19 = target, x20 = strides, x21 = out, x22 = out
stride, x23 = rows, x24 = row index, x25 = columns (the caller's array of
column bases, which lives for the whole call); its item addresses are one
madd each.

Encodings: Arm Architecture Reference Manual for A-profile, section C6
(A64 base instructions) and C7 (SIMD&FP)."""
from __future__ import annotations

import struct

from . import entry, isa, loop
from .assembly import Labels, Recorder, Shape
from .isa import ZERO, Address, Extended, Field, Imm

NAME = "aapcs64"
#: (integer-class, float-class) argument registers: x0..x7, v0..v7.
LIMITS = (8, 8)

X0, X1, X2, X3, X4, X5, X6, X7 = range(8)
X9, X10, X16, X17 = 9, 10, 16, 17       # scratch, scratch, IP0, IP1
X19, X20, X21 = 19, 20, 21              # callee-saved: fn, args, thread state
X22, X23, X24, X25 = 22, 23, 24, 25     # callee-saved, used by the batch loop
FP, LR = 29, 30                         # frame pointer, link register
SP = ZR = 31                            # sp as a base/ADD operand, xzr/wzr elsewhere

# Condition codes (C1.2.4).
EQ, NE, MI, PL, HI = 0x0, 0x1, 0x4, 0x5, 0x8


def _check_imm12(imm: int) -> None:
    # Range checks raise (never assert): under python -O an assert is gone and
    # the value would be masked into a wrong instruction.
    if not 0 <= imm < 4096:
        raise ValueError(f"AArch64: immediate {imm} does not fit the unsigned 12-bit field (0..4095)")


def _check_imm16(imm16: int, shift: int) -> None:
    if not 0 <= imm16 < 1 << 16 or shift not in (0, 16, 32, 48):
        raise ValueError(f"AArch64: #{imm16}, lsl #{shift} is not a 16-bit immediate shifted by 0, 16, 32 or 48")


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
        if offset % size or not 0 <= offset // size < limit:
            raise ValueError(f"AArch64: offset {offset} is not a multiple of {size} "
                             f"in 0..{size * (limit - 1)} (unsigned scaled 12-bit field)")
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
        if off % 8 or not -64 <= off // 8 < 64:
            raise ValueError(f"AArch64: pair offset {off} is not a multiple of 8 in -512..504 (imm7)")
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
        _check_imm16(imm16, shift)
        self._w(0xD2800000 | shift // 16 << 21 | imm16 << 5 | rd)

    def movk(self, rd, imm16, shift=0):       # movk xd, #imm16, lsl #shift (keeps the other bits)
        _check_imm16(imm16, shift)
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
        _check_imm12(imm)
        self._w(0x91000000 | imm << 10 | rn << 5 | rd)

    def sub_imm(self, rd, rn, imm):           # sub xd, xn, #imm12 (rd/rn may be sp)
        _check_imm12(imm)
        self._w(0xD1000000 | imm << 10 | rn << 5 | rd)

    def cmp_imm(self, rn, imm):               # cmp xn, #imm12 (subs xzr, xn, #imm)
        _check_imm12(imm)
        self._w(0xF100001F | imm << 10 | rn << 5)

    def cmp_w_imm(self, rn, imm):             # cmp wn, #imm12 (subs wzr, wn, #imm)
        _check_imm12(imm)
        self._w(0x7100001F | imm << 10 | rn << 5)

    def subs_imm(self, rd, rn, imm):          # subs xd, xn, #imm12 (sets the flags)
        _check_imm12(imm)
        self._w(0xF1000000 | imm << 10 | rn << 5 | rd)

    def cmp(self, rn, rm):                    # cmp xn, xm (subs xzr, xn, xm)
        self._w(0xEB00001F | rm << 16 | rn << 5)

    def neg(self, rd, rm):                    # neg xd, xm (sub xd, xzr, xm)
        self._w(0xCB0003E0 | rm << 16 | rd)

    def mul(self, rd, rn, rm):                # mul xd, xn, xm (madd xd, xn, xm, xzr)
        self._w(0x9B007C00 | rm << 16 | rn << 5 | rd)

    def madd(self, rd, rn, rm, ra):           # madd xd, xn, xm, xa (xd = xa + xn * xm)
        self._w(0x9B000000 | rm << 16 | ra << 10 | rn << 5 | rd)

    def tst_w_low(self, rn, bits):            # tst wn, #(1 << bits) - 1 (ands wzr, wn, #mask: the low bits)
        if not 0 < bits < 32:
            raise ValueError(f"AArch64: tst of the low {bits} bits has no logical immediate (1..31)")
        self._w(0x7200001F | (bits - 1) << 10 | rn << 5)

    def and_imm(self, rd, rn, mask):          # and xd, xn, #mask (one run of ones, rotated)
        ones = bin(mask).count("1") if 0 <= mask < 1 << 64 else 0
        run = (1 << ones) - 1
        # The field holds the run at bit 0 and a right rotation (C3.4.2 DecodeBitMasks).
        immr = next((r for r in range(64) if ((run >> r) | (run << (64 - r))) & ((1 << 64) - 1) == mask), None)
        if not 0 < ones < 64 or immr is None:
            raise ValueError(f"AArch64: {mask:#x} is not a 64-bit logical immediate (one rotated run of ones)")
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
        if not (0 <= lsb and 0 < width and lsb + width <= 32):
            raise ValueError(f"AArch64: bit field #{lsb}, #{width} is outside a 32-bit register")
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

    def bti_c(self):                          # bti c (a valid target of blr; a hint: a nop without BTI)
        self._w(0xD503245F)

    def ldr_literal_x(self, rt, delta):       # ldr xt, pc + delta (imm19 words)
        if delta % 4 or not -(1 << 20) <= delta < 1 << 20:
            raise ValueError(f"AArch64: literal displacement {delta} is not a multiple of 4 within +-1 MiB (imm19)")
        self._w(0x58000000 | ((delta >> 2) & 0x7FFFF) << 5 | rt)

    def label(self, name):
        self.labels.place(name)

    def finish(self) -> bytes:
        self.labels.resolve()
        return bytes(self.code)


def _patch_imm19(code: bytearray, offset: int, delta: int) -> None:
    """Bits 5..23 of the word at ``offset``: the signed word displacement."""
    if delta % 4 or not -(1 << 20) <= delta < 1 << 20:
        raise ValueError(f"AArch64: branch displacement {delta} is not a multiple of 4 within +-1 MiB (imm19)")
    (word,) = struct.unpack_from("<I", code, offset)
    struct.pack_into("<I", code, offset, word | ((delta >> 2) & 0x7FFFF) << 5)


def _patch_imm26(code: bytearray, offset: int, delta: int) -> None:
    """Bits 0..25 of the word at ``offset``: the signed word displacement."""
    if delta % 4 or not -(1 << 27) <= delta < 1 << 27:
        raise ValueError(f"AArch64: branch displacement {delta} is not a multiple of 4 within +-128 MiB (imm26)")
    (word,) = struct.unpack_from("<I", code, offset)
    struct.pack_into("<I", code, offset, word | (delta >> 2) & 0x3FFFFFF)


# The batch loop's values, in callee-saved registers (AAPCS64 6.1.1) that
# survive every call of the target.
L_TARGET, L_STRIDES, L_OUT, L_OUT_STRIDE, L_ROWS, L_INDEX, L_COLUMNS = X19, X20, X21, X22, X23, X24, X25


class Operations(A64, isa.Operations):
    """The ISA operations (jit/isa.py) for AAPCS64."""

    GP_ARGS = (X0, X1, X2, X3, X4, X5, X6, X7)   # AAPCS64 6.8.2
    # Callee-saved (AAPCS64 6.1.1): kept across helper calls.
    FN, ARGS, TSTATE = X19, X20, X21
    OBJ, VALUE, TMP, RESULT, SP = X0, X9, X10, X0, SP
    INDEX, ROWS, TARGET = L_INDEX, L_ROWS, L_TARGET
    # x21 is saved only where a bracket uses it (its slot in the 48 bytes is
    # there either way).
    ALWAYS_SAVES_TSTATE = False
    # An f32 argument is loaded with ldr s: the low half of its slot.
    SINGLE_LOADS = True

    _EXTEND = {"i8": A64.sxtb, "i16": A64.sxth, "i32": A64.sxtw, "u8": A64.uxtb, "u16": A64.uxth,
               "u32": A64.mov_w, "bool": A64.uxtb}

    def put(self, dst, src):
        cls = src.__class__
        if cls is Field:
            (self.ldr_x if src.size == 8 else self.ldr_w)(dst, src.base, src.disp)
        elif cls is int:
            if dst != src:
                self.mov(dst, src)
        elif cls is Address:
            self.add_imm(dst, src.base, src.disp)
        elif cls is Extended:
            self._EXTEND[src.kind](self, dst, src.reg)
        elif cls is Imm:
            self.mov_imm64(dst, src.value)
        else:
            if src is not ZERO:
                raise ValueError(f"not an operand: {src!r}")
            self.mov(dst, ZR)

    def store(self, base, disp, src, size=8):
        if src is ZERO:
            if size != 4:
                raise ValueError(f"ZERO is stored as 4 bytes, not {size}")
            self.str_w(ZR, base, disp)
        else:
            if size != 8:
                raise ValueError(f"a register is stored as 8 bytes, not {size}")
            self.str_x(src, base, disp)

    def multiply(self, dst, src):
        self.mul(dst, dst, src)

    def increment(self, reg):
        self.add_imm(reg, reg, 1)

    # AArch64 has no add to memory: the count goes through IP0 (x16), which
    # no operand of these operations is (it is the helper-call register).
    def count_in(self, ptr):
        self.ldr_x(X16, ptr, 0)
        self.add_imm(X16, X16, 1)
        self.str_x(X16, ptr, 0)

    def count_out(self, ptr, label):
        self.ldr_x(X16, ptr, 0)
        self.sub_imm(X16, X16, 1)
        self.str_x(X16, ptr, 0)
        self.cbz(X16, label)

    def load_as_single(self, dst, base, disp):
        self.ldr_d(0, base, disp)
        self.fcvt_sd(0, 0)
        self.fmov_ws(dst, 0)

    def result_to_double(self):
        self.fcvt_ds(0, 0)

    def jump(self, label):
        self.b(label)

    def branch_if_zero(self, reg, label, size=8):
        (self.cbz if size == 8 else self.cbz_w)(reg, label)

    def branch_if_nonzero(self, reg, label):
        self.cbnz(reg, label)

    def branch_if_zero_at(self, base, disp, size, label):
        {1: self.ldrb, 4: self.ldr_w, 8: self.ldr_x}[size](X9, base, disp)
        (self.cbz if size == 8 else self.cbz_w)(X9, label)

    def branch_if_equal(self, a, b, label):
        self.cmp(a, b)
        self.b_cond(EQ, label)

    def branch_if_not_equal(self, a, b, label):
        self.cmp(a, b)
        self.b_cond(NE, label)

    def branch_if_not_negative(self, reg, label):
        self.cmp_imm(reg, 0)
        self.b_cond(PL, label)

    def branch_if_outside(self, reg, low, high, label):
        # One unsigned compare: reg - low higher than high - low.
        self.add_imm(X10, reg, -low)
        self.cmp_imm(X10, high - low)
        self.b_cond(HI, label)

    def branch_if_above(self, reg, limit, label):
        self.cmp_imm(reg, limit)
        self.b_cond(HI, label)

    def one_minus_masked(self, reg, mask):
        self.and_imm(reg, reg, mask)
        self.neg(reg, reg)
        self.add_imm(reg, reg, 1)

    def branch_if_finite_single(self, reg, label):
        self.ubfx_w(X10, reg, 23, 8)          # the exponent field
        self.cmp_w_imm(X10, 0xFF)
        self.b_cond(NE, label)

    def branch_unless_type(self, obj, type_address, ob_type, label):
        self.ldr_x(X9, obj, ob_type)
        self.mov_imm64(X10, type_address)
        self.cmp(X9, X10)
        self.b_cond(NE, label)

    def branch_unless_is(self, obj, address, label):
        self.mov_imm64(X10, address)
        self.cmp(obj, X10)
        self.b_cond(NE, label)

    def branch_if_nargs_is(self, nargsf, n, flag_bit, label):
        self.and_imm(X9, nargsf, (1 << flag_bit) - 1)
        self.cmp_imm(X9, n)
        self.b_cond(EQ, label)

    def unbox_bool(self, obj, true, false, label):
        # The flags of the first compare give the value (cset) and the branch.
        self.mov_imm64(X10, true)
        self.cmp(obj, X10)
        self.cset_w(X9, EQ)
        self.b_cond(EQ, "bool.end")
        self.branch_unless_is(obj, false, label)
        self.label("bool.end")

    def call_field(self, base, disp):
        self.ldr_x(X16, base, disp)
        self.blr(X16)

    def call_pointer(self, reg):
        self.blr(reg)

    def load_argument(self, disp, fp, reg, single=False):
        if not fp:
            self.ldr_x(reg, SP, disp)
        elif single:
            self.ldr_s(reg, SP, disp)           # the low half of the slot
        else:
            self.ldr_d(reg, SP, disp)

    def save_result(self, disp):
        self.str_x(X0, SP, disp)
        self.str_d(0, SP, disp + 8)

    def restore_result(self, disp):
        self.ldr_x(X0, SP, disp)
        self.ldr_d(0, SP, disp + 8)

    @isa.assembled_once
    def prologue(self, frame, keep_tstate):
        # Frame record (x29, x30) and x19..x21 in 48 bytes, then our frame;
        # both multiples of 16, so sp stays aligned (AAPCS64 6.4.5.1).
        self.stp_pre(FP, LR, SP, -48)
        self.add_imm(FP, SP, 0)                 # mov x29, sp: the frame chain
        self.stp(X19, X20, SP, 16)
        if keep_tstate:
            self.str_x(X21, SP, 32)
        self.sub_imm(SP, SP, frame)

    @isa.assembled_once
    def epilogue(self, frame, keep_tstate):
        self.add_imm(SP, SP, frame)
        if keep_tstate:
            self.ldr_x(X21, SP, 32)
        self.ldp(X19, X20, SP, 16)
        self.ldp_post(FP, LR, SP, 48)
        self.ret()

    # Callback thunks (jit/thunk.py): a stub leaves its data word's address
    # in x17 (IP1), which no argument uses and our calls go around (x16).
    THUNK_DATA = X17
    FILL = b"\x00\x00\x00\x00"              # udf #0
    THUNK_INCOMING = 48                       # the prologue's frame record and x19..x21

    def spill_argument(self, disp, fp, reg):
        (self.str_d if fp else self.str_x)(reg, SP, disp)

    def branch_if_low_word_negative(self, base, label):
        self.ldr_w(X9, base, 0)
        self.cmp_w_imm(X9, 0)
        self.b_cond(MI, label)

    def decrement_branch_if_nonzero(self, base, label):
        self.ldr_x(X9, base, 0)
        self.subs_imm(X9, X9, 1)
        self.str_x(X9, base, 0)
        self.b_cond(NE, label)

    def thunk_stub(self, word, label):
        # bti c; ldr x17, the literal; b label; a fill word; the literal
        # (8-byte aligned when the stub is).
        self.bti_c()
        self.ldr_literal_x(X17, 12)
        self.b(label)
        self.code += self.FILL
        field = len(self.code)
        self.code += struct.pack("<Q", word)
        return field

    def loop_prologue(self, nargs):
        # The frame record (x29, x30) and x19..x25 in 80 bytes: sp stays 16-byte aligned.
        self.stp_pre(FP, LR, SP, -80)
        self.add_imm(FP, SP, 0)
        self.stp(X19, X20, SP, 16)
        self.stp(X21, X22, SP, 32)
        self.stp(X23, X24, SP, 48)
        self.str_x(X25, SP, 64)
        self.mov(L_TARGET, X0)
        self.mov(L_COLUMNS, X1)
        self.mov(L_STRIDES, X2)
        self.mov(L_OUT, X3)
        self.mov(L_OUT_STRIDE, X4)
        self.mov(L_ROWS, X5)

    def loop_epilogue(self, nargs):
        self.ldr_x(X25, SP, 64)
        self.ldp(X23, X24, SP, 48)
        self.ldp(X21, X22, SP, 32)
        self.ldp(X19, X20, SP, 16)
        self.ldp_post(FP, LR, SP, 80)
        self.ret()

    def item_address(self, column):
        self.ldr_x(X9, L_STRIDES, 8 * column)
        self.ldr_x(X10, L_COLUMNS, 8 * column)
        self.madd(X9, X9, L_INDEX, X10)          # base + index * stride
        return X9

    def output_address(self):
        self.madd(X9, L_OUT_STRIDE, L_INDEX, L_OUT)
        return X9

    _COLUMN_LOADS = {"i8": A64.ldrsb_x, "i16": A64.ldrsh_x, "i32": A64.ldrsw, "u8": A64.ldrb,
                     "bool": A64.ldrb, "u16": A64.ldrh, "u32": A64.ldr_w}

    def load_column(self, arg, src):
        # The entry's slots hold narrow integers extended to 64 bits; an f32
        # is the low 32 bits of its v register.
        name = arg.type.name
        if arg.fp:
            (self.ldr_d if name == "f64" else self.ldr_s)(arg.reg, src, 0)
        else:
            self._COLUMN_LOADS.get(name, A64.ldr_x)(self, arg.reg, src, 0)

    def store_result(self, kind, dst):
        # AAPCS64 leaves the bits above a narrow return unspecified.
        if kind == "f64":
            self.str_d(0, dst, 0)
        elif kind == "f32":
            self.str_s(0, dst, 0)
        elif kind == "bool":
            self.tst_w_low(X0, 8)               # a bool is its low byte: any bit set is true
            self.cset_w(X0, NE)
            self.strb(X0, dst, 0)
        elif kind in ("i8", "u8"):
            self.strb(X0, dst, 0)
        elif kind in ("i16", "u16"):
            self.strh(X0, dst, 0)
        elif kind in ("i32", "u32"):
            self.str_w(X0, dst, 0)
        else:
            self.str_x(X0, dst, 0)


_recorded = Recorder(Operations)
#: emit(shape, rt) -> bytes: a Function's vectorcall entry point (jit/entry.py).
emit = entry.emitter(_recorded)


def emit_loop(shape: Shape, rt: dict) -> bytes:
    """The batch loop for ``shape`` (jit/loop.py)."""
    return loop.emit_loop(Operations(), shape)
