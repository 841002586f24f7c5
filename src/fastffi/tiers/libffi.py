"""The libffi tier: what libffi can describe, and its description.

libffi lays structs out by natural alignment and has no union or array type,
so a by-value aggregate is accepted only when its flattened element list (arrays
expanded element by element) reproduces our layout exactly -- libffi's own size
and alignment are compared with ours before anything is trusted."""
from __future__ import annotations

from .. import _core
from ..abi import OP_COPY, OP_REF, fp_slot, gp_slot, sysv_x86_64
from ..model.layout import Layout
from ..model.scalars import Scalar
from ..model.signature import Signature
from .plan import build_plan

NAME = "libffi"


#: Array elements past which the rest of an array is described in nested chunks.
_CHUNK = 64


def _elements(layout: Layout) -> tuple:
    out: list = []
    for f in layout.fields:
        element = f.type.kind if isinstance(f.type, Scalar) else ffi_struct_type(f.type)
        out.extend(_repeated(element, f.count if f.count is not None else 1))
    return tuple(out)


def _repeated(element, count: int) -> list:
    """``count`` copies of ``element`` as libffi elements.  Past _CHUNK copies
    they are grouped _CHUNK at a time into nested struct types, levels over
    levels, so ``u8[4000000]`` takes a few hundred elements, not four million:
    a struct of N copies of T has T's alignment and N * sizeof(T) bytes with no
    padding (C11 6.7.2.1), so the layout is the same, and an aggregate with
    over 64 elements is larger than anything passed in registers (SysV psABI
    3.2.3: over 16 bytes is MEMORY; AAPCS64 5.9.5: an HFA has at most four
    members), so its classification is the same too."""
    out: list = []
    while count > _CHUNK:
        count, rest = divmod(count, _CHUNK)
        out.extend([element] * rest)
        element = _core.FFIStructType((element,) * _CHUNK)
    out.extend([element] * count)
    return out


def struct_refusal(cls) -> str | None:
    """Why libffi cannot pass ``cls`` by value, or None."""
    lay = cls._layout_
    if _holds_int128(lay):
        return f"libffi has no __int128 type ({cls.__name__})"
    if lay.has_union:
        return f"libffi cannot describe unions by value ({cls.__name__})"
    if lay.has_bitfields:
        return f"libffi cannot describe bit-fields by value ({cls.__name__})"
    if lay.misaligned:
        return f"libffi cannot describe packed structs with misaligned fields by value ({cls.__name__})"
    if not lay.fields or lay.size == 0:
        return f"libffi cannot describe an empty struct by value ({cls.__name__})"
    ffi = ffi_struct_type(cls)
    if (ffi.size, ffi.alignment) != (lay.size, lay.align):
        return (f"libffi lays out {cls.__name__} as {ffi.size} bytes aligned {ffi.alignment}, "
                f"not {lay.size} aligned {lay.align} (packed)")
    return None


def ffi_struct_type(cls):
    """The libffi description of ``cls``, built once and kept on the class."""
    cached = cls.__dict__.get("_ffi_type_")
    if cached is None:
        cached = _core.FFIStructType(_elements(cls._layout_))
        type.__setattr__(cls, "_ffi_type_", cached)
    return cached


def _holds_int128(lay: Layout) -> bool:
    return any(f.type.is_int128 if isinstance(f.type, Scalar) else _holds_int128(f.type._layout_)
               for f in lay.fields)


def refusal(sig: Signature) -> str | None:
    for i, t in enumerate((sig.restype, *sig.argtypes)):
        if isinstance(t, Scalar) and t.is_int128:
            # libffi (through 3.5) defines no 128-bit integer ffi_type.
            return "libffi has no __int128 type" if i == 0 else f"argument {i}: libffi has no __int128 type"
        if not isinstance(t, Scalar):
            reason = struct_refusal(t)
            if reason is not None:
                return reason if i == 0 else f"argument {i}: {reason}"
    return _r9_overflow_bug(sig) or _aapcs64_reference_on_stack_crash(sig) or x87_struct_return(sig)


def _libffi_version() -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in _core.LIBFFI_VERSION.split(".")[:2])
    except ValueError:
        return (0,)


def _r9_overflow_bug(sig: Signature) -> str | None:
    """libffi before 3.5 on x86-64 SysV (upstream issue #574, fixed by PR #848): ffi_call copies a
    whole struct of more than 8 bytes into the slot of the general register its
    first eightbyte goes to; when that is r9, the copy runs into xmm0's slot and
    clobbers an SSE argument already placed there.  Found by our differential
    tests; such signatures are refused rather than called wrongly."""
    if _core.PLAN_ABI != "sysv-x86_64" or _libffi_version() >= (3, 5):
        return None
    if all(isinstance(t, Scalar) for t in sig.argtypes):
        return None
    plan = build_plan(sig)   # the plan tier's classification, cached; this ABI's classifier
    if isinstance(plan, str):
        return None
    xmm0_used = False
    for m in plan.moves:
        if m.dst == gp_slot(5) and m.op == OP_COPY and m.src == 0 and sig.argtypes[m.arg]._size_ > 8 and xmm0_used:
            return (f"argument {m.arg + 1}: libffi {_core.LIBFFI_VERSION} passes a struct over 8 bytes starting "
                    f"in r9 wrongly when xmm0 holds an earlier argument (libffi issue #574, fixed upstream by PR #848)")
        xmm0_used |= m.dst == fp_slot(0)
    return None


#: Below this size a struct by reference beside stack arguments is called right (thousands of
#: generated signatures with small structs agree with the C side under the arm64 harness).
_AAPCS64_LARGE_REFERENCE = 4096


def _aapcs64_reference_on_stack_crash(sig: Signature) -> str | None:
    """libffi on AArch64 (seen with Debian's 3.4.4 under qemu-user): a call that passes a large
    composite by reference (AAPCS64 B.4) and also has arguments on the stack segfaults in ffi_call
    -- ten 60 kB structs by value (the ninth and tenth addresses go to the stack) crash, five (all
    in x0-x4) do not, whatever the thread's stack size; small structs beside stack arguments are
    called right.  Found by tests/test_big_frames.py under the arm64 harness; the cause inside
    libffi is not pinned down, so the refusal is drawn around what was seen.  The plan tier takes
    these signatures."""
    if _core.PLAN_ABI != "aapcs64" or all(isinstance(t, Scalar) for t in sig.argtypes):
        return None
    plan = build_plan(sig)   # the plan tier's classification, cached; this ABI's classifier
    if isinstance(plan, str) or plan.stack_size == 0:
        return None
    for m in plan.moves:
        if m.op == OP_REF and m.size >= _AAPCS64_LARGE_REFERENCE:
            return (f"argument {m.arg + 1}: libffi {_core.LIBFFI_VERSION} on AArch64 crashes passing a struct of "
                    f"{_AAPCS64_LARGE_REFERENCE} bytes or more by reference when arguments also go on the stack")
    return None


def x87_struct_return(sig: Signature) -> str | None:
    """A struct (or union) of one long double is returned in %st0 on x86-64 (psABI
    3.2.3, class X87; GCC does so), and libffi 3.4.4 reads it from memory instead -- the result
    is garbage and st0 stays pushed, breaking every later x87 operation of the thread (seen with
    tests/test_floats_ext.py).  Refused; the plan tier returns it right.  A callback's closure
    has the same fault the other way (it treats the result as MEMORY and never loads st0: the C
    caller read a NaN in our test): tiers/callback.py refuses it too."""
    ret = sig.restype
    if _core.PLAN_ABI != "sysv-x86_64" or isinstance(ret, Scalar) or ret._layout_.size > 16:
        return None
    if sysv_x86_64.aggregate_classes(ret) == [sysv_x86_64.X87, sysv_x86_64.X87UP]:
        return (f"libffi {_core.LIBFFI_VERSION} does not return {ret.__name__} (one long double: class X87, "
                "in st0) as x86-64 compilers do")
    return None


def platform_refusal() -> str | None:
    return None   # libffi runs everywhere fastffi builds


def prepare(sig: Signature, flags: int = 0) -> dict:
    """Arguments of _core.make_function specific to this tier."""
    ffi = tuple(None if isinstance(t, Scalar) else ffi_struct_type(t) for t in (sig.restype, *sig.argtypes))
    return {"ffi_structs": ffi}


def describe(sig: Signature, fn=None) -> list[str]:
    return ["libffi: ffi_cif prepared once; each call runs ffi_call"]
