"""The AArch64 JIT emitter's encodings, checked against a disassembler.

Every instruction form of fastffi/tiers/jit/aarch64.py is assembled with
representative registers and immediates and disassembled; so are the whole
entry point of three representative shapes and the batch loop (fn.map) of
two, against the listings below.
These tests only assemble bytes, so they run on any host.  The oracle is
capstone (PyPI, in the test extra), its listing spelt as GNU objdump spells
it; where objdump for AArch64 is installed (``aarch64-linux-gnu-objdump``,
Debian's binutils-aarch64-linux-gnu, or the native one on arm64) it is a second
oracle and must agree.  Whether the code *runs* correctly is shown by the
whole suite on arm64 (scripts/test-root.sh --arch arm64), where the JIT is a tier."""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import tempfile

import pytest

from fastffi import _core
from fastffi.abi import aapcs64, sysv_x86_64
from fastffi.cdecl.spelling import make_signature
from fastffi.model.scalars import SCALARS, VOID, Scalar, scalar
from fastffi.tiers import jit as tier_jit
from fastffi.tiers.jit import aarch64, layouts
from fastffi.tiers.jit.assembly import Arg, Shape

# capstone dlopens with RTLD_DEEPBIND, which the ASan runtime refuses (google/sanitizers#611);
# these tests assemble bytes in Python and run none of the C core.
pytestmark = pytest.mark.no_sanitizer

EQ, NE, HI = aarch64.EQ, aarch64.NE, aarch64.HI


def _objdump() -> str | None:
    """GNU objdump for AArch64, the second oracle, where it is installed."""
    tool = shutil.which("aarch64-linux-gnu-objdump")
    if tool is None and platform.machine() in ("aarch64", "arm64"):
        tool = shutil.which("objdump")
    return tool


_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$")
_BRANCH = re.compile(r"^(b|b\.\w+|cbz|cbnz)\s+(.*?)(0x)?([0-9a-f]+)$")
_IMMEDIATE = re.compile(r"#(-?)(0x[0-9a-f]+|\d+)")
# objdump prints these immediates in decimal, every other one in hex.
_DECIMAL_FIELDS = ("ubfx", "sbfx", "ubfiz", "sbfiz")
# capstone prints these as signed values, objdump as the register's bits.
_UNSIGNED_IMMEDIATES = ("mov", "and", "tst", "orr", "eor")


def _objdump_style(mnemonic: str, operands: str) -> str:
    """capstone's "mnemonic operands" spelt as objdump spells them: memory
    offsets (inside [] and a post-index after "],"), shift amounts and
    bit-field positions in decimal, other immediates in hex, branch targets
    without "#"."""
    if re.fullmatch(r"b|b\.\w+|cbz|cbnz|bl", mnemonic):
        return re.sub(r"#(0x[0-9a-f]+|\d+)$", lambda m: hex(int(m.group(1), 0)), f"{mnemonic} {operands}")
    out, at = [], 0
    for m in _IMMEDIATE.finditer(operands):
        before = operands[:m.start()]
        value = int(m.group(2), 0)
        sign = m.group(1)
        if sign and mnemonic in _UNSIGNED_IMMEDIATES:   # objdump shows the register's bits
            value, sign = (-value) & ((1 << (64 if operands.startswith("x") else 32)) - 1), ""
        decimal = (before.count("[") > before.count("]") or before.endswith("], ") or before.endswith("lsl ")
                   or mnemonic in _DECIMAL_FIELDS)
        out.append(operands[at:m.start()])
        out.append(f"#{sign}{value}" if decimal else f"#{sign}{value:#x}")
        at = m.end()
    out.append(operands[at:])
    return f"{mnemonic} {''.join(out)}".strip()


def _capstone(code: bytes, start: int, stop: int) -> list[tuple[int, str]]:
    import capstone   # the test extra installs it

    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    listing = []
    for at in range(start, stop, 4):   # word by word: a word capstone cannot decode is shown as such
        insns = list(md.disasm(code[at:at + 4], at))
        listing.append((at, _objdump_style(insns[0].mnemonic, insns[0].op_str) if insns else ".inst"))
    return listing


def _objdump_listing(code: bytes, start: int, stop: int | None) -> list[tuple[int, str]]:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "code.bin")
        with open(path, "wb") as f:
            f.write(code)
        cmd = [_objdump(), "-D", "-b", "binary", "-m", "aarch64", f"--start-address={start}"]
        if stop is not None:
            cmd.append(f"--stop-address={stop}")
        out = subprocess.run(cmd + [path], capture_output=True, text=True, check=True).stdout
    listing = []
    for line in out.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        text = re.sub(r"\s*<[^>]*>", "", m.group(3).split("//")[0])
        text = " ".join(text.replace("\t", " ").split())
        b = _BRANCH.match(text)
        if b:  # targets as 0x<hex> whatever the binutils version prints
            text = f"{b.group(1)} {b.group(2)}0x{int(b.group(4), 16):x}"
        listing.append((int(m.group(1), 16), text))
    return listing


def disassemble(code: bytes, start: int = 0, stop: int | None = None) -> list[tuple[int, str]]:
    """(offset, "mnemonic operands") for each word, as objdump prints them, with
    its comments and symbolic targets dropped and whitespace normalised.  The
    oracle is capstone (the test extra installs it); where GNU objdump for
    AArch64 is installed it is a second one, and the two must agree."""
    assert len(code) % 4 == 0
    listing = _capstone(code, start, len(code) if stop is None else stop)
    if _objdump() is not None:
        assert _objdump_listing(code, start, stop) == listing, "capstone and objdump disagree"
    return listing


def texts(code: bytes) -> list[str]:
    return [t for _, t in disassemble(code)]


def fmt(code: bytes) -> str:
    return "\n".join(f"{off:x}: {t}" for off, t in disassemble(code))


def _clean(expected: str) -> str:
    return "\n".join(line.strip() for line in expected.strip().splitlines())


# ---- (a) each encoder ----

# (encoder call on an A64, the lines objdump prints for it)
ENCODERS = [
    (lambda a: a.ldr_x(9, 19, 920), ["ldr x9, [x19, #920]"]),
    (lambda a: a.ldr_x(0, aarch64.SP, 0), ["ldr x0, [sp]"]),
    (lambda a: a.ldr_x(30, 1, 32760), ["ldr x30, [x1, #32760]"]),
    (lambda a: a.str_x(21, aarch64.SP, 32), ["str x21, [sp, #32]"]),
    (lambda a: a.str_x(9, 2, 8), ["str x9, [x2, #8]"]),
    (lambda a: a.ldr_w(10, 0, 24), ["ldr w10, [x0, #24]"]),
    (lambda a: a.ldr_w(9, aarch64.SP, 16380), ["ldr w9, [sp, #16380]"]),
    (lambda a: a.str_w(aarch64.ZR, aarch64.SP, 56), ["str wzr, [sp, #56]"]),
    (lambda a: a.str_w(3, 4, 4), ["str w3, [x4, #4]"]),
    (lambda a: a.ldrb(9, 9, 0), ["ldrb w9, [x9]"]),
    (lambda a: a.ldrb(1, 2, 4095), ["ldrb w1, [x2, #4095]"]),
    (lambda a: a.ldr_d(0, 0, 16), ["ldr d0, [x0, #16]"]),
    (lambda a: a.ldr_d(7, aarch64.SP, 56), ["ldr d7, [sp, #56]"]),
    (lambda a: a.str_d(0, aarch64.SP, 40), ["str d0, [sp, #40]"]),
    (lambda a: a.str_d(31, 5, 32760), ["str d31, [x5, #32760]"]),
    (lambda a: a.ldr_s(1, aarch64.SP, 8), ["ldr s1, [sp, #8]"]),
    (lambda a: a.ldr_s(7, 3, 60), ["ldr s7, [x3, #60]"]),
    (lambda a: a.str_s(0, 9, 0), ["str s0, [x9]"]),
    (lambda a: a.str_s(31, aarch64.SP, 16380), ["str s31, [sp, #16380]"]),
    (lambda a: a.ldrh(5, 9, 0), ["ldrh w5, [x9]"]),
    (lambda a: a.ldrh(0, 1, 8190), ["ldrh w0, [x1, #8190]"]),
    (lambda a: a.ldrsb_x(0, 9, 0), ["ldrsb x0, [x9]"]),
    (lambda a: a.ldrsb_x(7, 2, 4095), ["ldrsb x7, [x2, #4095]"]),
    (lambda a: a.ldrsh_x(1, 9, 0), ["ldrsh x1, [x9]"]),
    (lambda a: a.ldrsh_x(30, aarch64.SP, 2), ["ldrsh x30, [sp, #2]"]),
    (lambda a: a.ldrsw(2, 9, 0), ["ldrsw x2, [x9]"]),
    (lambda a: a.ldrsw(6, 3, 16380), ["ldrsw x6, [x3, #16380]"]),
    (lambda a: a.strb(0, 9, 0), ["strb w0, [x9]"]),
    (lambda a: a.strb(aarch64.ZR, 4, 1), ["strb wzr, [x4, #1]"]),
    (lambda a: a.strh(0, 9, 0), ["strh w0, [x9]"]),
    (lambda a: a.strh(12, aarch64.SP, 8190), ["strh w12, [sp, #8190]"]),
    (lambda a: a.stp_pre(29, 30, aarch64.SP, -48), ["stp x29, x30, [sp, #-48]!"]),
    (lambda a: a.stp_pre(19, 20, aarch64.SP, -512), ["stp x19, x20, [sp, #-512]!"]),
    (lambda a: a.ldp_post(29, 30, aarch64.SP, 48), ["ldp x29, x30, [sp], #48"]),
    (lambda a: a.ldp_post(19, 20, aarch64.SP, 504), ["ldp x19, x20, [sp], #504"]),
    (lambda a: a.stp(19, 20, aarch64.SP, 16), ["stp x19, x20, [sp, #16]"]),
    (lambda a: a.stp(0, 1, 2, -16), ["stp x0, x1, [x2, #-16]"]),
    (lambda a: a.ldp(19, 20, aarch64.SP, 16), ["ldp x19, x20, [sp, #16]"]),
    (lambda a: a.ldp(21, 22, 3, 504), ["ldp x21, x22, [x3, #504]"]),
    (lambda a: a.mov(19, 0), ["mov x19, x0"]),
    (lambda a: a.mov(4, aarch64.ZR), ["mov x4, xzr"]),
    (lambda a: a.mov_w(10, 9), ["mov w10, w9"]),
    (lambda a: a.mov_w(0, 0), ["mov w0, w0"]),
    (lambda a: a.movz(10, 0x5678), ["mov x10, #0x5678"]),
    (lambda a: a.movz(16, 0xFFFF, 48), ["mov x16, #0xffff000000000000"]),
    (lambda a: a.movk(10, 0x1234, 16), ["movk x10, #0x1234, lsl #16"]),
    (lambda a: a.movk(1, 0x1, 48), ["movk x1, #0x1, lsl #48"]),
    (lambda a: a.movk(30, 0xAAAA, 32), ["movk x30, #0xaaaa, lsl #32"]),
    (lambda a: a.mov_imm64(9, 0), ["mov x9, #0x0"]),
    (lambda a: a.mov_imm64(2, 0x10000), ["mov x2, #0x10000"]),
    (lambda a: a.mov_imm64(16, 0xFFFF_8000_0000_1234),
     ["mov x16, #0x1234", "movk x16, #0x8000, lsl #32", "movk x16, #0xffff, lsl #48"]),
    (lambda a: a.mov_imm64(1, 0x0001_0002_0003_0004),
     ["mov x1, #0x4", "movk x1, #0x3, lsl #16", "movk x1, #0x2, lsl #32", "movk x1, #0x1, lsl #48"]),
    (lambda a: a.mov_imm64(3, -1),
     ["mov x3, #0xffff", "movk x3, #0xffff, lsl #16", "movk x3, #0xffff, lsl #32", "movk x3, #0xffff, lsl #48"]),
    (lambda a: a.add_imm(29, aarch64.SP, 0), ["mov x29, sp"]),
    (lambda a: a.add_imm(aarch64.SP, aarch64.SP, 0xE0), ["add sp, sp, #0xe0"]),
    (lambda a: a.add_imm(9, 0, 32), ["add x9, x0, #0x20"]),
    (lambda a: a.add_imm(3, aarch64.SP, 4095), ["add x3, sp, #0xfff"]),
    (lambda a: a.sub_imm(aarch64.SP, aarch64.SP, 48), ["sub sp, sp, #0x30"]),
    (lambda a: a.sub_imm(1, 2, 4095), ["sub x1, x2, #0xfff"]),
    (lambda a: a.cmp_imm(9, 2), ["cmp x9, #0x2"]),
    (lambda a: a.cmp_imm(0, 0), ["cmp x0, #0x0"]),
    (lambda a: a.cmp_w_imm(10, 0xFF), ["cmp w10, #0xff"]),
    (lambda a: a.cmp(9, 10), ["cmp x9, x10"]),
    (lambda a: a.cmp(0, 30), ["cmp x0, x30"]),
    (lambda a: a.neg(9, 9), ["neg x9, x9"]),
    (lambda a: a.neg(0, 30), ["neg x0, x30"]),
    (lambda a: a.mul(9, 9, 10), ["mul x9, x9, x10"]),
    (lambda a: a.mul(0, 1, 2), ["mul x0, x1, x2"]),
    (lambda a: a.madd(9, 9, 24, 10), ["madd x9, x9, x24, x10"]),
    (lambda a: a.madd(9, 22, 24, 21), ["madd x9, x22, x24, x21"]),
    (lambda a: a.madd(0, 1, 2, aarch64.ZR), ["mul x0, x1, x2"]),
    (lambda a: a.tst_w_low(0, 8), ["tst w0, #0xff"]),
    (lambda a: a.tst_w_low(9, 1), ["tst w9, #0x1"]),
    (lambda a: a.tst_w_low(30, 31), ["tst w30, #0x7fffffff"]),
    (lambda a: a.and_imm(9, 2, 0x7FFF_FFFF_FFFF_FFFF), ["and x9, x2, #0x7fffffffffffffff"]),
    (lambda a: a.and_imm(0, 1, 0xFF), ["and x0, x1, #0xff"]),
    (lambda a: a.and_imm(3, 4, 0xFF0), ["and x3, x4, #0xff0"]),
    (lambda a: a.and_imm(5, 6, 0x8000_0000_0000_0001), ["and x5, x6, #0x8000000000000001"]),
    (lambda a: a.cset_w(9, EQ), ["cset w9, eq"]),
    (lambda a: a.cset_w(0, HI), ["cset w0, hi"]),
    (lambda a: a.sxtb(10, 9), ["sxtb x10, w9"]),
    (lambda a: a.sxth(0, 0), ["sxth x0, w0"]),
    (lambda a: a.sxtw(10, 9), ["sxtw x10, w9"]),
    (lambda a: a.uxtb(10, 9), ["uxtb w10, w9"]),
    (lambda a: a.uxth(0, 0), ["uxth w0, w0"]),
    (lambda a: a.ubfx_w(10, 9, 23, 8), ["ubfx w10, w9, #23, #8"]),
    (lambda a: a.ubfx_w(1, 2, 0, 31), ["ubfx w1, w2, #0, #31"]),
    (lambda a: a.fcvt_sd(0, 0), ["fcvt s0, d0"]),
    (lambda a: a.fcvt_sd(1, 7), ["fcvt s1, d7"]),
    (lambda a: a.fcvt_ds(0, 0), ["fcvt d0, s0"]),
    (lambda a: a.fcvt_ds(31, 2), ["fcvt d31, s2"]),
    (lambda a: a.fmov_ws(9, 0), ["fmov w9, s0"]),
    (lambda a: a.fmov_ws(30, 31), ["fmov w30, s31"]),
    (lambda a: a.blr(16), ["blr x16"]),
    (lambda a: a.blr(0), ["blr x0"]),
    (lambda a: a.call_abs(0x7F00_0000_2000), ["mov x16, #0x2000", "movk x16, #0x7f00, lsl #32", "blr x16"]),
    (lambda a: a.ret(), ["ret"]),
]


def test_each_encoder():
    a = aarch64.A64()
    expected = []
    for encode, lines in ENCODERS:
        before = len(a.code)
        encode(a)
        assert len(a.code) - before == 4 * len(lines), lines
        expected += lines
    assert texts(a.finish()) == expected


def test_branches_patched_both_ways():
    a = aarch64.A64()
    a.label("top")
    a.b_cond(NE, "end")        # 0x00
    a.b_cond(HI, "top")        # 0x04
    a.cbz(9, "end")            # 0x08
    a.cbnz(3, "top")           # 0x0c
    a.cbz_w(9, "mid")          # 0x10
    a.cbnz_w(0, "mid")         # 0x14
    a.label("mid")
    a.b("top")                 # 0x18
    a.b("end")                 # 0x1c
    a.b_cond(EQ, "mid")        # 0x20
    a.label("end")
    assert texts(a.finish()) == [
        "b.ne 0x24", "b.hi 0x0", "cbz x9, 0x24", "cbnz x3, 0x0", "cbz w9, 0x18", "cbnz w0, 0x18",
        "b 0x0", "b 0x24", "b.eq 0x18",
    ]


def test_branch_displacement_limits():
    """The largest displacements each field holds (19 bits: +-1 MiB, 26 bits:
    further), forward and backward; the code in between is never disassembled."""
    a = aarch64.A64()
    a.label("back")
    a.code.extend(bytes(0x100000))
    a.cbz(1, "back")           # 0x100000: -0x100000, imm19's minimum
    a.b("back")                # 0x100004: beyond imm19
    a.b_cond(NE, "fwd")        # 0x100008: +0xffffc, imm19's maximum
    a.b("far")                 # 0x10000c: +0x100000
    a.code.extend(bytes(0xFFFFC - 8))
    a.label("fwd")             # 0x200004
    a.code.extend(bytes(0x100000 - (0x200004 - 0x10000c)))
    a.label("far")             # 0x20000c
    code = a.finish()
    assert disassemble(code, 0x100000, 0x100010) == [
        (0x100000, "cbz x1, 0x0"), (0x100004, "b 0x0"), (0x100008, "b.ne 0x200004"), (0x10000C, "b 0x20000c"),
    ]
    with pytest.raises(ValueError, match=r"^AArch64: branch displacement 1048576 is not a multiple of 4 "
                                         r"within \+-1 MiB \(imm19\)$"):
        aarch64._patch_imm19(bytearray(4), 0, 0x100000)
    with pytest.raises(ValueError, match="imm26"):
        aarch64._patch_imm26(bytearray(4), 0, -(1 << 27) - 4)


def test_refuses_what_it_cannot_encode():
    a = aarch64.A64()
    for bad in (lambda: a.ldr_x(0, 1, 4),           # not a multiple of 8
                lambda: a.ldr_x(0, 1, 32768),       # past the scaled 12-bit field
                lambda: a.stp_pre(29, 30, aarch64.SP, -520),
                lambda: a.add_imm(0, 1, 4096),
                lambda: a.and_imm(0, 1, 0b101),     # not one run of ones
                lambda: a.ldrh(0, 1, 3),            # not a multiple of 2
                lambda: a.ldrsw(0, 1, 16384),       # past the scaled 12-bit field
                lambda: a.tst_w_low(0, 32),         # all ones is no logical immediate
                lambda: a.movz(0, 1 << 16),         # past 16 bits
                lambda: a.movk(0, 1, 8),            # not a multiple-of-16 shift
                lambda: a.sub_imm(0, 1, -1),
                lambda: a.cmp_imm(0, 4096),
                lambda: a.and_imm(0, 1, 0),         # no ones
                lambda: a.ubfx_w(0, 1, 30, 4)):     # past bit 31
        with pytest.raises(ValueError, match="^AArch64: "):
            bad()


# ---- (b) whole entry points ----

# A runtime with fixed addresses and the offsets of CPython 3.11 / fastffi on
# LP64, so the listings are stable; the real one differs only in numbers.
RT = dict(
    reject=0x7F00_0000_1000, convert=0x7F00_0000_2000, release=0x7F00_0000_3000, box=0x7F00_0000_4000,
    none=0x7F00_0000_5000, enter=0x7F00_0000_6000, leave=0x7F00_0000_7000, closed=0x7F00_0000_8000,
    last_call=0x7F00_0000_9000, box_release=0x7F00_0000_A000,
    PyLong_FromLong=0xFFFF_0001_0000, PyLong_FromLongLong=0xFFFF_0002_0000,
    PyLong_FromUnsignedLongLong=0xFFFF_0003_0000, PyFloat_FromDouble=0xFFFF_0004_0000,
    PyBool_FromLong=0xFFFF_0005_0000,
    PyLong_Type=0xAAAA_1234_5678, PyFloat_Type=0xAAAA_1234_0000, PyBytes_Type=0xAAAA_0000_5678,
    Py_None=0xAAAA_0001_0010, Py_True=0xAAAA_0002_0020, Py_False=0xAAAA_0003_0030,
    ob_type=8, ob_size=16, long_digit0=24, float_value=16, bytes_data=32,
    fn_target=904, fn_closed=920, fn_inflight=928, fn_flags=936,
    sizeof_Py_buffer=80, bufs_views=0, bufs_count=8, sizeof_BufferList=16,
    vectorcall_nargs_mask_bit=63, object_layout="cpython-3.11-release",
)


def aapcs64_shape(restype, argtypes, bracket=False) -> Shape:
    """The shape tier_jit builds on arm64: registers from the AAPCS64 classifier."""
    sig = make_signature("f", restype, argtypes)
    return tier_jit.shape_from_plan(sig, aapcs64.classify(sig), bracket)


ADD_I32 = """
0: stp x29, x30, [sp, #-48]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: sub sp, sp, #0x30
10: mov x19, x0
14: mov x20, x1
18: cbnz x3, 0x50
1c: and x9, x2, #0x7fffffffffffffff
20: cmp x9, #0x2
24: b.eq 0x5c
28: mov x0, x19
2c: mov x1, x2
30: mov x2, x3
34: mov x16, #0x1000
38: movk x16, #0x7f00, lsl #32
3c: blr x16
40: add sp, sp, #0x30
44: ldp x19, x20, [sp, #16]
48: ldp x29, x30, [sp], #48
4c: ret
50: ldr x9, [x3, #16]
54: cbz x9, 0x1c
58: b 0x28
5c: ldr x0, [x20]
60: ldr x9, [x0, #8]
64: mov x10, #0x5678
68: movk x10, #0x1234, lsl #16
6c: movk x10, #0xaaaa, lsl #32
70: cmp x9, x10
74: b.ne 0xa0
78: ldr x9, [x0, #16]
7c: add x10, x9, #0x1
80: cmp x10, #0x2
84: b.hi 0xa0
88: ldr w10, [x0, #24]
8c: mul x9, x9, x10
90: str x9, [sp]
94: sxtw x10, w9
98: cmp x10, x9
9c: b.eq 0xd8
a0: mov x0, x19
a4: mov x1, #0x0
a8: ldr x2, [x20]
ac: mov x3, sp
b0: mov x4, xzr
b4: mov x16, #0x2000
b8: movk x16, #0x7f00, lsl #32
bc: blr x16
c0: cbz w0, 0xd8
c4: mov x0, xzr
c8: add sp, sp, #0x30
cc: ldp x19, x20, [sp, #16]
d0: ldp x29, x30, [sp], #48
d4: ret
d8: ldr x0, [x20, #8]
dc: ldr x9, [x0, #8]
e0: mov x10, #0x5678
e4: movk x10, #0x1234, lsl #16
e8: movk x10, #0xaaaa, lsl #32
ec: cmp x9, x10
f0: b.ne 0x11c
f4: ldr x9, [x0, #16]
f8: add x10, x9, #0x1
fc: cmp x10, #0x2
100: b.hi 0x11c
104: ldr w10, [x0, #24]
108: mul x9, x9, x10
10c: str x9, [sp, #8]
110: sxtw x10, w9
114: cmp x10, x9
118: b.eq 0x154
11c: mov x0, x19
120: mov x1, #0x1
124: ldr x2, [x20, #8]
128: add x3, sp, #0x8
12c: mov x4, xzr
130: mov x16, #0x2000
134: movk x16, #0x7f00, lsl #32
138: blr x16
13c: cbz w0, 0x154
140: mov x0, xzr
144: add sp, sp, #0x30
148: ldp x19, x20, [sp, #16]
14c: ldp x29, x30, [sp], #48
150: ret
154: ldr x9, [x19, #920]
158: ldrb w9, [x9]
15c: cbz w9, 0x184
160: mov x0, x19
164: mov x1, xzr
168: mov x16, #0x8000
16c: movk x16, #0x7f00, lsl #32
170: blr x16
174: add sp, sp, #0x30
178: ldp x19, x20, [sp, #16]
17c: ldp x29, x30, [sp], #48
180: ret
184: ldr x10, [x19, #928]
188: ldr x16, [x10]
18c: add x16, x16, #0x1
190: str x16, [x10]
194: ldr x0, [sp]
198: ldr x1, [sp, #8]
19c: ldr x16, [x19, #904]
1a0: blr x16
1a4: ldr x10, [x19, #928]
1a8: ldr x16, [x10]
1ac: sub x16, x16, #0x1
1b0: str x16, [x10]
1b4: cbz x16, 0x1d8
1b8: sxtw x0, w0
1bc: mov x16, #0x10000
1c0: movk x16, #0xffff, lsl #32
1c4: blr x16
1c8: add sp, sp, #0x30
1cc: ldp x19, x20, [sp, #16]
1d0: ldp x29, x30, [sp], #48
1d4: ret
1d8: sxtw x0, w0
1dc: mov x16, #0x10000
1e0: movk x16, #0xffff, lsl #32
1e4: blr x16
1e8: mov x20, x0
1ec: mov x0, x19
1f0: mov x16, #0x9000
1f4: movk x16, #0x7f00, lsl #32
1f8: blr x16
1fc: mov x0, x20
200: add sp, sp, #0x30
204: ldp x19, x20, [sp, #16]
208: ldp x29, x30, [sp], #48
20c: ret
"""

F64_F32 = """
0: stp x29, x30, [sp, #-48]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: sub sp, sp, #0x30
10: mov x19, x0
14: mov x20, x1
18: cbnz x3, 0x50
1c: and x9, x2, #0x7fffffffffffffff
20: cmp x9, #0x2
24: b.eq 0x5c
28: mov x0, x19
2c: mov x1, x2
30: mov x2, x3
34: mov x16, #0x1000
38: movk x16, #0x7f00, lsl #32
3c: blr x16
40: add sp, sp, #0x30
44: ldp x19, x20, [sp, #16]
48: ldp x29, x30, [sp], #48
4c: ret
50: ldr x9, [x3, #16]
54: cbz x9, 0x1c
58: b 0x28
5c: ldr x0, [x20]
60: ldr x9, [x0, #8]
64: mov x10, #0x12340000
68: movk x10, #0xaaaa, lsl #32
6c: cmp x9, x10
70: b.ne 0x80
74: ldr x9, [x0, #16]
78: str x9, [sp]
7c: b 0xb8
80: mov x0, x19
84: mov x1, #0x0
88: ldr x2, [x20]
8c: mov x3, sp
90: mov x4, xzr
94: mov x16, #0x2000
98: movk x16, #0x7f00, lsl #32
9c: blr x16
a0: cbz w0, 0xb8
a4: mov x0, xzr
a8: add sp, sp, #0x30
ac: ldp x19, x20, [sp, #16]
b0: ldp x29, x30, [sp], #48
b4: ret
b8: ldr x0, [x20, #8]
bc: ldr x9, [x0, #8]
c0: mov x10, #0x12340000
c4: movk x10, #0xaaaa, lsl #32
c8: cmp x9, x10
cc: b.ne 0xec
d0: ldr d0, [x0, #16]
d4: fcvt s0, d0
d8: fmov w9, s0
dc: str x9, [sp, #8]
e0: ubfx w10, w9, #23, #8
e4: cmp w10, #0xff
e8: b.ne 0x124
ec: mov x0, x19
f0: mov x1, #0x1
f4: ldr x2, [x20, #8]
f8: add x3, sp, #0x8
fc: mov x4, xzr
100: mov x16, #0x2000
104: movk x16, #0x7f00, lsl #32
108: blr x16
10c: cbz w0, 0x124
110: mov x0, xzr
114: add sp, sp, #0x30
118: ldp x19, x20, [sp, #16]
11c: ldp x29, x30, [sp], #48
120: ret
124: ldr x9, [x19, #920]
128: ldrb w9, [x9]
12c: cbz w9, 0x154
130: mov x0, x19
134: mov x1, xzr
138: mov x16, #0x8000
13c: movk x16, #0x7f00, lsl #32
140: blr x16
144: add sp, sp, #0x30
148: ldp x19, x20, [sp, #16]
14c: ldp x29, x30, [sp], #48
150: ret
154: ldr x10, [x19, #928]
158: ldr x16, [x10]
15c: add x16, x16, #0x1
160: str x16, [x10]
164: ldr d0, [sp]
168: ldr s1, [sp, #8]
16c: ldr x16, [x19, #904]
170: blr x16
174: ldr x10, [x19, #928]
178: ldr x16, [x10]
17c: sub x16, x16, #0x1
180: str x16, [x10]
184: cbz x16, 0x1a4
188: mov x16, #0x40000
18c: movk x16, #0xffff, lsl #32
190: blr x16
194: add sp, sp, #0x30
198: ldp x19, x20, [sp, #16]
19c: ldp x29, x30, [sp], #48
1a0: ret
1a4: mov x16, #0x40000
1a8: movk x16, #0xffff, lsl #32
1ac: blr x16
1b0: mov x20, x0
1b4: mov x0, x19
1b8: mov x16, #0x9000
1bc: movk x16, #0x7f00, lsl #32
1c0: blr x16
1c4: mov x0, x20
1c8: add sp, sp, #0x30
1cc: ldp x19, x20, [sp, #16]
1d0: ldp x29, x30, [sp], #48
1d4: ret
"""

# Frame: 4 slots (0..31), saved x0/d0 (32, 40), BufferList (48: views, 56:
# count), two Py_buffers (64..223) -> 224 bytes.
MIXED_BRACKET = """
0: stp x29, x30, [sp, #-48]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: str x21, [sp, #32]
10: sub sp, sp, #0xe0
14: mov x19, x0
18: mov x20, x1
1c: cbnz x3, 0x58
20: and x9, x2, #0x7fffffffffffffff
24: cmp x9, #0x4
28: b.eq 0x64
2c: mov x0, x19
30: mov x1, x2
34: mov x2, x3
38: mov x16, #0x1000
3c: movk x16, #0x7f00, lsl #32
40: blr x16
44: add sp, sp, #0xe0
48: ldr x21, [sp, #32]
4c: ldp x19, x20, [sp, #16]
50: ldp x29, x30, [sp], #48
54: ret
58: ldr x9, [x3, #16]
5c: cbz x9, 0x20
60: b 0x2c
64: add x9, sp, #0x40
68: str x9, [sp, #48]
6c: str wzr, [sp, #56]
70: ldr x0, [x20]
74: ldr x9, [x0, #8]
78: mov x10, #0x5678
7c: movk x10, #0xaaaa, lsl #32
80: cmp x9, x10
84: b.ne 0x90
88: add x9, x0, #0x20
8c: b 0xa8
90: mov x10, #0x10
94: movk x10, #0x1, lsl #16
98: movk x10, #0xaaaa, lsl #32
9c: cmp x0, x10
a0: b.ne 0xb0
a4: mov x9, xzr
a8: str x9, [sp]
ac: b 0xfc
b0: mov x0, x19
b4: mov x1, #0x0
b8: ldr x2, [x20]
bc: mov x3, sp
c0: add x4, sp, #0x30
c4: mov x16, #0x2000
c8: movk x16, #0x7f00, lsl #32
cc: blr x16
d0: cbz w0, 0xfc
d4: add x0, sp, #0x30
d8: mov x16, #0x3000
dc: movk x16, #0x7f00, lsl #32
e0: blr x16
e4: mov x0, xzr
e8: add sp, sp, #0xe0
ec: ldr x21, [sp, #32]
f0: ldp x19, x20, [sp, #16]
f4: ldp x29, x30, [sp], #48
f8: ret
fc: ldr x0, [x20, #8]
100: ldr x9, [x0, #8]
104: mov x10, #0x5678
108: movk x10, #0xaaaa, lsl #32
10c: cmp x9, x10
110: b.ne 0x11c
114: add x9, x0, #0x20
118: b 0x134
11c: mov x10, #0x10
120: movk x10, #0x1, lsl #16
124: movk x10, #0xaaaa, lsl #32
128: cmp x0, x10
12c: b.ne 0x13c
130: mov x9, xzr
134: str x9, [sp, #8]
138: b 0x188
13c: mov x0, x19
140: mov x1, #0x1
144: ldr x2, [x20, #8]
148: add x3, sp, #0x8
14c: add x4, sp, #0x30
150: mov x16, #0x2000
154: movk x16, #0x7f00, lsl #32
158: blr x16
15c: cbz w0, 0x188
160: add x0, sp, #0x30
164: mov x16, #0x3000
168: movk x16, #0x7f00, lsl #32
16c: blr x16
170: mov x0, xzr
174: add sp, sp, #0xe0
178: ldr x21, [sp, #32]
17c: ldp x19, x20, [sp, #16]
180: ldp x29, x30, [sp], #48
184: ret
188: ldr x0, [x20, #16]
18c: mov x10, #0x20
190: movk x10, #0x2, lsl #16
194: movk x10, #0xaaaa, lsl #32
198: cmp x0, x10
19c: cset w9, eq
1a0: b.eq 0x1b8
1a4: mov x10, #0x30
1a8: movk x10, #0x3, lsl #16
1ac: movk x10, #0xaaaa, lsl #32
1b0: cmp x0, x10
1b4: b.ne 0x1c0
1b8: str x9, [sp, #16]
1bc: b 0x20c
1c0: mov x0, x19
1c4: mov x1, #0x2
1c8: ldr x2, [x20, #16]
1cc: add x3, sp, #0x10
1d0: add x4, sp, #0x30
1d4: mov x16, #0x2000
1d8: movk x16, #0x7f00, lsl #32
1dc: blr x16
1e0: cbz w0, 0x20c
1e4: add x0, sp, #0x30
1e8: mov x16, #0x3000
1ec: movk x16, #0x7f00, lsl #32
1f0: blr x16
1f4: mov x0, xzr
1f8: add sp, sp, #0xe0
1fc: ldr x21, [sp, #32]
200: ldp x19, x20, [sp, #16]
204: ldp x29, x30, [sp], #48
208: ret
20c: ldr x0, [x20, #24]
210: ldr x9, [x0, #8]
214: mov x10, #0x5678
218: movk x10, #0x1234, lsl #16
21c: movk x10, #0xaaaa, lsl #32
220: cmp x9, x10
224: b.ne 0x250
228: ldr x9, [x0, #16]
22c: add x10, x9, #0x1
230: cmp x10, #0x2
234: b.hi 0x250
238: ldr w10, [x0, #24]
23c: mul x9, x9, x10
240: str x9, [sp, #24]
244: uxtb w10, w9
248: cmp x10, x9
24c: b.eq 0x29c
250: mov x0, x19
254: mov x1, #0x3
258: ldr x2, [x20, #24]
25c: add x3, sp, #0x18
260: add x4, sp, #0x30
264: mov x16, #0x2000
268: movk x16, #0x7f00, lsl #32
26c: blr x16
270: cbz w0, 0x29c
274: add x0, sp, #0x30
278: mov x16, #0x3000
27c: movk x16, #0x7f00, lsl #32
280: blr x16
284: mov x0, xzr
288: add sp, sp, #0xe0
28c: ldr x21, [sp, #32]
290: ldp x19, x20, [sp, #16]
294: ldp x29, x30, [sp], #48
298: ret
29c: ldr x9, [x19, #920]
2a0: ldrb w9, [x9]
2a4: cbz w9, 0x2d0
2a8: mov x0, x19
2ac: add x1, sp, #0x30
2b0: mov x16, #0x8000
2b4: movk x16, #0x7f00, lsl #32
2b8: blr x16
2bc: add sp, sp, #0xe0
2c0: ldr x21, [sp, #32]
2c4: ldp x19, x20, [sp, #16]
2c8: ldp x29, x30, [sp], #48
2cc: ret
2d0: ldr x10, [x19, #928]
2d4: ldr x16, [x10]
2d8: add x16, x16, #0x1
2dc: str x16, [x10]
2e0: mov x0, x19
2e4: mov x16, #0x6000
2e8: movk x16, #0x7f00, lsl #32
2ec: blr x16
2f0: mov x21, x0
2f4: ldr x0, [sp]
2f8: ldr x1, [sp, #8]
2fc: ldr x2, [sp, #16]
300: ldr x3, [sp, #24]
304: ldr x16, [x19, #904]
308: blr x16
30c: str x0, [sp, #32]
310: str d0, [sp, #40]
314: mov x0, x19
318: mov x1, x21
31c: mov x16, #0x7000
320: movk x16, #0x7f00, lsl #32
324: blr x16
328: ldr x0, [sp, #32]
32c: ldr d0, [sp, #40]
330: mov x1, x0
334: mov x0, x19
338: add x2, sp, #0x30
33c: mov x16, #0xa000
340: movk x16, #0x7f00, lsl #32
344: blr x16
348: ldr x10, [x19, #928]
34c: ldr x16, [x10]
350: sub x16, x16, #0x1
354: str x16, [x10]
358: cbz x16, 0x370
35c: add sp, sp, #0xe0
360: ldr x21, [sp, #32]
364: ldp x19, x20, [sp, #16]
368: ldp x29, x30, [sp], #48
36c: ret
370: mov x20, x0
374: mov x0, x19
378: mov x16, #0x9000
37c: movk x16, #0x7f00, lsl #32
380: blr x16
384: mov x0, x20
388: add sp, sp, #0xe0
38c: ldr x21, [sp, #32]
390: ldp x19, x20, [sp, #16]
394: ldp x29, x30, [sp], #48
398: ret
"""


# The same entry for CPython 3.12-3.15's ints: compact iff lv_tag < 16, value
# = (1 - (lv_tag & 3)) * ob_digit[0]; every other line as for 3.11.
RT_3_12 = {**RT, **layouts.LAYOUTS["cpython-3.12-release"], "object_layout": "cpython-3.12-release"}

ADD_I32_3_12 = """
0: stp x29, x30, [sp, #-48]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: sub sp, sp, #0x30
10: mov x19, x0
14: mov x20, x1
18: cbnz x3, 0x50
1c: and x9, x2, #0x7fffffffffffffff
20: cmp x9, #0x2
24: b.eq 0x5c
28: mov x0, x19
2c: mov x1, x2
30: mov x2, x3
34: mov x16, #0x1000
38: movk x16, #0x7f00, lsl #32
3c: blr x16
40: add sp, sp, #0x30
44: ldp x19, x20, [sp, #16]
48: ldp x29, x30, [sp], #48
4c: ret
50: ldr x9, [x3, #16]
54: cbz x9, 0x1c
58: b 0x28
5c: ldr x0, [x20]
60: ldr x9, [x0, #8]
64: mov x10, #0x5678
68: movk x10, #0x1234, lsl #16
6c: movk x10, #0xaaaa, lsl #32
70: cmp x9, x10
74: b.ne 0xa8
78: ldr x9, [x0, #16]
7c: cmp x9, #0xf
80: b.hi 0xa8
84: ldr w10, [x0, #24]
88: and x9, x9, #0x3
8c: neg x9, x9
90: add x9, x9, #0x1
94: mul x9, x9, x10
98: str x9, [sp]
9c: sxtw x10, w9
a0: cmp x10, x9
a4: b.eq 0xe0
a8: mov x0, x19
ac: mov x1, #0x0
b0: ldr x2, [x20]
b4: mov x3, sp
b8: mov x4, xzr
bc: mov x16, #0x2000
c0: movk x16, #0x7f00, lsl #32
c4: blr x16
c8: cbz w0, 0xe0
cc: mov x0, xzr
d0: add sp, sp, #0x30
d4: ldp x19, x20, [sp, #16]
d8: ldp x29, x30, [sp], #48
dc: ret
e0: ldr x0, [x20, #8]
e4: ldr x9, [x0, #8]
e8: mov x10, #0x5678
ec: movk x10, #0x1234, lsl #16
f0: movk x10, #0xaaaa, lsl #32
f4: cmp x9, x10
f8: b.ne 0x12c
fc: ldr x9, [x0, #16]
100: cmp x9, #0xf
104: b.hi 0x12c
108: ldr w10, [x0, #24]
10c: and x9, x9, #0x3
110: neg x9, x9
114: add x9, x9, #0x1
118: mul x9, x9, x10
11c: str x9, [sp, #8]
120: sxtw x10, w9
124: cmp x10, x9
128: b.eq 0x164
12c: mov x0, x19
130: mov x1, #0x1
134: ldr x2, [x20, #8]
138: add x3, sp, #0x8
13c: mov x4, xzr
140: mov x16, #0x2000
144: movk x16, #0x7f00, lsl #32
148: blr x16
14c: cbz w0, 0x164
150: mov x0, xzr
154: add sp, sp, #0x30
158: ldp x19, x20, [sp, #16]
15c: ldp x29, x30, [sp], #48
160: ret
164: ldr x9, [x19, #920]
168: ldrb w9, [x9]
16c: cbz w9, 0x194
170: mov x0, x19
174: mov x1, xzr
178: mov x16, #0x8000
17c: movk x16, #0x7f00, lsl #32
180: blr x16
184: add sp, sp, #0x30
188: ldp x19, x20, [sp, #16]
18c: ldp x29, x30, [sp], #48
190: ret
194: ldr x10, [x19, #928]
198: ldr x16, [x10]
19c: add x16, x16, #0x1
1a0: str x16, [x10]
1a4: ldr x0, [sp]
1a8: ldr x1, [sp, #8]
1ac: ldr x16, [x19, #904]
1b0: blr x16
1b4: ldr x10, [x19, #928]
1b8: ldr x16, [x10]
1bc: sub x16, x16, #0x1
1c0: str x16, [x10]
1c4: cbz x16, 0x1e8
1c8: sxtw x0, w0
1cc: mov x16, #0x10000
1d0: movk x16, #0xffff, lsl #32
1d4: blr x16
1d8: add sp, sp, #0x30
1dc: ldp x19, x20, [sp, #16]
1e0: ldp x29, x30, [sp], #48
1e4: ret
1e8: sxtw x0, w0
1ec: mov x16, #0x10000
1f0: movk x16, #0xffff, lsl #32
1f4: blr x16
1f8: mov x20, x0
1fc: mov x0, x19
200: mov x16, #0x9000
204: movk x16, #0x7f00, lsl #32
208: blr x16
20c: mov x0, x20
210: add sp, sp, #0x30
214: ldp x19, x20, [sp, #16]
218: ldp x29, x30, [sp], #48
21c: ret
"""

@pytest.mark.parametrize("restype, argtypes, bracket, rt, expected", [
    ("i32", ["i32", "i32"], False, RT, ADD_I32),
    ("i32", ["i32", "i32"], False, RT_3_12, ADD_I32_3_12),
    ("f64", ["f64", "f32"], False, RT, F64_F32),
    ("string", ["pointer", "string", "bool", "u8"], True, RT, MIXED_BRACKET),
], ids=["add_i32_i32", "add_i32_i32_3_12", "f64_f32_to_f64", "pointer_string_bool_u8_to_string_bracket"])
def test_whole_entry_point(restype, argtypes, bracket, rt, expected):
    shape = aapcs64_shape(restype, argtypes, bracket)
    assert fmt(aarch64.emit(shape, rt)) == _clean(expected)


def test_shapes_use_the_classifiers_registers():
    assert aapcs64_shape("f64", ["f64", "f32"]).args == (
        Arg(scalar("f64"), True, 0), Arg(scalar("f32"), True, 1))
    mixed = aapcs64_shape("void", ["f32", "i8", "f64", "u64", "pointer"])
    assert [(a.fp, a.reg) for a in mixed.args] == [(True, 0), (False, 0), (True, 1), (False, 1), (False, 2)]


def test_each_classifier_names_its_own_registers():
    """Plans of one signature on both ABIs, in either order: the moves are
    made once each, but the same slot is x0 on one ABI and rdi on the other."""
    sig = make_signature("f", "i32", ["i32", "f64"])
    arm = aapcs64.classify(sig).describe()
    x86 = sysv_x86_64.classify(sig).describe()
    assert arm == ["arg 1 i32 sext32 -> x0", "arg 2 f64 -> v0", "ret i32 <- x0"]
    assert x86 == ["arg 1 i32 sext32 -> rdi", "arg 2 f64 -> xmm0", "ret i32 <- rax"]
    assert aapcs64.classify(sig).describe() == arm


# ---- every kind, with the real runtime of this build ----

# Kinds the JIT leaves to the plan tier (tiers/jit/__init__.py, _REFUSED_KINDS): not emitted, not here.
KINDS = [t for t in SCALARS.values() if isinstance(t, Scalar) and t is not VOID
         and t.kind not in tier_jit._REFUSED_KINDS]


def _real_runtime() -> dict:
    return dict(_core.JIT_RUNTIME)


@pytest.mark.parametrize("ret", [VOID] + KINDS, ids=lambda t: t.name)
def test_every_kind_decodes(ret):
    """Every argument kind once and the given return kind, at the register
    limits, with this build's runtime: each word is a real instruction, every
    helper call goes through x16, and sp moves by the frame and back."""
    gp = [t for t in KINDS if not t.is_float]
    fp = [t for t in KINDS if t.is_float]
    for args in (gp[:8], fp[:2] * 4, gp[8:] + fp):
        shape = aapcs64_shape(ret.name, [t.name for t in args], bracket=True)
        listing = texts(aarch64.emit(shape, _real_runtime()))
        bad = [t for t in listing if t.startswith((".inst", "udf", "undefined"))]
        assert not bad, bad
        assert all(t == "blr x16" for t in listing if t.startswith("blr"))
        subs = [t for t in listing if t.startswith("sub sp, sp")]
        adds = [t for t in listing if t.startswith("add sp, sp")]
        # One frame; every exit (reject, each argument's failure, the closed
        # library, the return, the return of a library's last call, and -- with a
        # pointer argument, so buffers -- a callback's exception held by the call,
        # alone or on the library's last call; a string result's helper boxes it
        # and releases the buffers in one, so no exit of its own) takes it down.
        held = any(t.kind in (SCALARS["pointer"].kind, SCALARS["string"].kind) for t in args)
        held = held and ret is not SCALARS["string"]
        assert len(subs) == 1 and len(adds) == len(args) + 4 + 2 * held == listing.count("ret")
        assert {a[4:] for a in adds} == {subs[0][4:]}
        assert int(subs[0].rsplit("#", 1)[1], 16) % 16 == 0


def fast_path(code: bytes, taken: list[bool]) -> list[str]:
    """The instructions run from the entry to the first ret, each conditional
    branch taken or not as ``taken`` says, in order (all of it used)."""
    listing = dict(disassemble(code))
    decisions = iter(taken)
    run, at = [], 0
    while True:
        text = listing[at]
        run.append(text)
        if text == "ret":
            assert next(decisions, None) is None, "decisions left over"
            return run
        b = _BRANCH.match(text)
        if b and (b.group(1) == "b" or next(decisions)):
            at = int(b.group(4), 16)
        else:
            at += 4


def test_add_i32_instruction_count():
    """Instructions on the fast path of add(i32, i32) (two one-digit ints,
    straight through to the return) -- documented in the report, kept here so
    a change shows up.  On it: no keywords, arity right, library open, then
    per argument an exact int, one digit, in range, then the library open, and
    the in-flight count (4 instructions in, 5 out: AArch64 has no add to
    memory) not reaching 0."""
    for rt, count in ((RT, 68), (RT_3_12, 72)):   # 3.12+: two more per int (the sign of the tag)
        code = aarch64.emit(aapcs64_shape("i32", ["i32", "i32"]), rt)
        run = fast_path(code, [False, True] + [False, False, True] * 2 + [True, False])
        assert len(run) == count, rt["object_layout"]
    assert run.count("blr x16") == 2 and "mov x1, #0x0" not in run   # the target and PyLong_FromLong only


# ---- (c) batch loops (fn.map) ----

# x19 = target, x20 = strides, x21 = out, x22 = out stride, x23 = rows,
# x24 = row index, x25 = columns; each row: x9 = columns[k] + index * strides[k].
ADD_I32_LOOP = """
0: stp x29, x30, [sp, #-80]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: stp x21, x22, [sp, #32]
10: stp x23, x24, [sp, #48]
14: str x25, [sp, #64]
18: mov x19, x0
1c: mov x25, x1
20: mov x20, x2
24: mov x21, x3
28: mov x22, x4
2c: mov x23, x5
30: mov x24, xzr
34: cbz x23, 0x70
38: ldr x9, [x20]
3c: ldr x10, [x25]
40: madd x9, x9, x24, x10
44: ldrsw x0, [x9]
48: ldr x9, [x20, #8]
4c: ldr x10, [x25, #8]
50: madd x9, x9, x24, x10
54: ldrsw x1, [x9]
58: blr x19
5c: madd x9, x22, x24, x21
60: str w0, [x9]
64: add x24, x24, #0x1
68: cmp x24, x23
6c: b.ne 0x38
70: ldr x25, [sp, #64]
74: ldp x23, x24, [sp, #48]
78: ldp x21, x22, [sp, #32]
7c: ldp x19, x20, [sp, #16]
80: ldp x29, x30, [sp], #80
84: ret
"""

# f32 -> s0 (low half of v0), f64 -> d1, u8 -> w0 (zero-extended); f32 result from s0.
F32_F64_U8_LOOP = """
0: stp x29, x30, [sp, #-80]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: stp x21, x22, [sp, #32]
10: stp x23, x24, [sp, #48]
14: str x25, [sp, #64]
18: mov x19, x0
1c: mov x25, x1
20: mov x20, x2
24: mov x21, x3
28: mov x22, x4
2c: mov x23, x5
30: mov x24, xzr
34: cbz x23, 0x80
38: ldr x9, [x20]
3c: ldr x10, [x25]
40: madd x9, x9, x24, x10
44: ldr s0, [x9]
48: ldr x9, [x20, #8]
4c: ldr x10, [x25, #8]
50: madd x9, x9, x24, x10
54: ldr d1, [x9]
58: ldr x9, [x20, #16]
5c: ldr x10, [x25, #16]
60: madd x9, x9, x24, x10
64: ldrb w0, [x9]
68: blr x19
6c: madd x9, x22, x24, x21
70: str s0, [x9]
74: add x24, x24, #0x1
78: cmp x24, x23
7c: b.ne 0x38
80: ldr x25, [sp, #64]
84: ldp x23, x24, [sp, #48]
88: ldp x21, x22, [sp, #32]
8c: ldp x19, x20, [sp, #16]
90: ldp x29, x30, [sp], #80
94: ret
"""


@pytest.mark.parametrize("restype, argtypes, expected", [
    ("i32", ["i32", "i32"], ADD_I32_LOOP),
    ("f32", ["f32", "f64", "u8"], F32_F64_U8_LOOP),
], ids=["add_i32_i32", "f32_f64_u8_to_f32"])
def test_whole_loop(restype, argtypes, expected):
    shape = aapcs64_shape(restype, argtypes)
    assert fmt(aarch64.emit_loop(shape, RT)) == _clean(expected)


# How each kind is read from its column (extended as the call path extends
# it) and how a return of that kind is written to its output row.
LOOP_LOADS = {"i8": "ldrsb x{r}", "i16": "ldrsh x{r}", "i32": "ldrsw x{r}", "i64": "ldr x{r}",
              "u8": "ldrb w{r}", "bool": "ldrb w{r}", "u16": "ldrh w{r}", "u32": "ldr w{r}", "u64": "ldr x{r}",
              "pointer": "ldr x{r}", "string": "ldr x{r}", "f32": "ldr s{r}", "f64": "ldr d{r}"}
LOOP_STORES = {"void": [], "bool": ["tst w0, #0xff", "cset w0, ne", "strb w0, [x9]"],
               "i8": ["strb w0, [x9]"], "u8": ["strb w0, [x9]"], "i16": ["strh w0, [x9]"],
               "u16": ["strh w0, [x9]"], "i32": ["str w0, [x9]"], "u32": ["str w0, [x9]"],
               "i64": ["str x0, [x9]"], "u64": ["str x0, [x9]"], "pointer": ["str x0, [x9]"],
               "string": ["str x0, [x9]"], "f32": ["str s0, [x9]"], "f64": ["str d0, [x9]"]}


@pytest.mark.parametrize("ret", [VOID] + KINDS, ids=lambda t: t.name)
def test_every_kind_in_a_loop(ret):
    """Every argument kind, at and beyond the call path's 8-argument cap (the
    loop takes all 8 + 8 registers): each column is read from its own
    strides/columns entry with the right width and extension into the
    classifier's register, and the return is stored at its width."""
    gp = [t for t in KINDS if not t.is_float]
    fp = [t for t in KINDS if t.is_float]
    for args in (gp[:8], gp[8:] + fp, gp[:8] + fp * 4):
        shape = aapcs64_shape(ret.name, [t.name for t in args])
        listing = texts(aarch64.emit_loop(shape, _real_runtime()))
        bad = [t for t in listing if t.startswith((".inst", "udf", "undefined"))]
        assert not bad, bad
        row = listing.index("ldr x9, [x20]")
        call = listing.index("blr x19")
        expected = []
        for k, arg in enumerate(shape.args):
            offset = f", #{8 * k}" if k else ""
            expected += [f"ldr x9, [x20{offset}]", f"ldr x10, [x25{offset}]", "madd x9, x9, x24, x10",
                         LOOP_LOADS[arg.type.name].format(r=arg.reg) + ", [x9]"]
        assert listing[row:call] == expected
        stores = [] if ret is VOID else ["madd x9, x22, x24, x21"] + LOOP_STORES[ret.name]
        assert listing[call + 1:call + 1 + len(stores)] == stores
        assert listing[call + 1 + len(stores):call + 4 + len(stores)] == [
            "add x24, x24, #0x1", "cmp x24, x23", f"b.ne 0x{4 * row:x}"]
        # The frame record and x19..x25 take 80 bytes: sp stays 16-byte aligned.
        assert listing[0] == "stp x29, x30, [sp, #-80]!" and listing[-2:] == ["ldp x29, x30, [sp], #80", "ret"]
