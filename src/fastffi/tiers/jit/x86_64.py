"""x86-64 System V emitter for the JIT tier: its assembler and the ISA
operations (jit/isa.py) that jit/entry.py (a Function's vectorcall entry) and
jit/loop.py (the batch loop of fn.map) are written over.

Registers kept across helper calls (callee-saved, psABI 3.2.1): rbx = the
Function, r12 = args, r13 = the thread state from ``enter``.  Scratch: rax,
rcx (and xmm0 in the f32 path); helpers are called through rax, the target
through r11.

Frame, from %rsp upwards: jit.Frame (the argument slots, the saved return
registers, the BufferList and its Py_buffer array), then the pushed r13,
r12, rbx and the return address.

Encodings: Intel SDM vol. 2."""
from __future__ import annotations

import struct

from . import entry, isa, loop
from .assembly import Labels, Recorder, Shape
from .isa import ZERO, Address, Extended, Field, Imm

NAME = "sysv-x86_64"
#: (integer-class, float-class) argument registers: rdi..r9, xmm0..xmm7.
LIMITS = (6, 8)

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)

# Condition codes (the low nibble of Jcc).
JE, JNE, JA, JS, JNS = 0x4, 0x5, 0x7, 0x8, 0x9


def _imm8(value: int, low: int = -128, high: int = 127) -> int:
    """An 8-bit immediate field (sign-extended by the instruction unless
    ``high`` allows more): out of range is a ValueError, never a masked value."""
    if not low <= value <= high:
        raise ValueError(f"x86-64: immediate {value} does not fit an 8-bit field ({low}..{high})")
    return value & 0xFF


def _imm32(value: int, signed: bool = True) -> bytes:
    """A 32-bit immediate or displacement field, little-endian."""
    low, high = (-(1 << 31), (1 << 31) - 1) if signed else (0, (1 << 32) - 1)
    if not low <= value <= high:
        raise ValueError(f"x86-64: {value} does not fit {'a signed' if signed else 'an unsigned'} 32-bit field")
    return struct.pack("<i" if signed else "<I", value)


def _memo(encoder):
    """Encoders are pure functions of their operands: each distinct call is
    encoded once and its bytes reused (emission stays cheap at creation)."""
    cache: dict = {}

    def emit(self, *operands):
        code = cache.get(operands)
        if code is None:
            start = len(self.code)
            encoder(self, *operands)
            cache[operands] = bytes(self.code[start:])
        else:
            self.code += code

    emit.__doc__ = encoder.__doc__
    emit.__name__ = encoder.__name__
    return emit


class X64:
    """Small encoders, one per instruction form used (Intel SDM vol. 2)."""

    def __init__(self):
        self.code = bytearray()
        self.labels = Labels(self.code)

    def _b(self, *data: int) -> None:
        self.code.extend(data)

    @staticmethod
    def _rex(w: int, r: int, b: int, force: bool = False) -> list[int]:
        byte = 0x40 | (w << 3) | ((r >> 3) << 2) | (b >> 3)
        return [byte] if byte != 0x40 or force else []

    @staticmethod
    def _mem(reg: int, base: int, disp: int) -> list[int]:
        """ModRM (+SIB, +displacement) for [base + disp]."""
        rm = base & 7
        sib = [0x24] if rm == 4 else []            # rsp/r12 as base need a SIB byte
        if disp == 0 and rm != 5:                   # rbp/r13 need an explicit displacement
            return [(reg & 7) << 3 | rm] + sib
        if -128 <= disp <= 127:
            return [0x40 | (reg & 7) << 3 | rm] + sib + [disp & 0xFF]
        return [0x80 | (reg & 7) << 3 | rm] + sib + list(_imm32(disp))

    @staticmethod
    def _rr(reg: int, rm: int) -> int:
        return 0xC0 | (reg & 7) << 3 | (rm & 7)

    # -- moves --
    @_memo
    def mov_load(self, dst, base, disp):      # mov dst, [base+disp]
        self._b(*self._rex(1, dst, base), 0x8B, *self._mem(dst, base, disp))

    @_memo
    def mov_store(self, base, disp, src):     # mov [base+disp], src
        self._b(*self._rex(1, src, base), 0x89, *self._mem(src, base, disp))

    @_memo
    def mov_rr(self, dst, src):               # mov dst, src
        self._b(*self._rex(1, src, dst), 0x89, self._rr(src, dst))

    @_memo
    def mov_r32_load(self, dst, base, disp):  # mov dst32, [base+disp] (zero-extends)
        self._b(*self._rex(0, dst, base), 0x8B, *self._mem(dst, base, disp))

    @_memo
    def mov_imm64(self, dst, value):          # movabs dst, imm64
        if not -(1 << 63) <= value < 1 << 64:
            raise ValueError(f"x86-64: {value} does not fit a 64-bit immediate")
        self._b(*self._rex(1, 0, dst), 0xB8 + (dst & 7), *struct.pack("<Q", value & (2**64 - 1)))

    @_memo
    def mov_imm32(self, dst, value):          # mov dst32, imm32 (zero-extends)
        self._b(*self._rex(0, 0, dst), 0xB8 + (dst & 7), *_imm32(value, signed=False))

    @_memo
    def mov_store_imm32(self, base, disp, value):   # mov dword [base+disp], imm32
        self._b(*self._rex(0, 0, base), 0xC7, *self._mem(0, base, disp), *_imm32(value))

    @_memo
    def lea(self, dst, base, disp):           # lea dst, [base+disp]
        self._b(*self._rex(1, dst, base), 0x8D, *self._mem(dst, base, disp))

    @_memo
    def movsxd(self, dst, src):               # movsxd dst, src32
        self._b(*self._rex(1, dst, src), 0x63, self._rr(dst, src))

    @_memo
    def movsx8(self, dst, src):               # movsx dst, src8 (src in rax..rbx)
        self._b(*self._rex(1, dst, src), 0x0F, 0xBE, self._rr(dst, src))

    @_memo
    def movsx16(self, dst, src):              # movsx dst, src16
        self._b(*self._rex(1, dst, src), 0x0F, 0xBF, self._rr(dst, src))

    @_memo
    def movzx8(self, dst, src):               # movzx dst32, src8 (src in rax..rbx)
        self._b(*self._rex(0, dst, src), 0x0F, 0xB6, self._rr(dst, src))

    @_memo
    def movzx16(self, dst, src):              # movzx dst32, src16
        self._b(*self._rex(0, dst, src), 0x0F, 0xB7, self._rr(dst, src))

    @_memo
    def mov_r32(self, dst, src):              # mov dst32, src32 (zero-extends)
        self._b(*self._rex(0, src, dst), 0x89, self._rr(src, dst))

    @_memo
    def movsx8_load(self, dst, base, disp):   # movsx dst, byte [base+disp]
        self._b(*self._rex(1, dst, base), 0x0F, 0xBE, *self._mem(dst, base, disp))

    @_memo
    def movsx16_load(self, dst, base, disp):  # movsx dst, word [base+disp]
        self._b(*self._rex(1, dst, base), 0x0F, 0xBF, *self._mem(dst, base, disp))

    @_memo
    def movsxd_load(self, dst, base, disp):   # movsxd dst, dword [base+disp]
        self._b(*self._rex(1, dst, base), 0x63, *self._mem(dst, base, disp))

    @_memo
    def movzx8_load(self, dst, base, disp):   # movzx dst32, byte [base+disp]
        self._b(*self._rex(0, dst, base), 0x0F, 0xB6, *self._mem(dst, base, disp))

    @_memo
    def movzx16_load(self, dst, base, disp):  # movzx dst32, word [base+disp]
        self._b(*self._rex(0, dst, base), 0x0F, 0xB7, *self._mem(dst, base, disp))

    @_memo
    def mov_store8(self, base, disp, src):    # mov byte [base+disp], src8 (src in rax..rbx)
        self._b(*self._rex(0, src, base), 0x88, *self._mem(src, base, disp))

    @_memo
    def mov_store16(self, base, disp, src):   # mov word [base+disp], src16
        self._b(0x66, *self._rex(0, src, base), 0x89, *self._mem(src, base, disp))

    @_memo
    def mov_store32(self, base, disp, src):   # mov dword [base+disp], src32
        self._b(*self._rex(0, src, base), 0x89, *self._mem(src, base, disp))

    # -- arithmetic and compares --
    @_memo
    def add_reg_mem(self, dst, base, disp):   # add dst, [base+disp]
        self._b(*self._rex(1, dst, base), 0x03, *self._mem(dst, base, disp))

    @_memo
    def add_rr(self, dst, src):               # add dst, src
        self._b(*self._rex(1, src, dst), 0x01, self._rr(src, dst))

    @_memo
    def inc(self, reg):                       # inc reg
        self._b(*self._rex(1, 0, reg), 0xFF, self._rr(0, reg))

    @_memo
    def test_r8(self, a, b):                  # test a8, b8 (rax..rbx)
        self._b(*self._rex(0, b, a), 0x84, self._rr(b, a))

    @_memo
    def setne(self, reg):                     # setne reg8 (rax..rbx)
        self._b(*self._rex(0, 0, reg), 0x0F, 0x95, self._rr(0, reg))

    @_memo
    def cmp_reg_mem(self, reg, base, disp):   # cmp reg, [base+disp]
        self._b(*self._rex(1, reg, base), 0x3B, *self._mem(reg, base, disp))

    @_memo
    def cmp_rr(self, a, b):                   # cmp a, b
        self._b(*self._rex(1, b, a), 0x39, self._rr(b, a))

    @_memo
    def cmp_imm(self, reg, value):            # cmp reg, imm8/imm32
        if -128 <= value <= 127:
            self._b(*self._rex(1, 0, reg), 0x83, self._rr(7, reg), value & 0xFF)
        else:
            self._b(*self._rex(1, 0, reg), 0x81, self._rr(7, reg), *_imm32(value))

    @_memo
    def cmp_mem_imm8(self, base, disp, value):   # cmp qword [base+disp], imm8
        self._b(*self._rex(1, 0, base), 0x83, *self._mem(7, base, disp), _imm8(value))

    @_memo
    def add_mem_imm8(self, base, disp, value):   # add qword [base+disp], imm8
        self._b(*self._rex(1, 0, base), 0x83, *self._mem(0, base, disp), _imm8(value))

    @_memo
    def sub_mem_imm8(self, base, disp, value):   # sub qword [base+disp], imm8
        self._b(*self._rex(1, 0, base), 0x83, *self._mem(5, base, disp), _imm8(value))

    @_memo
    def cmpb_mem_imm8(self, base, disp, value):  # cmp byte [base+disp], imm8
        self._b(*self._rex(0, 0, base), 0x80, *self._mem(7, base, disp), _imm8(value, -128, 255))

    @_memo
    def cmpd_mem_imm8(self, base, disp, value):  # cmp dword [base+disp], imm8
        self._b(*self._rex(0, 0, base), 0x83, *self._mem(7, base, disp), _imm8(value))

    @_memo
    def cmp_r32_imm32(self, reg, value):      # cmp reg32, imm32
        self._b(*self._rex(0, 0, reg), 0x81, self._rr(7, reg), *_imm32(value, signed=False))

    @_memo
    def and_r32_imm32(self, reg, value):      # and reg32, imm32
        self._b(*self._rex(0, 0, reg), 0x81, self._rr(4, reg), *_imm32(value, signed=False))

    @_memo
    def test_rr(self, a, b):                  # test a, b
        self._b(*self._rex(1, b, a), 0x85, self._rr(b, a))

    @_memo
    def test_r32(self, a, b):                 # test a32, b32
        self._b(*self._rex(0, b, a), 0x85, self._rr(b, a))

    @_memo
    def xor_r32(self, a, b):                  # xor a32, b32 (zeroes the 64-bit register)
        self._b(*self._rex(0, b, a), 0x31, self._rr(b, a))

    @_memo
    def sub_imm(self, reg, value):            # sub reg, imm32
        self._b(*self._rex(1, 0, reg), 0x81, self._rr(5, reg), *_imm32(value))

    @_memo
    def add_imm(self, reg, value):            # add reg, imm32
        self._b(*self._rex(1, 0, reg), 0x81, self._rr(0, reg), *_imm32(value))

    @_memo
    def imul_rr(self, dst, src):              # imul dst, src
        self._b(*self._rex(1, dst, src), 0x0F, 0xAF, self._rr(dst, src))

    @_memo
    def and_imm8(self, reg, value):           # and reg, imm8 (sign-extended)
        self._b(*self._rex(1, 0, reg), 0x83, self._rr(4, reg), _imm8(value))

    @_memo
    def neg(self, reg):                       # neg reg
        self._b(*self._rex(1, 0, reg), 0xF7, self._rr(3, reg))

    @_memo
    def btr_imm(self, reg, bit):              # btr reg, imm8
        self._b(*self._rex(1, 0, reg), 0x0F, 0xBA, self._rr(6, reg), _imm8(bit, 0, 63))

    # -- SSE --
    @_memo
    def movq_xmm_load(self, xmm, base, disp):   # movq xmm, [base+disp]
        self._b(0xF3, *self._rex(0, xmm, base), 0x0F, 0x7E, *self._mem(xmm, base, disp))

    @_memo
    def movq_xmm_store(self, base, disp, xmm):  # movq [base+disp], xmm
        self._b(0x66, *self._rex(0, xmm, base), 0x0F, 0xD6, *self._mem(xmm, base, disp))

    @_memo
    def movd_xmm_load(self, xmm, base, disp):   # movd xmm, dword [base+disp]
        self._b(0x66, *self._rex(0, xmm, base), 0x0F, 0x6E, *self._mem(xmm, base, disp))

    @_memo
    def movd_xmm_store(self, base, disp, xmm):  # movd dword [base+disp], xmm
        self._b(0x66, *self._rex(0, xmm, base), 0x0F, 0x7E, *self._mem(xmm, base, disp))

    @_memo
    def cvtsd2ss(self, dst, src):             # cvtsd2ss xmm, xmm
        self._b(0xF2, *self._rex(0, dst, src), 0x0F, 0x5A, self._rr(dst, src))

    @_memo
    def cvtss2sd(self, dst, src):             # cvtss2sd xmm, xmm
        self._b(0xF3, *self._rex(0, dst, src), 0x0F, 0x5A, self._rr(dst, src))

    @_memo
    def movd_r32_xmm(self, dst, xmm):         # movd dst32, xmm (zero-extends)
        self._b(0x66, *self._rex(0, xmm, dst), 0x0F, 0x7E, self._rr(xmm, dst))

    @_memo
    def endbr64(self):                        # endbr64 (CET: a valid indirect branch target)
        self._b(0xF3, 0x0F, 0x1E, 0xFA)

    # -- control flow --
    @_memo
    def push(self, reg):                      # push reg
        self._b(*self._rex(0, 0, reg), 0x50 + (reg & 7))

    @_memo
    def pop(self, reg):                       # pop reg
        self._b(*self._rex(0, 0, reg), 0x58 + (reg & 7))

    @_memo
    def call_reg(self, reg):                  # call reg
        self._b(*self._rex(0, 0, reg), 0xFF, self._rr(2, reg))

    def call_abs(self, address):              # movabs rax, address; call rax
        self.mov_imm64(RAX, address)
        self.call_reg(RAX)

    @_memo
    def ret(self):                            # ret
        self._b(0xC3)

    def jcc(self, cc, label):                 # jcc rel32 (patched)
        self._b(0x0F, 0x80 | cc, 0, 0, 0, 0)
        self.labels.refer(len(self.code) - 4, label, len(self.code), _patch_rel32)

    def jmp(self, label):                     # jmp rel32 (patched)
        self._b(0xE9, 0, 0, 0, 0)
        self.labels.refer(len(self.code) - 4, label, len(self.code), _patch_rel32)

    def label(self, name):
        self.labels.place(name)

    def finish(self) -> bytes:
        self.labels.resolve()
        return bytes(self.code)


#: patch(code, offset, delta): a rel32 branch field.
_patch_rel32 = struct.Struct("<i").pack_into


class Operations(X64, isa.Operations):
    """The ISA operations (jit/isa.py) for System V x86-64."""

    GP_ARGS = (RDI, RSI, RDX, RCX, R8, R9)   # psABI 3.2.3
    # Callee-saved (psABI 3.2.1): kept across helper calls.
    FN, ARGS, TSTATE = RBX, R12, R13
    OBJ, VALUE, TMP, RESULT, SP = RDI, RAX, RCX, RAX, RSP
    INDEX, ROWS, TARGET = RBX, R15, RBP
    # r13 is pushed either way: three pushes after the return address leave
    # %rsp 16-byte aligned (psABI 3.2.2).
    ALWAYS_SAVES_TSTATE = True
    # movq loads a whole slot: only the low 32 bits of an f32's xmm register are
    # its value (psABI 3.2.3), so an f32 and an f64 load alike.
    SINGLE_LOADS = False

    _EXTEND = {"i8": X64.movsx8, "i16": X64.movsx16, "i32": X64.movsxd, "u8": X64.movzx8,
               "u16": X64.movzx16, "u32": X64.mov_r32, "bool": X64.movzx8}

    def put(self, dst, src):
        cls = src.__class__
        if cls is Field:
            (self.mov_load if src.size == 8 else self.mov_r32_load)(dst, src.base, src.disp)
        elif cls is int:
            if dst != src:
                self.mov_rr(dst, src)
        elif cls is Address:
            self.lea(dst, src.base, src.disp)
        elif cls is Extended:
            self._EXTEND[src.kind](self, dst, src.reg)
        elif cls is Imm:
            self.mov_imm32(dst, src.value)
        else:
            if src is not ZERO:
                raise ValueError(f"not an operand: {src!r}")
            self.xor_r32(dst, dst)

    def store(self, base, disp, src, size=8):
        if src is ZERO:
            if size != 4:
                raise ValueError(f"ZERO is stored as 4 bytes, not {size}")
            self.mov_store_imm32(base, disp, 0)
        else:
            if size != 8:
                raise ValueError(f"a register is stored as 8 bytes, not {size}")
            self.mov_store(base, disp, src)

    def multiply(self, dst, src):
        self.imul_rr(dst, src)

    def increment(self, reg):
        self.inc(reg)

    def count_in(self, ptr):
        self.add_mem_imm8(ptr, 0, 1)

    def count_out(self, ptr, label):
        self.sub_mem_imm8(ptr, 0, 1)
        self.jcc(JE, label)

    def load_as_single(self, dst, base, disp):
        self.movq_xmm_load(0, base, disp)
        self.cvtsd2ss(0, 0)
        self.movd_r32_xmm(dst, 0)

    def result_to_double(self):
        self.cvtss2sd(0, 0)

    def jump(self, label):
        self.jmp(label)

    def branch_if_zero(self, reg, label, size=8):
        (self.test_rr if size == 8 else self.test_r32)(reg, reg)
        self.jcc(JE, label)

    def branch_if_nonzero(self, reg, label):
        self.test_rr(reg, reg)
        self.jcc(JNE, label)

    def branch_if_zero_at(self, base, disp, size, label):
        {1: self.cmpb_mem_imm8, 4: self.cmpd_mem_imm8, 8: self.cmp_mem_imm8}[size](base, disp, 0)
        self.jcc(JE, label)

    def branch_if_equal(self, a, b, label):
        self.cmp_rr(a, b)
        self.jcc(JE, label)

    def branch_if_not_equal(self, a, b, label):
        self.cmp_rr(a, b)
        self.jcc(JNE, label)

    def branch_if_not_negative(self, reg, label):
        self.test_rr(reg, reg)
        self.jcc(JNS, label)

    def branch_if_outside(self, reg, low, high, label):
        # One unsigned compare: reg - low above high - low.
        self.lea(RCX, reg, -low)
        self.cmp_imm(RCX, high - low)
        self.jcc(JA, label)

    def branch_if_above(self, reg, limit, label):
        self.cmp_imm(reg, limit)
        self.jcc(JA, label)

    def one_minus_masked(self, reg, mask):
        self.and_imm8(reg, mask)
        self.neg(reg)
        self.inc(reg)

    def branch_if_finite_single(self, reg, label):
        self.mov_r32(RCX, reg)
        self.and_r32_imm32(RCX, 0x7F800000)
        self.cmp_r32_imm32(RCX, 0x7F800000)
        self.jcc(JNE, label)

    def branch_unless_type(self, obj, type_address, ob_type, label):
        self.mov_imm64(RAX, type_address)
        self.cmp_reg_mem(RAX, obj, ob_type)
        self.jcc(JNE, label)

    def branch_unless_is(self, obj, address, label):
        self.mov_imm64(RAX, address)
        self.cmp_rr(obj, RAX)
        self.jcc(JNE, label)

    def branch_if_nargs_is(self, nargsf, n, flag_bit, label):
        self.btr_imm(nargsf, flag_bit)
        self.cmp_imm(nargsf, n)
        self.jcc(JE, label)

    def unbox_bool(self, obj, true, false, label):
        self.mov_imm64(RAX, true)
        self.cmp_rr(obj, RAX)
        self.jcc(JE, "bool.true")
        self.branch_unless_is(obj, false, label)
        self.xor_r32(RAX, RAX)
        self.jmp("bool.end")
        self.label("bool.true")
        self.mov_imm32(RAX, 1)
        self.label("bool.end")

    def call_field(self, base, disp):
        self.mov_load(R11, base, disp)
        self.call_reg(R11)

    def call_pointer(self, reg):
        self.call_reg(reg)

    def set_vector_count(self, n):
        self.mov_imm32(RAX, n)    # %al; RAX holds no argument (psABI 3.5.7)

    def load_argument(self, disp, fp, reg, single=False):
        if fp:
            self.movq_xmm_load(reg, RSP, disp)
        else:
            self.mov_load(self.GP_ARGS[reg], RSP, disp)

    def save_result(self, disp):
        self.mov_store(RSP, disp, RAX)
        self.movq_xmm_store(RSP, disp + 8, 0)

    def restore_result(self, disp):
        self.mov_load(RAX, RSP, disp)
        self.movq_xmm_load(0, RSP, disp + 8)

    @isa.assembled_once
    def prologue(self, frame, keep_tstate):
        self.push(RBX)
        self.push(R12)
        self.push(R13)
        self.sub_imm(RSP, frame)

    @isa.assembled_once
    def epilogue(self, frame, keep_tstate):
        self.add_imm(RSP, frame)
        self.pop(R13)
        self.pop(R12)
        self.pop(RBX)
        self.ret()

    # Callback thunks (jit/thunk.py): a stub leaves its data word's address
    # in r10, the static chain register (psABI 3.2.3), which no argument uses.
    THUNK_DATA = R10
    FILL = b"\xcc"                            # int3
    THUNK_INCOMING = 32                       # r13, r12, rbx pushed, and the return address

    def spill_argument(self, disp, fp, reg):
        if fp:
            self.movq_xmm_store(RSP, disp, reg)
        else:
            self.mov_store(RSP, disp, self.GP_ARGS[reg])

    def branch_if_low_word_negative(self, base, label):
        self.cmpd_mem_imm8(base, 0, 0)
        self.jcc(JS, label)

    def decrement_branch_if_nonzero(self, base, label):
        self.sub_mem_imm8(base, 0, 1)
        self.jcc(JNE, label)

    def thunk_stub(self, word, label):
        self.endbr64()
        field = len(self.code) + 2             # after movabs's REX.W and opcode bytes
        self.mov_imm64(R10, word)
        self.jmp(label)
        return field

    # The loop keeps rbx = row index, rbp = target, r12 = strides, r13 = out,
    # r14 = out stride, r15 = rows; the column bases are copied to its frame.
    _LOOP_SAVED = (RBX, RBP, R12, R13, R14, R15)

    @staticmethod
    def _loop_frame(nargs):
        return (8 * nargs + 15 & ~15) + 8   # six pushes leave %rsp 8 off 16-byte alignment

    def loop_prologue(self, nargs):
        for reg in self._LOOP_SAVED:
            self.push(reg)
        self.sub_imm(RSP, self._loop_frame(nargs))
        self.mov_rr(RBP, RDI)
        self.mov_rr(R12, RDX)
        self.mov_rr(R13, RCX)
        self.mov_rr(R14, R8)
        self.mov_rr(R15, R9)
        for i in range(nargs):
            self.mov_load(RAX, RSI, 8 * i)
            self.mov_store(RSP, 8 * i, RAX)

    def loop_epilogue(self, nargs):
        self.add_imm(RSP, self._loop_frame(nargs))
        for reg in reversed(self._LOOP_SAVED):
            self.pop(reg)
        self.ret()

    def item_address(self, column):
        self.mov_load(RAX, R12, 8 * column)       # stride
        self.imul_rr(RAX, RBX)
        self.add_reg_mem(RAX, RSP, 8 * column)    # + column base
        return RAX

    def output_address(self):
        self.mov_rr(R11, R14)
        self.imul_rr(R11, RBX)
        self.add_rr(R11, R13)
        return R11

    _COLUMN_LOADS = {"i8": X64.movsx8_load, "i16": X64.movsx16_load, "i32": X64.movsxd_load,
                     "u8": X64.movzx8_load, "bool": X64.movzx8_load, "u16": X64.movzx16_load,
                     "u32": X64.mov_r32_load}

    def load_column(self, arg, src):
        name = arg.type.name
        if arg.fp:
            (self.movq_xmm_load if name == "f64" else self.movd_xmm_load)(arg.reg, src, 0)
        else:
            self._COLUMN_LOADS.get(name, X64.mov_load)(self, self.GP_ARGS[arg.reg], src, 0)

    def store_result(self, kind, dst):
        if kind == "f64":
            self.movq_xmm_store(dst, 0, 0)
        elif kind == "f32":
            self.movd_xmm_store(dst, 0, 0)
        elif kind == "bool":
            self.test_r8(RAX, RAX)
            self.setne(RAX)
            self.mov_store8(dst, 0, RAX)
        elif kind in ("i8", "u8"):
            self.mov_store8(dst, 0, RAX)
        elif kind in ("i16", "u16"):
            self.mov_store16(dst, 0, RAX)
        elif kind in ("i32", "u32"):
            self.mov_store32(dst, 0, RAX)
        else:
            self.mov_store(dst, 0, RAX)


_recorded = Recorder(Operations)
#: emit(shape, rt) -> bytes: a Function's vectorcall entry point (jit/entry.py).
emit = entry.emitter(_recorded)


def emit_loop(shape: Shape, rt: dict) -> bytes:
    """The batch loop for ``shape`` (jit/loop.py)."""
    return loop.emit_loop(Operations(), shape)
