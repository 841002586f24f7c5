"""issue 16: where both classifiers put ``__int128`` -- run on any host (the
classifiers are plain Python), so the AArch64 placement is checked on x86-64
too.  psABI 3.2.3; AAPCS64 6.8.2 C.8/C.9/C.11-C.13 and 6.9."""
from __future__ import annotations

import pytest

import fastffi
from fastffi.abi import aapcs64, sysv_x86_64
from fastffi.cdecl.spelling import make_signature

I128One = fastffi.struct("I128OneAbi", [("v", "i128")])
I128Pair = fastffi.struct("I128PairAbi", [("tag", "i64"), ("v", "i128")])


def placed(abi, restype, argtypes):
    return abi.classify(make_signature("f", restype, argtypes)).describe()


@pytest.mark.parametrize("abi, expected", [
    (sysv_x86_64, ["arg 1 i64 -> rdi", "arg 2 i128 -> rsi:rdx", "arg 3 i64 -> rcx", "ret i128 <- rax:rdx"]),
    (aapcs64, ["arg 1 i64 -> x0", "arg 2 i128 -> x2:x3", "arg 3 i64 -> x4", "ret i128 <- x0:x1"]),
])
def test_after_one_integer(abi, expected):
    assert placed(abi, "i128", ["i64", "i128", "i64"]) == expected


@pytest.mark.parametrize("abi, expected", [
    # both eightbytes or neither: wholly on the stack, and r9 still takes the next integer
    (sysv_x86_64, ["arg 6 u128 -> stack+0", "arg 7 i32 sext32 -> r9", "arg 8 i64 -> stack+16"]),
    # NGRN 5 rounded up to 6
    (aapcs64, ["arg 6 u128 -> x6:x7", "arg 7 i32 sext32 -> stack+0", "arg 8 i64 -> stack+8"]),
])
def test_after_five_integers(abi, expected):
    assert placed(abi, "void", ["i64"] * 5 + ["u128", "i32", "i64"])[5:] == expected


@pytest.mark.parametrize("abi, expected", [
    # the stack slot is 16-aligned after an 8-byte one
    (sysv_x86_64, ["arg 7 i64 -> stack+0", "arg 8 i128 -> stack+16", "arg 9 i64 -> stack+32"]),
    # NGRN = 8 after x7 is skipped; NSAA rounded up to 16
    (aapcs64, ["arg 7 i64 -> x6", "arg 8 i128 -> stack+0", "arg 9 i64 -> stack+16"]),
])
def test_on_the_stack(abi, expected):
    assert placed(abi, "void", ["i64"] * 7 + ["i128", "i64"])[6:] == expected


def test_moves_are_16_bytes():
    plan = aapcs64.classify(make_signature("f", "void", ["i32", "i128"]))
    (first, second) = plan.moves
    assert (first.size, second.size, second.dst - first.dst) == (8, 16, 16)   # x0, then x2:x3


@pytest.mark.parametrize("abi, expected", [
    (sysv_x86_64, ["arg 1 i32 sext32 -> rdi", "arg 2 I128OneAbi bytes 0..8 -> rsi",
                   "arg 2 I128OneAbi bytes 8..16 -> rdx"]),
    (aapcs64, ["arg 1 i32 sext32 -> x0", "arg 2 I128OneAbi bytes 0..8 -> x2",
               "arg 2 I128OneAbi bytes 8..16 -> x3"]),
])
def test_struct_of_one_is_an_integer_pair(abi, expected):
    assert placed(abi, "void", ["i32", I128One]) == expected
    assert sysv_x86_64.aggregate_classes(I128One) == ["INTEGER", "INTEGER"]


def test_larger_structs_keep_their_alignment_on_the_stack():
    # x86-64: MEMORY, copied to a 16-aligned stack slot after an eightbyte
    assert placed(sysv_x86_64, "void", ["i64"] * 7 + [I128Pair])[-1] == "arg 8 I128PairAbi copy 32 bytes -> stack+16"
    # AArch64: over 16 bytes, by reference (B.4)
    assert placed(aapcs64, "void", [I128Pair])[0] == "arg 1 I128PairAbi copy 32 bytes, address -> x0"
