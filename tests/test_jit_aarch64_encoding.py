"""The AArch64 JIT emitter's encodings, checked against GNU objdump.

Every instruction form of fastffi/tiers/jit/aarch64.py is assembled with
representative registers and immediates and disassembled; so are the whole
entry point of three representative shapes and the batch loop (fn.map) of
two, against the listings below.
These tests only assemble bytes, so they run on any host: on x86-64 they need
``aarch64-linux-gnu-objdump`` (Debian: binutils-aarch64-linux-gnu, which CI
installs), on arm64 the native ``objdump``.  A missing disassembler is a
failure, never a skip.  Whether the code *runs* correctly is shown by the
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
from fastffi.tiers.jit import aarch64
from fastffi.tiers.jit.assembly import Arg, Shape

EQ, NE, HI = aarch64.EQ, aarch64.NE, aarch64.HI


def _objdump() -> str:
    tool = shutil.which("aarch64-linux-gnu-objdump")
    if tool is None and platform.machine() in ("aarch64", "arm64"):
        tool = shutil.which("objdump")
    if tool is None:
        pytest.fail("no AArch64 disassembler: install binutils-aarch64-linux-gnu "
                    "(apt-get install binutils-aarch64-linux-gnu) for aarch64-linux-gnu-objdump; "
                    "these encoding tests never skip", pytrace=False)
    return tool


_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(.*)$")
_BRANCH = re.compile(r"^(b|b\.\w+|cbz|cbnz)\s+(.*?)(0x)?([0-9a-f]+)$")


def disassemble(code: bytes, start: int = 0, stop: int | None = None) -> list[tuple[int, str]]:
    """(offset, "mnemonic operands") for each word, as objdump prints them,
    with its comments and symbolic targets dropped and whitespace normalised."""
    assert len(code) % 4 == 0
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
    with pytest.raises(AssertionError):
        aarch64._patch_imm19(bytearray(4), 0, 0x100000)
    with pytest.raises(AssertionError):
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
                lambda: a.tst_w_low(0, 32)):        # all ones is no logical immediate
        with pytest.raises((AssertionError, StopIteration)):
            bad()


# ---- (b) whole entry points ----

# A runtime with fixed addresses and the offsets of CPython 3.11 / fastffi on
# LP64, so the listings are stable; the real one differs only in numbers.
RT = dict(
    reject=0x7F00_0000_1000, convert=0x7F00_0000_2000, release=0x7F00_0000_3000, box=0x7F00_0000_4000,
    none=0x7F00_0000_5000, enter=0x7F00_0000_6000, leave=0x7F00_0000_7000,
    PyLong_FromLong=0xFFFF_0001_0000, PyLong_FromLongLong=0xFFFF_0002_0000,
    PyLong_FromUnsignedLongLong=0xFFFF_0003_0000, PyFloat_FromDouble=0xFFFF_0004_0000,
    PyBool_FromLong=0xFFFF_0005_0000,
    PyLong_Type=0xAAAA_1234_5678, PyFloat_Type=0xAAAA_1234_0000, PyBytes_Type=0xAAAA_0000_5678,
    Py_None=0xAAAA_0001_0010, Py_True=0xAAAA_0002_0020, Py_False=0xAAAA_0003_0030,
    ob_type=8, ob_size=16, long_digit0=24, float_value=16, bytes_data=32,
    fn_target=904, fn_closed=920, fn_flags=936,
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
18: cbnz x3, 0x5c
1c: and x9, x2, #0x7fffffffffffffff
20: cmp x9, #0x2
24: b.ne 0x34
28: ldr x9, [x19, #920]
2c: ldrb w9, [x9]
30: cbz w9, 0x68
34: mov x0, x19
38: mov x1, x2
3c: mov x2, x3
40: mov x16, #0x1000
44: movk x16, #0x7f00, lsl #32
48: blr x16
4c: add sp, sp, #0x30
50: ldp x19, x20, [sp, #16]
54: ldp x29, x30, [sp], #48
58: ret
5c: ldr x9, [x3, #16]
60: cbz x9, 0x1c
64: b 0x34
68: ldr x0, [x20]
6c: ldr x9, [x0, #8]
70: mov x10, #0x5678
74: movk x10, #0x1234, lsl #16
78: movk x10, #0xaaaa, lsl #32
7c: cmp x9, x10
80: b.ne 0xac
84: ldr x9, [x0, #16]
88: add x10, x9, #0x1
8c: cmp x10, #0x2
90: b.hi 0xac
94: ldr w10, [x0, #24]
98: mul x9, x9, x10
9c: str x9, [sp]
a0: sxtw x10, w9
a4: cmp x10, x9
a8: b.eq 0xe4
ac: mov x0, x19
b0: mov x1, #0x0
b4: ldr x2, [x20]
b8: mov x3, sp
bc: mov x4, xzr
c0: mov x16, #0x2000
c4: movk x16, #0x7f00, lsl #32
c8: blr x16
cc: cbz w0, 0xe4
d0: mov x0, xzr
d4: add sp, sp, #0x30
d8: ldp x19, x20, [sp, #16]
dc: ldp x29, x30, [sp], #48
e0: ret
e4: ldr x0, [x20, #8]
e8: ldr x9, [x0, #8]
ec: mov x10, #0x5678
f0: movk x10, #0x1234, lsl #16
f4: movk x10, #0xaaaa, lsl #32
f8: cmp x9, x10
fc: b.ne 0x128
100: ldr x9, [x0, #16]
104: add x10, x9, #0x1
108: cmp x10, #0x2
10c: b.hi 0x128
110: ldr w10, [x0, #24]
114: mul x9, x9, x10
118: str x9, [sp, #8]
11c: sxtw x10, w9
120: cmp x10, x9
124: b.eq 0x160
128: mov x0, x19
12c: mov x1, #0x1
130: ldr x2, [x20, #8]
134: add x3, sp, #0x8
138: mov x4, xzr
13c: mov x16, #0x2000
140: movk x16, #0x7f00, lsl #32
144: blr x16
148: cbz w0, 0x160
14c: mov x0, xzr
150: add sp, sp, #0x30
154: ldp x19, x20, [sp, #16]
158: ldp x29, x30, [sp], #48
15c: ret
160: ldr x0, [sp]
164: ldr x1, [sp, #8]
168: ldr x16, [x19, #904]
16c: blr x16
170: sxtw x0, w0
174: mov x16, #0x10000
178: movk x16, #0xffff, lsl #32
17c: blr x16
180: add sp, sp, #0x30
184: ldp x19, x20, [sp, #16]
188: ldp x29, x30, [sp], #48
18c: ret
"""

F64_F32 = """
0: stp x29, x30, [sp, #-48]!
4: mov x29, sp
8: stp x19, x20, [sp, #16]
c: sub sp, sp, #0x30
10: mov x19, x0
14: mov x20, x1
18: cbnz x3, 0x5c
1c: and x9, x2, #0x7fffffffffffffff
20: cmp x9, #0x2
24: b.ne 0x34
28: ldr x9, [x19, #920]
2c: ldrb w9, [x9]
30: cbz w9, 0x68
34: mov x0, x19
38: mov x1, x2
3c: mov x2, x3
40: mov x16, #0x1000
44: movk x16, #0x7f00, lsl #32
48: blr x16
4c: add sp, sp, #0x30
50: ldp x19, x20, [sp, #16]
54: ldp x29, x30, [sp], #48
58: ret
5c: ldr x9, [x3, #16]
60: cbz x9, 0x1c
64: b 0x34
68: ldr x0, [x20]
6c: ldr x9, [x0, #8]
70: mov x10, #0x12340000
74: movk x10, #0xaaaa, lsl #32
78: cmp x9, x10
7c: b.ne 0x8c
80: ldr x9, [x0, #16]
84: str x9, [sp]
88: b 0xc4
8c: mov x0, x19
90: mov x1, #0x0
94: ldr x2, [x20]
98: mov x3, sp
9c: mov x4, xzr
a0: mov x16, #0x2000
a4: movk x16, #0x7f00, lsl #32
a8: blr x16
ac: cbz w0, 0xc4
b0: mov x0, xzr
b4: add sp, sp, #0x30
b8: ldp x19, x20, [sp, #16]
bc: ldp x29, x30, [sp], #48
c0: ret
c4: ldr x0, [x20, #8]
c8: ldr x9, [x0, #8]
cc: mov x10, #0x12340000
d0: movk x10, #0xaaaa, lsl #32
d4: cmp x9, x10
d8: b.ne 0xf8
dc: ldr d0, [x0, #16]
e0: fcvt s0, d0
e4: fmov w9, s0
e8: str x9, [sp, #8]
ec: ubfx w10, w9, #23, #8
f0: cmp w10, #0xff
f4: b.ne 0x130
f8: mov x0, x19
fc: mov x1, #0x1
100: ldr x2, [x20, #8]
104: add x3, sp, #0x8
108: mov x4, xzr
10c: mov x16, #0x2000
110: movk x16, #0x7f00, lsl #32
114: blr x16
118: cbz w0, 0x130
11c: mov x0, xzr
120: add sp, sp, #0x30
124: ldp x19, x20, [sp, #16]
128: ldp x29, x30, [sp], #48
12c: ret
130: ldr d0, [sp]
134: ldr s1, [sp, #8]
138: ldr x16, [x19, #904]
13c: blr x16
140: mov x16, #0x40000
144: movk x16, #0xffff, lsl #32
148: blr x16
14c: add sp, sp, #0x30
150: ldp x19, x20, [sp, #16]
154: ldp x29, x30, [sp], #48
158: ret
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
1c: cbnz x3, 0x64
20: and x9, x2, #0x7fffffffffffffff
24: cmp x9, #0x4
28: b.ne 0x38
2c: ldr x9, [x19, #920]
30: ldrb w9, [x9]
34: cbz w9, 0x70
38: mov x0, x19
3c: mov x1, x2
40: mov x2, x3
44: mov x16, #0x1000
48: movk x16, #0x7f00, lsl #32
4c: blr x16
50: add sp, sp, #0xe0
54: ldr x21, [sp, #32]
58: ldp x19, x20, [sp, #16]
5c: ldp x29, x30, [sp], #48
60: ret
64: ldr x9, [x3, #16]
68: cbz x9, 0x20
6c: b 0x38
70: add x9, sp, #0x40
74: str x9, [sp, #48]
78: str wzr, [sp, #56]
7c: ldr x0, [x20]
80: ldr x9, [x0, #8]
84: mov x10, #0x5678
88: movk x10, #0xaaaa, lsl #32
8c: cmp x9, x10
90: b.ne 0x9c
94: add x9, x0, #0x20
98: b 0xb4
9c: mov x10, #0x10
a0: movk x10, #0x1, lsl #16
a4: movk x10, #0xaaaa, lsl #32
a8: cmp x0, x10
ac: b.ne 0xbc
b0: mov x9, xzr
b4: str x9, [sp]
b8: b 0x108
bc: mov x0, x19
c0: mov x1, #0x0
c4: ldr x2, [x20]
c8: mov x3, sp
cc: add x4, sp, #0x30
d0: mov x16, #0x2000
d4: movk x16, #0x7f00, lsl #32
d8: blr x16
dc: cbz w0, 0x108
e0: add x0, sp, #0x30
e4: mov x16, #0x3000
e8: movk x16, #0x7f00, lsl #32
ec: blr x16
f0: mov x0, xzr
f4: add sp, sp, #0xe0
f8: ldr x21, [sp, #32]
fc: ldp x19, x20, [sp, #16]
100: ldp x29, x30, [sp], #48
104: ret
108: ldr x0, [x20, #8]
10c: ldr x9, [x0, #8]
110: mov x10, #0x5678
114: movk x10, #0xaaaa, lsl #32
118: cmp x9, x10
11c: b.ne 0x128
120: add x9, x0, #0x20
124: b 0x140
128: mov x10, #0x10
12c: movk x10, #0x1, lsl #16
130: movk x10, #0xaaaa, lsl #32
134: cmp x0, x10
138: b.ne 0x148
13c: mov x9, xzr
140: str x9, [sp, #8]
144: b 0x194
148: mov x0, x19
14c: mov x1, #0x1
150: ldr x2, [x20, #8]
154: add x3, sp, #0x8
158: add x4, sp, #0x30
15c: mov x16, #0x2000
160: movk x16, #0x7f00, lsl #32
164: blr x16
168: cbz w0, 0x194
16c: add x0, sp, #0x30
170: mov x16, #0x3000
174: movk x16, #0x7f00, lsl #32
178: blr x16
17c: mov x0, xzr
180: add sp, sp, #0xe0
184: ldr x21, [sp, #32]
188: ldp x19, x20, [sp, #16]
18c: ldp x29, x30, [sp], #48
190: ret
194: ldr x0, [x20, #16]
198: mov x10, #0x20
19c: movk x10, #0x2, lsl #16
1a0: movk x10, #0xaaaa, lsl #32
1a4: cmp x0, x10
1a8: cset w9, eq
1ac: b.eq 0x1c4
1b0: mov x10, #0x30
1b4: movk x10, #0x3, lsl #16
1b8: movk x10, #0xaaaa, lsl #32
1bc: cmp x0, x10
1c0: b.ne 0x1cc
1c4: str x9, [sp, #16]
1c8: b 0x218
1cc: mov x0, x19
1d0: mov x1, #0x2
1d4: ldr x2, [x20, #16]
1d8: add x3, sp, #0x10
1dc: add x4, sp, #0x30
1e0: mov x16, #0x2000
1e4: movk x16, #0x7f00, lsl #32
1e8: blr x16
1ec: cbz w0, 0x218
1f0: add x0, sp, #0x30
1f4: mov x16, #0x3000
1f8: movk x16, #0x7f00, lsl #32
1fc: blr x16
200: mov x0, xzr
204: add sp, sp, #0xe0
208: ldr x21, [sp, #32]
20c: ldp x19, x20, [sp, #16]
210: ldp x29, x30, [sp], #48
214: ret
218: ldr x0, [x20, #24]
21c: ldr x9, [x0, #8]
220: mov x10, #0x5678
224: movk x10, #0x1234, lsl #16
228: movk x10, #0xaaaa, lsl #32
22c: cmp x9, x10
230: b.ne 0x25c
234: ldr x9, [x0, #16]
238: add x10, x9, #0x1
23c: cmp x10, #0x2
240: b.hi 0x25c
244: ldr w10, [x0, #24]
248: mul x9, x9, x10
24c: str x9, [sp, #24]
250: uxtb w10, w9
254: cmp x10, x9
258: b.eq 0x2a8
25c: mov x0, x19
260: mov x1, #0x3
264: ldr x2, [x20, #24]
268: add x3, sp, #0x18
26c: add x4, sp, #0x30
270: mov x16, #0x2000
274: movk x16, #0x7f00, lsl #32
278: blr x16
27c: cbz w0, 0x2a8
280: add x0, sp, #0x30
284: mov x16, #0x3000
288: movk x16, #0x7f00, lsl #32
28c: blr x16
290: mov x0, xzr
294: add sp, sp, #0xe0
298: ldr x21, [sp, #32]
29c: ldp x19, x20, [sp, #16]
2a0: ldp x29, x30, [sp], #48
2a4: ret
2a8: mov x0, x19
2ac: mov x16, #0x6000
2b0: movk x16, #0x7f00, lsl #32
2b4: blr x16
2b8: mov x21, x0
2bc: ldr x0, [sp]
2c0: ldr x1, [sp, #8]
2c4: ldr x2, [sp, #16]
2c8: ldr x3, [sp, #24]
2cc: ldr x16, [x19, #904]
2d0: blr x16
2d4: str x0, [sp, #32]
2d8: str d0, [sp, #40]
2dc: mov x0, x19
2e0: mov x1, x21
2e4: mov x16, #0x7000
2e8: movk x16, #0x7f00, lsl #32
2ec: blr x16
2f0: ldr w9, [sp, #56]
2f4: cbz w9, 0x308
2f8: add x0, sp, #0x30
2fc: mov x16, #0x3000
300: movk x16, #0x7f00, lsl #32
304: blr x16
308: ldr x0, [sp, #32]
30c: ldr d0, [sp, #40]
310: mov x1, x0
314: mov x0, x19
318: mov x16, #0x4000
31c: movk x16, #0x7f00, lsl #32
320: blr x16
324: add sp, sp, #0xe0
328: ldr x21, [sp, #32]
32c: ldp x19, x20, [sp, #16]
330: ldp x29, x30, [sp], #48
334: ret
"""


@pytest.mark.parametrize("restype, argtypes, bracket, expected", [
    ("i32", ["i32", "i32"], False, ADD_I32),
    ("f64", ["f64", "f32"], False, F64_F32),
    ("string", ["pointer", "string", "bool", "u8"], True, MIXED_BRACKET),
], ids=["add_i32_i32", "f64_f32_to_f64", "pointer_string_bool_u8_to_string_bracket"])
def test_whole_entry_point(restype, argtypes, bracket, expected):
    shape = aapcs64_shape(restype, argtypes, bracket)
    assert fmt(aarch64.emit(shape, RT)) == _clean(expected)


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

KINDS = [t for t in SCALARS.values() if isinstance(t, Scalar) and t is not VOID]


def _real_runtime() -> dict:
    rt = dict(_core.JIT_RUNTIME)
    rt.setdefault("long_digit0", 24)   # absent where the layout has no fixed digit offset (3.12+)
    return rt


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
        # One frame; every exit (reject, each argument's failure, the return) takes it down.
        assert len(subs) == 1 and len(adds) == len(args) + 2 == listing.count("ret")
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
    per argument an exact int, one digit, in range."""
    code = aarch64.emit(aapcs64_shape("i32", ["i32", "i32"]), RT)
    run = fast_path(code, [False, False, True] + [False, False, True] * 2)
    assert len(run) == 59
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
