"""What the running platform must offer, written once and parametrised by it:
tiers, ABI, char and wchar_t signedness, long size."""
from __future__ import annotations

import platform
import sys

import pytest

import fastffi
from fastffi import _core

MACHINE = platform.machine()
LINUX = sys.platform.startswith("linux")
EXPECTED = {
    # machine: (plan ABI, char, wchar_t, tiers without FASTFFI_TIER)
    "x86_64": ("sysv-x86_64", "i8", "i32", ("jit", "plan", "libffi")),
    "aarch64": ("aapcs64", "u8", "u32", ("jit", "plan", "libffi")),
}


@pytest.fixture
def expected():
    if not (LINUX and MACHINE in EXPECTED):
        pytest.fail(f"no expectations written for {sys.platform} {MACHINE}: add them here")
    return EXPECTED[MACHINE]


def test_plan_abi(expected):
    assert _core.PLAN_ABI == expected[0]


def test_tiers_available(expected, monkeypatch):
    monkeypatch.delenv("FASTFFI_TIER", raising=False)
    # The JIT also needs the object layout its fast paths were written for.
    tiers = expected[3] if fastffi.tiers.jit.layout_refusal() is None else expected[3][1:]
    assert fastffi.available_tiers() == tiers


def test_char_and_wchar(expected):
    with fastffi.dlopen(None) as libc:
        # Only the declared types matter here: the function is never called.
        assert libc.function("int abs(char c, wchar_t w)").argtypes == expected[1:3]


def test_long_is_64_bit():
    with fastffi.dlopen(None) as libc:
        fn = libc.function("long labs(long)")
        assert fn.argtypes == ("i64",) and fn(-(2**62)) == 2**62
