"""The AArch64 encodings of the jit callback mechanism's code
(fastffi/tiers/jit/thunk.py over jit/aarch64.py), checked against a
disassembler as tests/test_jit_aarch64_encoding.py checks the function entry
points -- capstone, and GNU objdump for AArch64 where it is installed, must
agree with the listings below.  Only bytes are assembled, so this runs on any
host; whether the code runs is shown by tests/callbacks/ on arm64
(scripts/test-root.sh --arch arm64)."""
from __future__ import annotations

import pytest

from fastffi.tiers.jit import aarch64, thunk
import re

from test_jit_aarch64_encoding import RT, _capstone, _clean, _objdump, _objdump_listing, fmt, texts

pytestmark = pytest.mark.no_sanitizer   # capstone: see test_jit_aarch64_encoding.py

#: The function entries' fixed runtime, with the thunk helpers at fixed addresses.
TRT = {**RT, "thunk_enter": 0x7F00_0001_0000, "thunk_leave": 0x7F00_0002_0000, "thunk_result": 0x7F00_0003_0000,
       "thunk_box_failed": 0x7F00_0004_0000, "thunk_box_string": 0x7F00_0005_0000,
       "thunk_generic": 0x7F00_0006_0000, "dealloc": 0x7F00_0008_0000,
       "cb_func": 32, "thunk_stubs": 64, "sizeof_ThunkState": 24, "sizeof_ThunkWord": 16, "word_call": 8}
WORDS = 0x5555_0000_1000
_LITERAL = re.compile(r"^(ldr [xw]\d+), (0x[0-9a-f]+)$")


def disassemble(code: bytes, start: int = 0, stop: int | None = None) -> list[tuple[int, str]]:
    """test_jit_aarch64_encoding's two oracles, with objdump's spelling of a
    literal load's target ("ldr x17, 0x10") put in capstone's ("#0x10")."""
    listing = _capstone(code, start, len(code) if stop is None else stop)
    if _objdump() is not None:
        theirs = [(at, _LITERAL.sub(r"\1, #\2", text)) for at, text in _objdump_listing(code, start, stop)]
        assert theirs == listing, "capstone and objdump disagree"
    return listing


def test_the_new_encoders():
    a = aarch64.A64()
    a.bti_c()
    a.ldr_literal_x(17, 12)
    a.ldr_literal_x(3, -8)
    a.subs_imm(9, 9, 1)
    assert [t for _, t in disassemble(bytes(a.code))] == ["bti c", "ldr x17, #0x10", "ldr x3, #0x0", "subs x9, x9, #0x1"]
    with pytest.raises(ValueError, match="literal displacement 6 is not a multiple of 4"):
        aarch64.A64().ldr_literal_x(17, 6)


LONG_CB = """
    0: stp x29, x30, [sp, #-48]!
    4: mov x29, sp
    8: stp x19, x20, [sp, #16]
    c: str x21, [sp, #32]
    10: sub sp, sp, #0x40
    14: str x0, [sp]
    18: ldr x20, [x17]
    1c: ldr x21, [x17, #8]
    20: mov x0, x20
    24: add x1, sp, #0x20
    28: mov x16, #0x10000
    2c: movk x16, #0x7f00, lsl #32
    30: blr x16
    34: cbz x0, 0x178
    38: mov x19, x0
    3c: ldr x0, [sp]
    40: mov x16, #0x20000
    44: movk x16, #0xffff, lsl #32
    48: blr x16
    4c: str x0, [sp, #8]
    50: cbz x0, 0x154
    54: ldr x0, [x19, #32]
    58: add x1, sp, #0x8
    5c: mov x2, #0x1
    60: mov x3, xzr
    64: blr x21
    68: str x0, [sp, #24]
    6c: ldr x0, [sp, #8]
    70: ldr x9, [x0]
    74: subs x9, x9, #0x1
    78: str x9, [x0]
    7c: b.ne 0x8c
    80: mov x16, #0x80000
    84: movk x16, #0x7f00, lsl #32
    88: blr x16
    8c: ldr x0, [sp, #24]
    90: cbz x0, 0x134
    94: ldr x9, [x0, #8]
    98: mov x10, #0x5678
    9c: movk x10, #0x1234, lsl #16
    a0: movk x10, #0xaaaa, lsl #32
    a4: cmp x9, x10
    a8: b.ne 0xcc
    ac: ldr x9, [x0, #16]
    b0: add x10, x9, #0x1
    b4: cmp x10, #0x2
    b8: b.hi 0xcc
    bc: ldr w10, [x0, #24]
    c0: mul x9, x9, x10
    c4: str x9, [sp, #16]
    c8: b 0xe8
    cc: mov x0, x19
    d0: mov x1, x20
    d4: ldr x2, [sp, #24]
    d8: add x3, sp, #0x10
    dc: mov x16, #0x30000
    e0: movk x16, #0x7f00, lsl #32
    e4: blr x16
    e8: ldr x0, [sp, #24]
    ec: ldr x9, [x0]
    f0: subs x9, x9, #0x1
    f4: str x9, [x0]
    f8: b.ne 0x108
    fc: mov x16, #0x80000
    100: movk x16, #0x7f00, lsl #32
    104: blr x16
    108: mov x0, x19
    10c: add x1, sp, #0x20
    110: mov x16, #0x20000
    114: movk x16, #0x7f00, lsl #32
    118: blr x16
    11c: ldr x0, [sp, #16]
    120: add sp, sp, #0x40
    124: ldr x21, [sp, #32]
    128: ldp x19, x20, [sp, #16]
    12c: ldp x29, x30, [sp], #48
    130: ret
    134: mov x0, x19
    138: mov x1, x20
    13c: mov x2, xzr
    140: add x3, sp, #0x10
    144: mov x16, #0x30000
    148: movk x16, #0x7f00, lsl #32
    14c: blr x16
    150: b 0x108
    154: mov x0, x19
    158: mov x1, x20
    15c: add x2, sp, #0x8
    160: mov x3, #0x0
    164: add x4, sp, #0x10
    168: mov x16, #0x40000
    16c: movk x16, #0x7f00, lsl #32
    170: blr x16
    174: b 0x108
    178: mov x9, sp
    17c: str x9, [sp, #8]
    180: mov x0, x20
    184: add x1, sp, #0x8
    188: add x2, sp, #0x10
    18c: mov x16, #0x60000
    190: movk x16, #0x7f00, lsl #32
    194: blr x16
    198: b 0x11c
"""


def test_whole_body_of_long_cb_long():
    """long cb(long): spill x0; the target and the call word from the stub's
    data (x17); thunk_enter; box; func called through the word (x21);
    references dropped inline (3.11: no immortal objects); the result unboxed
    inline, else thunk_result; thunk_leave; x0.  Then the exits: func raised,
    boxing failed, and the generic dispatcher with argp = the spilled slots."""
    shape = thunk.ThunkShape((thunk.ThunkArg("i64", False, 0),), "i64")
    code, first, body, _ = thunk.emit_block(aarch64.Operations(), TRT, shape, WORDS)
    assert fmt(code[:body]) == _clean(LONG_CB)
    assert (first, len(code)) == (416, 416 + 64 * thunk.STUB_SIZE - 8)


def test_stubs_read_their_own_words():
    shape = thunk.ThunkShape((thunk.ThunkArg("i64", False, 0),), "i64")
    code, first, _, fields = thunk.emit_block(aarch64.Operations(), TRT, shape, WORDS)
    for i in (0, 1, 63):
        at = first + i * thunk.STUB_SIZE
        listing = disassemble(code, at, at + 12)
        assert listing == [(at, "bti c"), (at + 4, f"ldr x17, #{at + 16:#x}"), (at + 8, "b 0x0")]
        assert code[at + 12:at + 16] == aarch64.Operations.FILL
        assert int.from_bytes(code[at + 16:at + 24], "little") == WORDS + 16 * i
        assert fields[i] == at + 16


@pytest.mark.parametrize("isa", ["aarch64", "x86_64"])
def test_a_block_copied_for_other_words_is_the_block_emitted_for_them(isa):
    """A new block of a shape is its first one with the stubs' addresses
    patched (tiers/jit/thunk.py's _relocated): byte for byte what emitting
    it again would give."""
    from fastffi.tiers.jit import x86_64
    ops = {"aarch64": aarch64, "x86_64": x86_64}[isa].Operations
    shape = thunk.ThunkShape((thunk.ThunkArg("f64", True, 0), thunk.ThunkArg("i16", False, 0)), "u32")
    template = thunk.emit_block(ops(), TRT, shape, 0)
    assert thunk._relocated(template, WORDS, 16) == thunk.emit_block(ops(), TRT, shape, WORDS).code


def test_stack_arguments_narrow_extension_and_f32():
    """An f32 in s0 (boxed as a double: fcvt), an i32 on the stack (read
    from above the prologue's 48 bytes and sign-extended from w), a u8 in x1
    with its upper bits dropped, and an f32 result returned in s0."""
    shape = thunk.ThunkShape((thunk.ThunkArg("f32", True, 0), thunk.ThunkArg("i32", False, -1, 8),
                              thunk.ThunkArg("u8", False, 1)), "f32")
    code, first, body, _ = thunk.emit_block(aarch64.Operations(), TRT, shape, WORDS)
    listing = texts(code[:body])
    assert listing[4:9] == ["sub sp, sp, #0x60", "str d0, [sp]", "ldr x9, [sp, #152]", "str x9, [sp, #8]",
                            "str x1, [sp, #16]"]
    assert listing[18:20] == ["ldr s0, [sp]", "fcvt d0, s0"]
    assert "sxtw x0, w0" in listing and "uxtb w0, w0" in listing
    ret = listing.index("ret")
    assert listing[ret - 5:ret] == ["ldr s0, [sp, #48]", "add sp, sp, #0x60", "ldr x21, [sp, #32]",
                                    "ldp x19, x20, [sp, #16]", "ldp x29, x30, [sp], #48"]


def test_immortal_objects_are_left_alone_where_they_exist():
    """3.12+ (PEP 683): Py_DECREF skips an object whose count's low 32 bits
    are negative; the body's inline release does the same before the
    decrement (3.11's body, above, has no such check)."""
    from fastffi.tiers.jit import layouts
    rt = {**TRT, **layouts.LAYOUTS["cpython-3.12-release"], "object_layout": "cpython-3.12-release"}
    shape = thunk.ThunkShape((thunk.ThunkArg("i64", False, 0),), "i64")
    code, _, body, _ = thunk.emit_block(aarch64.Operations(), rt, shape, WORDS)
    listing = disassemble(code[:body])
    at = [k for k, (_, text) in enumerate(listing) if text == "ldr w9, [x0]"]
    assert len(at) == 2                     # the argument, then func's result
    for k in at:
        skip = listing[k + 6][0] + 16       # past the decrement and the dealloc call
        assert [t for _, t in listing[k - 1:k + 10]] == [
            "ldr x0, [sp, #8]" if k == at[0] else "ldr x0, [sp, #24]", "ldr w9, [x0]", "cmp w9, #0x0",
            f"b.mi {skip:#x}", "ldr x9, [x0]", "subs x9, x9, #0x1", "str x9, [x0]", f"b.ne {skip:#x}",
            "mov x16, #0x80000", "movk x16, #0x7f00, lsl #32", "blr x16"]
