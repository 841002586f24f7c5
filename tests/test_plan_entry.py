"""The plan tier's entry for small plans, as the compiler built it: one function.

The per-call path is a straight line (docs/design.md): call_plan_small runs the
moves itself (plan_run and the converters inlined, COMPAT_ALWAYS_INLINE), and
no call computes the errno copy's thread-local address (__tls_get_addr in a
shared object) unless the function uses errno (tiers/call.h).  Compilers
decide otherwise by themselves (GCC 16 did both), so the built _core is read.
"""

import platform
import re
import shutil
import subprocess

import pytest

from fastffi import _core

OBJDUMP = shutil.which("objdump") if platform.machine() == "x86_64" else None
pytestmark = pytest.mark.skipif(OBJDUMP is None, reason="needs a native x86-64 objdump")


def _calls(function: str) -> list[str]:
    """The symbols `function` of _core calls directly."""
    listing = subprocess.run([OBJDUMP, "-d", "--no-show-raw-insn", _core.__file__],
                             capture_output=True, text=True, check=True).stdout
    body = re.search(rf"^[0-9a-f]+ <{function}>:\n(.*?)(?:\n\n|\Z)", listing, re.M | re.S)
    assert body is not None, f"{function} not found in {_core.__file__}"
    return re.findall(r"\bcall\s+[0-9a-f]+ <([^>+]+)", body.group(1))


def test_call_plan_small_inlines_the_moves_and_converters():
    calls = set(_calls("call_plan_small"))
    assert not calls & {"plan_run", "convert_value", "convert_argument"}, sorted(calls)


def test_call_plan_small_reads_the_errno_copy_only_out_of_line():
    calls = _calls("call_plan_small")
    assert not [c for c in calls if c.startswith("__tls_get_addr")], calls
    assert "call_errno_in" in calls and "call_errno_out" in calls
