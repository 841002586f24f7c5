"""x86-64 System V emitter for the JIT tier.

The code is a vectorcall entry ``PyObject *(PyObject *fn, PyObject *const
*args, size_t nargsf, PyObject *kwnames)`` doing the whole call:

1. keywords, arity and closed library are checked (any failure goes to the
   ``reject`` helper, which raises exactly what every tier raises);
2. each argument is unboxed into its 8-byte slot in our frame -- inline for
   exact ints that fit in one digit, exact floats, bytes, None, True/False --
   otherwise by the ``convert`` helper, which handles every other case and
   every error;
3. the enter helper runs when release_gil/use_errno is set;
4. the slots are loaded into the argument registers, the target is called;
5. leave helper, buffer release, then the result is truncated to its declared
   width and boxed by the CPython function for its kind.

Registers kept across helper calls (callee-saved): rbx = the Function,
r12 = args, r13 = the thread state from ``enter``.

The inline int path reads CPython 3.10/3.11's int layout (signed digit count
in ob_size, 30-bit digits); tier_jit only uses this emitter where
``JIT_RUNTIME["object_layout"]`` says that is the layout."""
from __future__ import annotations

import struct

from .assembly import Labels, Recorder, Shape, box_function, frame_of

NAME = "sysv-x86_64"
#: (integer-class, float-class) argument registers: rdi..r9, xmm0..xmm7.
LIMITS = (6, 8)

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)
GP_ARGS = (RDI, RSI, RDX, RCX, R8, R9)

# Condition codes (the low nibble of Jcc).
JE, JNE, JA, JS, JNS = 0x4, 0x5, 0x7, 0x8, 0x9


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
        return [0x80 | (reg & 7) << 3 | rm] + sib + list(struct.pack("<i", disp))

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
        self._b(*self._rex(1, 0, dst), 0xB8 + (dst & 7), *struct.pack("<Q", value & (2**64 - 1)))

    @_memo
    def mov_imm32(self, dst, value):          # mov dst32, imm32 (zero-extends)
        self._b(*self._rex(0, 0, dst), 0xB8 + (dst & 7), *struct.pack("<I", value))

    @_memo
    def mov_store_imm32(self, base, disp, value):   # mov dword [base+disp], imm32
        self._b(*self._rex(0, 0, base), 0xC7, *self._mem(0, base, disp), *struct.pack("<i", value))

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
            self._b(*self._rex(1, 0, reg), 0x81, self._rr(7, reg), *struct.pack("<i", value))

    @_memo
    def cmp_mem_imm8(self, base, disp, value):   # cmp qword [base+disp], imm8
        self._b(*self._rex(1, 0, base), 0x83, *self._mem(7, base, disp), value & 0xFF)

    @_memo
    def cmpb_mem_imm8(self, base, disp, value):  # cmp byte [base+disp], imm8
        self._b(*self._rex(0, 0, base), 0x80, *self._mem(7, base, disp), value & 0xFF)

    @_memo
    def cmpd_mem_imm8(self, base, disp, value):  # cmp dword [base+disp], imm8
        self._b(*self._rex(0, 0, base), 0x83, *self._mem(7, base, disp), value & 0xFF)

    @_memo
    def cmp_r32_imm32(self, reg, value):      # cmp reg32, imm32
        self._b(*self._rex(0, 0, reg), 0x81, self._rr(7, reg), *struct.pack("<I", value))

    @_memo
    def and_r32_imm32(self, reg, value):      # and reg32, imm32
        self._b(*self._rex(0, 0, reg), 0x81, self._rr(4, reg), *struct.pack("<I", value))

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
        self._b(*self._rex(1, 0, reg), 0x81, self._rr(5, reg), *struct.pack("<i", value))

    @_memo
    def add_imm(self, reg, value):            # add reg, imm32
        self._b(*self._rex(1, 0, reg), 0x81, self._rr(0, reg), *struct.pack("<i", value))

    @_memo
    def imul_rr(self, dst, src):              # imul dst, src
        self._b(*self._rex(1, dst, src), 0x0F, 0xAF, self._rr(dst, src))

    @_memo
    def btr_imm(self, reg, bit):              # btr reg, imm8
        self._b(*self._rex(1, 0, reg), 0x0F, 0xBA, self._rr(6, reg), bit)

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


def _round16(n: int) -> int:
    return (n + 15) & ~15


def emit(shape: Shape, rt: dict) -> bytes:
    """The entry point's code for ``shape``; ``rt`` is ``_core.JIT_RUNTIME``.

    Laid end to end from recorded blocks (jit.Recorder), each a function of a
    few parameters of the shape: the entry checks, one block per argument,
    the call with its result.  Each block carries its own failure exits, so
    no branch crosses a block and a new shape is mostly the concatenation of
    blocks emitted for earlier ones."""
    n = len(shape.args)
    ret_save, bufs, frame = frame_of(shape, rt)   # above the saved registers
    return b"".join([
        _recorded(rt, _entry, n, frame, bufs),
        *[_recorded(rt, _argument, arg.type.name, i, bufs, frame) for i, arg in enumerate(shape.args)],
        _recorded(rt, _call, tuple([arg[1:] for arg in shape.args]), shape.ret.name, shape.bracket,
                  ret_save, bufs, frame),
    ])


_recorded = Recorder(X64)


def _entry(a: X64, rt: dict, n: int, frame: int, bufs) -> None:
    """Frame, then keywords, arity and closed library; a failure goes to the
    reject helper, which raises exactly what every tier raises."""
    # Three pushes after the return address leave %rsp 16-byte aligned
    # (psABI 3.2.2); the frame is a multiple of 16.
    a.push(RBX)
    a.push(R12)
    a.push(R13)
    a.sub_imm(RSP, frame)
    a.mov_rr(RBX, RDI)
    a.mov_rr(R12, RSI)
    # Keyword names: almost always NULL; an empty tuple is allowed too.
    a.test_rr(RCX, RCX)
    a.jcc(JNE, "kwnames")
    a.label("kwnames_ok")
    a.btr_imm(RDX, rt["vectorcall_nargs_mask_bit"])   # PyVectorcall_NARGS
    a.cmp_imm(RDX, n)
    a.jcc(JNE, "reject")
    a.mov_load(RAX, RBX, rt["fn_closed"])
    a.cmpb_mem_imm8(RAX, 0, 0)
    a.jcc(JE, "accepted")
    a.label("reject")
    a.mov_rr(RDI, RBX)
    a.mov_rr(RSI, RDX)
    a.mov_rr(RDX, RCX)
    a.call_abs(rt["reject"])
    _epilogue(a, frame)
    a.label("kwnames")
    a.cmp_mem_imm8(RCX, rt["ob_size"], 0)
    a.jcc(JE, "kwnames_ok")
    a.jmp("reject")
    a.label("accepted")
    if bufs is not None:
        a.lea(RAX, RSP, bufs + rt["sizeof_BufferList"])
        a.mov_store(RSP, bufs + rt["bufs_views"], RAX)
        a.mov_store_imm32(RSP, bufs + rt["bufs_count"], 0)


def _argument(a: X64, rt: dict, kind: str, i: int, bufs, frame: int) -> None:
    """Argument ``i`` into its slot [rsp+8i]: the inline fast path, which ends
    by branching past the rest; then the convert helper, which handles every
    other case and raises every error; then this argument's failure exit
    (release what was acquired, return NULL)."""
    slot = 8 * i
    a.mov_load(RDI, R12, slot)
    _unbox(a, kind, i, slot, rt)
    a.label("slow")
    a.mov_rr(RDI, RBX)
    a.mov_imm32(RSI, i)
    a.mov_load(RDX, R12, slot)
    a.lea(RCX, RSP, slot)
    if bufs is not None:
        a.lea(R8, RSP, bufs)
    else:
        a.xor_r32(R8, R8)   # no pointer/string argument: never dereferenced
    a.call_abs(rt["convert"])
    a.test_r32(RAX, RAX)
    a.jcc(JE, "done")
    if bufs is not None:
        a.lea(RDI, RSP, bufs)
        a.call_abs(rt["release"])
    a.xor_r32(RAX, RAX)
    _epilogue(a, frame)
    a.label("done")


def _call(a: X64, rt: dict, registers: tuple, ret: str, bracket: bool, ret_save: int, bufs, frame: int) -> None:
    """Each slot into the register the classifier gave it (GP_ARGS[reg] or
    xmm<reg>), the target (bracketed by enter/leave when asked), buffers
    released, the result boxed."""
    if bracket:
        a.mov_rr(RDI, RBX)
        a.call_abs(rt["enter"])
        a.mov_rr(R13, RAX)
    for i, (fp, reg) in enumerate(registers):
        if fp:
            a.movq_xmm_load(reg, RSP, 8 * i)
        else:
            a.mov_load(GP_ARGS[reg], RSP, 8 * i)
    a.mov_load(R11, RBX, rt["fn_target"])
    a.call_reg(R11)
    if bracket or bufs is not None:
        a.mov_store(RSP, ret_save, RAX)
        a.movq_xmm_store(RSP, ret_save + 8, 0)
        if bracket:
            # errno is saved first thing in `leave`, before any other code runs.
            a.mov_rr(RDI, RBX)
            a.mov_rr(RSI, R13)
            a.call_abs(rt["leave"])
        if bufs is not None:
            a.cmpd_mem_imm8(RSP, bufs + rt["bufs_count"], 0)
            a.jcc(JE, "released")
            a.lea(RDI, RSP, bufs)
            a.call_abs(rt["release"])
            a.label("released")
        a.mov_load(RAX, RSP, ret_save)
        a.movq_xmm_load(0, RSP, ret_save + 8)
    _box(a, ret, rt)
    _epilogue(a, frame)


def _epilogue(a: X64, frame: int) -> None:
    a.add_imm(RSP, frame)
    a.pop(R13)
    a.pop(R12)
    a.pop(RBX)
    a.ret()


def _unbox(a: X64, name: str, i: int, slot: int, rt: dict) -> None:
    """Inline fast path for argument ``i`` (object in rdi) into [rsp+slot],
    ending with a branch to "done"; anything else goes on to "slow", which
    follows (and overwrites the slot).  Where the last check can end the path,
    the value is stored first and that check branches to "done": no extra
    jump on the fast path."""
    slow, done = "slow", "done"
    if name in ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"):
        a.mov_imm64(RAX, rt["PyLong_Type"])
        a.cmp_reg_mem(RAX, RDI, rt["ob_type"])
        a.jcc(JNE, slow)
        # One-digit ints: ob_size in {-1, 0, 1}, value = ob_size * digit[0].
        a.mov_load(RAX, RDI, rt["ob_size"])
        a.lea(RCX, RAX, 1)
        a.cmp_imm(RCX, 2)
        a.jcc(JA, slow)
        a.mov_r32_load(RCX, RDI, rt["long_digit0"])
        a.imul_rr(RAX, RCX)
        a.mov_store(RSP, slot, RAX)
        # In range iff extending the low bits of the kind gives the value back.
        narrow = {"i8": a.movsx8, "i16": a.movsx16, "i32": a.movsxd,
                  "u8": a.movzx8, "u16": a.movzx16, "u32": a.mov_r32}.get(name)
        if narrow is not None:
            narrow(RCX, RAX)
            a.cmp_rr(RCX, RAX)
            a.jcc(JE, done)
        elif name == "u64":
            a.test_rr(RAX, RAX)
            a.jcc(JNS, done)
        else:
            a.jmp(done)
    elif name in ("f64", "f32"):
        a.mov_imm64(RAX, rt["PyFloat_Type"])
        a.cmp_reg_mem(RAX, RDI, rt["ob_type"])
        a.jcc(JNE, slow)
        if name == "f64":
            a.mov_load(RAX, RDI, rt["float_value"])
            a.mov_store(RSP, slot, RAX)
            a.jmp(done)
        else:
            # Round to f32; infinities and NaNs (including overflow) take the
            # slow path, which applies struct.pack("<f")'s exact rule.
            a.movq_xmm_load(0, RDI, rt["float_value"])
            a.cvtsd2ss(0, 0)
            a.movd_r32_xmm(RAX, 0)
            a.mov_store(RSP, slot, RAX)
            a.mov_r32(RCX, RAX)
            a.and_r32_imm32(RCX, 0x7F800000)
            a.cmp_r32_imm32(RCX, 0x7F800000)
            a.jcc(JNE, done)
    elif name == "bool":
        a.mov_imm64(RAX, rt["Py_True"])
        a.cmp_rr(RDI, RAX)
        a.jcc(JE, "true")
        a.mov_imm64(RAX, rt["Py_False"])
        a.cmp_rr(RDI, RAX)
        a.jcc(JNE, slow)
        a.xor_r32(RAX, RAX)
        a.jmp("store")
        a.label("true")
        a.mov_imm32(RAX, 1)
        a.label("store")
        a.mov_store(RSP, slot, RAX)
        a.jmp(done)
    elif name in ("pointer", "string"):
        a.mov_imm64(RAX, rt["PyBytes_Type"])
        a.cmp_reg_mem(RAX, RDI, rt["ob_type"])
        a.jcc(JNE, "notbytes")
        a.lea(RAX, RDI, rt["bytes_data"])   # immutable, kept alive by the caller
        a.jmp("store")
        a.label("notbytes")
        a.mov_imm64(RAX, rt["Py_None"])
        a.cmp_rr(RDI, RAX)
        a.jcc(JNE, slow)
        a.xor_r32(RAX, RAX)
        a.label("store")
        a.mov_store(RSP, slot, RAX)
        a.jmp(done)


def _box(a: X64, name: str, rt: dict) -> None:
    """Truncate the return register to the declared width and box it."""
    if name == "void":
        a.call_abs(rt["none"])
        return
    if name in ("f64", "f32"):
        if name == "f32":
            a.cvtss2sd(0, 0)
        a.call_abs(rt["PyFloat_FromDouble"])
        return
    if name == "string":
        a.mov_rr(RDI, RBX)
        a.mov_rr(RSI, RAX)
        a.call_abs(rt["box"])
        return
    # Neither ABI defines the bits above a narrow return: extend from its width.
    widen = {"i8": a.movsx8, "i16": a.movsx16, "i32": a.movsxd, "u8": a.movzx8, "u16": a.movzx16,
             "u32": a.mov_r32, "bool": a.movzx8}
    if name in widen:
        widen[name](RDI, RAX)
    else:
        a.mov_rr(RDI, RAX)
    a.call_abs(rt[box_function(name)])


def emit_loop(shape: Shape, rt: dict) -> bytes:
    """The batch loop for ``shape`` (fn.map): ``void loop(target, char **columns,
    const ssize_t *strides, char *out, ssize_t out_stride, ssize_t rows)``.

    Each row loads the argument registers straight from the columns (whose
    item formats equal the C types: batch.py checked), calls the target, and
    stores the return register into the output row at its declared width.
    Addresses are computed from the row index (base + index * stride) rather
    than by bumping pointers kept in memory: the only value carried from one
    row to the next is the index in a register, so rows overlap freely."""
    a = X64()
    n = len(shape.args)
    # Callee-saved: rbx = row index, rbp = target, r12 = strides, r13 = out,
    # r14 = out stride, r15 = rows.  Column bases are copied to our frame.
    for reg in (RBX, RBP, R12, R13, R14, R15):
        a.push(reg)
    frame = _round16(8 * n) + 8   # six pushes leave %rsp 8 off 16-byte alignment
    a.sub_imm(RSP, frame)
    a.mov_rr(RBP, RDI)
    a.mov_rr(R12, RDX)
    a.mov_rr(R13, RCX)
    a.mov_rr(R14, R8)
    a.mov_rr(R15, R9)
    for i in range(n):
        a.mov_load(RAX, RSI, 8 * i)
        a.mov_store(RSP, 8 * i, RAX)
    a.xor_r32(RBX, RBX)
    a.test_rr(R15, R15)
    a.jcc(JE, "done")
    a.label("row")
    for i, arg in enumerate(shape.args):
        a.mov_load(RAX, R12, 8 * i)       # stride
        a.imul_rr(RAX, RBX)
        a.add_reg_mem(RAX, RSP, 8 * i)    # + column base
        _load_column(a, arg, RAX)
    a.call_reg(RBP)
    if shape.ret.name != "void":
        a.mov_rr(R11, R14)
        a.imul_rr(R11, RBX)
        a.add_rr(R11, R13)
        _store_result(a, shape.ret.name, R11)
    a.inc(RBX)
    a.cmp_rr(RBX, R15)
    a.jcc(JNE, "row")
    a.label("done")
    a.add_imm(RSP, frame)
    for reg in (R15, R14, R13, R12, RBP, RBX):
        a.pop(reg)
    a.ret()
    return a.finish()


def _load_column(a: X64, arg, src: int) -> None:
    """Load one row's argument from [src] into its register, extended as the
    call path extends it (narrow integers to 32 bits and beyond)."""
    name = arg.type.name
    if arg.fp:
        if name == "f64":
            a.movq_xmm_load(arg.reg, src, 0)
        else:
            a.movd_xmm_load(arg.reg, src, 0)
        return
    dst = GP_ARGS[arg.reg]
    load = {"i8": a.movsx8_load, "i16": a.movsx16_load, "i32": a.movsxd_load, "u8": a.movzx8_load,
            "bool": a.movzx8_load, "u16": a.movzx16_load, "u32": a.mov_r32_load}.get(name, a.mov_load)
    load(dst, src, 0)


def _store_result(a: X64, name: str, dst: int) -> None:
    """Store the return register at [dst], truncated to the declared width."""
    if name == "f64":
        a.movq_xmm_store(dst, 0, 0)
    elif name == "f32":
        a.movd_xmm_store(dst, 0, 0)
    elif name == "bool":
        a.test_r8(RAX, RAX)
        a.setne(RAX)
        a.mov_store8(dst, 0, RAX)
    elif name in ("i8", "u8"):
        a.mov_store8(dst, 0, RAX)
    elif name in ("i16", "u16"):
        a.mov_store16(dst, 0, RAX)
    elif name in ("i32", "u32"):
        a.mov_store32(dst, 0, RAX)
    else:
        a.mov_store(dst, 0, RAX)
