"""A library closed while a call converts its arguments (issue 12, item 1).

An argument's ``__index__`` may run any Python code, ``lib.close()`` included, and close() with no
call in flight unloads the library at once.  The closed check must therefore come after the last
conversion and before the call, on every tier: the call raises LibraryClosedError and releases
what its arguments hold, and the target is never called into an unloaded object.  Each case runs in
a child process, so a tier that still calls into the unloaded library fails here instead of taking
the test session down."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import fastffi

TIERS = list(dict.fromkeys([*fastffi.available_tiers(), "libffi"]))

CHILD = textwrap.dedent("""
    import sys
    import fastffi

    path, tier, case = sys.argv[1:]
    lib = fastffi.dlopen(path)

    class Closer:
        def __index__(self):
            lib.close()
            return 3

    if case == "int":
        fn = lib.function("mini_add_i32", "i32", ["i32", "i32"], tier=tier)
        assert fn.tier == tier, fn.tier
        args, held = (1, Closer()), None
    else:   # a buffer acquired by the first argument's conversion must be released
        fn = lib.function("mini_sum_u8", "i64", ["pointer", "u64"], tier=tier)
        assert fn.tier == tier, fn.tier
        held = bytearray(b"abc")
        args = (held, Closer())
    try:
        fn(*args)
    except fastffi.LibraryClosedError as e:
        print(type(e).__name__, e)
    else:
        print("no error")
    if held is not None:
        held.extend(b"d")   # BufferError if the call kept its export
        print("released", bytes(held))
""")


@pytest.mark.parametrize("case", ["int", "buffer"])
@pytest.mark.parametrize("tier", TIERS)
def test_close_from_an_argument_conversion_raises(mini_path, tier, case):
    env = {k: v for k, v in os.environ.items() if k != "FASTFFI_TIER"}
    proc = subprocess.run([sys.executable, "-c", CHILD, mini_path, tier, case], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"rc {proc.returncode}: {proc.stderr}"
    name = "mini_add_i32" if case == "int" else "mini_sum_u8"
    expected = [f"LibraryClosedError {name}(): library {mini_path!r} is closed"]
    if case == "buffer":
        expected.append("released b'abcd'")
    assert proc.stdout.splitlines() == expected
