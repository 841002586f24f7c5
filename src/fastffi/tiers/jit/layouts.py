"""The CPython object layouts the JIT's inline fast paths are written for.

One entry per name ``_core.JIT_RUNTIME["object_layout"]`` may report (``COMPAT_OBJECT_LAYOUT`` in
``_core/compat.h`` decides it from the headers it was compiled against): the byte offsets (and,
for the 3.12+ int tag, the constants) the emitters read objects with.  The C core
measures the same offsets with ``offsetof`` into ``JIT_RUNTIME``; the tests check that the two
agree wherever this table describes the host, and take the offsets from here to check emitted
code on every host, whatever interpreter runs the tests.

A layout with another object header gets its own name: a free-threaded build's header is
32 bytes (thread id, flags, local and shared reference counts before ``ob_type``), so such a build must
never pass for a release one."""
from __future__ import annotations

# LP64 (x86-64 and AArch64 Linux) release builds; 3.10 and 3.11 lay these objects out alike.
_LP64_3_10 = {
    "ob_type": 8,       # PyObject: ob_refcnt, ob_type
    "ob_size": 16,      # PyVarObject; for an int, the signed digit count
    "long_digit0": 24,  # PyLongObject.ob_digit[0], 30-bit digits
    "float_value": 16,  # PyFloatObject.ob_fval
    "bytes_data": 32,   # PyBytesObject.ob_sval, after ob_shash
}

# 3.12 through 3.15 (their cpython/longintrepr.h agree): an int is {ob_refcnt, ob_type,
# long_value.lv_tag, long_value.ob_digit}; lv_tag is the digit count << 3 with the sign in bits
# 0-1 (0 positive, 1 zero, 2 negative; 3.14 also sets bit 2 on small ints), the int is compact
# iff lv_tag < 16, and its value is then (1 - (lv_tag & 3)) * ob_digit[0] (_PyLong_CompactValue).
# ob_size is still a tuple's length (the keyword-names check reads it).  The presence of
# "long_tag" is what tells the emitters (isa.Operations.load_compact_int) which scheme to use.
_LP64_3_12 = {
    "ob_type": 8,
    "ob_size": 16,
    "long_tag": 16,             # PyLongObject.long_value.lv_tag
    "long_digit0": 24,          # PyLongObject.long_value.ob_digit[0], 30-bit digits
    "long_sign_mask": 3,        # _PyLong_SIGN_MASK
    "long_compact_below": 16,   # 2 << _PyLong_NON_SIZE_BITS
    "float_value": 16,
    "bytes_data": 32,
}

LAYOUTS: dict[str, dict[str, int]] = {
    "cpython-3.10-release": _LP64_3_10,
    "cpython-3.11-release": _LP64_3_10,
    "cpython-3.12-release": _LP64_3_12,   # 3.12, 3.13, 3.14, 3.15
}


def runtime(layout: str, host: dict) -> dict:
    """``host`` (a JIT_RUNTIME: helper addresses, Function offsets) with the object offsets of
    ``layout``: what the emitters would be given on a build of that layout."""
    # The host's own object facts go first: a key one layout has and another lacks ("long_tag")
    # decides how the emitters read ints.
    objects = {key for table in LAYOUTS.values() for key in table}
    return {**{k: v for k, v in host.items() if k not in objects}, **LAYOUTS[layout], "object_layout": layout}
