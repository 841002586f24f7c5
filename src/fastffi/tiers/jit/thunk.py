"""The ``jit`` callback mechanism: a per-signature thunk that boxes the
argument registers straight into vectorcall arguments, stated once over the
ISA operations of ``jit/isa.py`` and emitted by the JIT tier's machinery
(the code lock, the recorded-code install into a sealed W^X region).

Code is shared per call shape (``ThunkShape``: the boxed kind and register of
each argument, the result kind).  A shape's code is a *block* (_core/callbacks/
thunk.c): the body, then ``STUBS`` stubs.  Stub i sets ``THUNK_DATA`` to the
address of data word i -- ordinary read-write memory of the block, never
executable -- and jumps to the body, which reads the callback's target (and
how to call its func) from it.  A callback's address is its stub, so creating one writes a data word and
no code: a sealed page is never written again, and a per-callback prologue
would need a fresh mapping per callback.

The body, in order:

1. the argument registers are spilled to their 8-byte slots (the helpers it
   calls clobber them);
2. ``thunk_enter(target, &state)``: errno saved, the GIL held by this
   thread (taken when it is not: a GIL-released call, a thread C created),
   the callback live, recursion counted -- else the generic dispatcher
   ``callback_invoke`` runs with an argp array pointing at the slots, which
   is right for every case (retired callbacks, the recursion limit,
   interpreter finalization);
3. each argument boxed by the CPython function for its kind, a narrow integer
   extended from its width first (the bits above it in the register are
   unspecified: psABI 3.2.3, AAPCS64 6.8.2);
4. func called by vectorcall (the data word says how: PyObject_Vectorcall,
   or a Python function's own vectorcall), the boxed arguments released;
5. the result unboxed inline for the cases the function entry unboxes inline
   (jit/entry.py's ``_unbox``: one-digit exact ints in range, exact floats,
   True/False, None for a pointer), anything else -- and an exception -- by
   ``thunk_result``, which applies callback.c's conversion and error rules;
6. ``thunk_leave``: recursion, the Callback's reference, the GIL if
   thunk_enter took it, errno; the result
   into rax/xmm0 (x0/d0)."""
from __future__ import annotations

import struct
import weakref
from typing import NamedTuple

from ... import _core
from ...abi import FP, FP_STRIDE, GP, STACK
from ...model.scalars import Scalar
from ...model.signature import Signature
from .. import plan as tier_plan
from . import InstallRefused, _code_lock, _emitted, _install, emitter, platform_refusal as jit_platform_refusal
from .entry import _box, _unbox, box_function
from .isa import ZERO, Address, Field, Imm

#: Stubs per block (THUNK_STUBS in _core/callbacks/thunk.c).
STUBS = _core.THUNK_RUNTIME["thunk_stubs"]
#: Bytes from one stub to the next (each starts aligned to this).
STUB_SIZE = 32
_RT = {**_core.JIT_RUNTIME, **_core.THUNK_RUNTIME}
_KIND_NAMES = {code: name for name, (code, _size, _align) in _core.KINDS.items()}
_FLOATS = ("f32", "f64")
_pack_address = struct.Struct("<Q").pack_into
_WIDE = ("i64", "u64", "pointer")   # boxed from the whole register


class ThunkArg(NamedTuple):
    kind: str       # as boxed for func: a non-const ``char *`` is "pointer"
    fp: bool        # passed in a floating-point/vector register
    reg: int        # index within its register class
    stack: int = -1  # >= 0: passed on the stack, at this offset from the first stack argument

    def describe(self) -> str:
        return f"{self.kind}->{f'stack+{self.stack}' if self.stack >= 0 else ('fp' if self.fp else 'gp')}" + (
            "" if self.stack >= 0 else str(self.reg))


class ThunkShape(NamedTuple):
    args: tuple[ThunkArg, ...]
    ret: str

    def describe(self) -> str:
        return f"({', '.join(a.describe() for a in self.args)}) -> {self.ret}"


class Frame(NamedTuple):
    """The body's frame: the spilled argument slots from 0, the boxed
    arguments (or the generic path's argp array) at ``boxed``, the result
    image (8 bytes) at ``ret``, func's return value at ``value`` and what
    thunk_enter keeps for thunk_leave (a ThunkState) at ``state``; ``size``
    rounded to 16."""
    boxed: int
    ret: int
    value: int
    state: int
    size: int


def frame_of(n: int, rt: dict) -> Frame:
    state = 16 * n + 16
    return Frame(8 * n, 16 * n, 16 * n + 8, state, (state + rt["sizeof_ThunkState"] + 15) & ~15)


class Block(NamedTuple):
    code: bytes
    first: int          # offset of stub 0
    body: int           # bytes of the body
    fields: tuple       # per stub, the offset of the 8-byte address of its data word


def emit_block(a, rt: dict, shape: ThunkShape, words: int) -> Block:
    """The code of a block whose stub i reads data word i of ``words``;
    ``a`` is an ISA's Operations, ``rt`` the JIT and thunk runtimes
    together."""
    n = len(shape.args)
    f = frame_of(n, rt)
    a.label("body")
    a.prologue(f.size, True)
    for i, arg in enumerate(shape.args):
        if arg.stack >= 0:   # the caller's 8-byte stack slot (psABI 3.2.3, AAPCS64 6.8.2 C.16)
            a.put(a.VALUE, Field(a.SP, f.size + a.THUNK_INCOMING + arg.stack))
            a.store(a.SP, 8 * i, a.VALUE)
        else:
            a.spill_argument(8 * i, arg.fp, arg.reg)
    a.put(a.ARGS, Field(a.THUNK_DATA, 0))            # the CallbackTarget, kept across calls
    a.put(a.TSTATE, Field(a.THUNK_DATA, rt["word_call"]))   # how func is called, kept too
    a.call(rt["thunk_enter"], a.ARGS, Address(a.SP, f.state))
    a.branch_if_zero(a.RESULT, "generic")
    a.put(a.FN, a.RESULT)                           # the Callback, referenced
    for i, arg in enumerate(shape.args):
        _box_argument(a, rt, arg, 8 * i)
        a.store(a.SP, f.boxed + 8 * i, a.RESULT)
        a.branch_if_zero(a.RESULT, f"boxfail{i}")
    for dst, src in zip(a.GP_ARGS, (Field(a.FN, rt["cb_func"]), Address(a.SP, f.boxed), Imm(n), ZERO)):
        a.put(dst, src)
    a.call_pointer(a.TSTATE)
    a.store(a.SP, f.value, a.RESULT)
    for i in range(n):
        _release(a, rt, f.boxed + 8 * i, f"released{i}")
    a.put(a.OBJ, Field(a.SP, f.value))
    a.branch_if_zero(a.OBJ, "raised")
    if shape.ret != "void":
        # Pointers take only None inline (bytes_slow): a str or bytes result
        # is refused by the full conversion (its memory dies with it).
        _unbox(a, rt, shape.ret, f.ret, bytes_slow=True)
        a.label("slow")
        a.call(rt["thunk_result"], a.FN, a.ARGS, Field(a.SP, f.value), Address(a.SP, f.ret))
        a.label("done")
    _release(a, rt, f.value, "released")
    a.label("leave")
    a.call(rt["thunk_leave"], a.FN, Address(a.SP, f.state))
    a.label("return")
    if shape.ret in _FLOATS:
        a.load_argument(f.ret, True, 0, shape.ret == "f32" and a.SINGLE_LOADS)
    elif shape.ret != "void":
        a.put(a.RESULT, Field(a.SP, f.ret))
    a.epilogue(f.size, True)

    # Off the straight line.
    a.label("raised")
    a.call(rt["thunk_result"], a.FN, a.ARGS, ZERO, Address(a.SP, f.ret))
    a.jump("leave")
    for i in range(n):
        a.label(f"boxfail{i}")
        a.call(rt["thunk_box_failed"], a.FN, a.ARGS, Address(a.SP, f.boxed), Imm(i), Address(a.SP, f.ret))
        a.jump("leave")
    a.label("generic")
    for i in range(n):
        a.put(a.VALUE, Address(a.SP, 8 * i))
        a.store(a.SP, f.boxed + 8 * i, a.VALUE)
    a.call(rt["thunk_generic"], a.ARGS, Address(a.SP, f.boxed), Address(a.SP, f.ret))
    a.jump("return")

    body = len(a.code)
    first = body + -body % STUB_SIZE
    fields = []
    for i in range(STUBS):
        a.code += a.FILL * ((first + i * STUB_SIZE - len(a.code)) // len(a.FILL))
        fields.append(a.thunk_stub(words + rt["sizeof_ThunkWord"] * i, "body"))
        if len(a.code) - (first + i * STUB_SIZE) > STUB_SIZE:
            raise AssertionError(f"a {a.__class__.__module__} thunk stub is longer than {STUB_SIZE} bytes")
    return Block(a.finish(), first, body, tuple(fields))


def _relocated(block: Block, words: int, word_size: int) -> bytes:
    """``block`` (emitted for data words at 0) for the data words at ``words``:
    only the stubs' address fields differ (every branch is relative)."""
    code = bytearray(block.code)
    for i, at in enumerate(block.fields):
        _pack_address(code, at, words + word_size * i)
    return bytes(code)


def _release(a, rt: dict, disp: int, label: str) -> None:
    """Py_DECREF of the object at [SP + disp] (never NULL here), inline: the
    count decremented, the object deallocated at 0.  Where objects can be
    immortal (3.12+, PEP 683: the same release as the int tag of
    jit/layouts.py) an immortal one is left alone, as Py_DECREF does: on
    LP64 it is one whose count's low 32 bits are negative as an int32
    (_Py_IsImmortal, 3.12-3.14)."""
    a.put(a.OBJ, Field(a.SP, disp))
    if "long_tag" in rt:
        a.branch_if_low_word_negative(a.OBJ, label)
    a.decrement_branch_if_nonzero(a.OBJ, label)
    a.call(rt["dealloc"], a.OBJ)
    a.label(label)


def _box_argument(a, rt: dict, arg: ThunkArg, disp: int) -> None:
    """The spilled argument at [SP + disp] as func receives it, into RESULT
    (NULL with an exception set when boxing failed): as the function entry
    boxes a return value of that kind (jit/entry.py's _box), except strings."""
    if arg.kind == "string":
        a.call(rt["thunk_box_string"], Field(a.SP, disp))
        return
    if arg.fp:
        a.load_argument(disp, True, 0, arg.kind == "f32" and a.SINGLE_LOADS)
    elif arg.kind in _WIDE:
        a.call(rt[box_function(arg.kind)], Field(a.SP, disp))
        return
    else:
        a.put(a.RESULT, Field(a.SP, disp))
    _box(a, rt, arg.kind)


# ---- the mechanism (tiers/callback.py) ----

#: Why installing a block was refused, once it was (the probe can allow
#: executable memory that a later mapping is refused): jit callbacks are then
#: refused for the rest of the process.
_install_refused: str | None = None


def platform_refusal() -> str | None:
    if _install_refused is not None:
        return _install_refused
    reason = jit_platform_refusal()
    if reason is None and not hasattr(emitter(), "Operations"):
        reason = f"the {emitter().NAME} emitter has no callback thunks"
    return reason


def signature_refusal(sig: Signature) -> str | None:
    """Scalars only (structs by value go to the pool or libffi)."""
    for i, t in enumerate((sig.restype, *sig.argtypes)):
        if t.__class__ is not Scalar:
            where = "the result" if i == 0 else f"argument {i}"
            return f"{where} is a struct by value (the callback thunk takes scalars only)"
        if t.is_int128:   # the thunk boxes one 8-byte register per argument
            where = "the result" if i == 0 else f"argument {i}"
            return f"{where} is {t.name} (the callback thunk boxes 8-byte registers only; the plan mechanism takes it)"
        if t.is_wide:   # c64/c128/longdouble: not one 8-byte register, and st0 / a whole q for longdouble
            where = "the result" if i == 0 else f"argument {i}"
            return (f"{where} is {t.name} (the callback thunk boxes 8-byte registers only; "
                    "the libffi mechanism takes it)")
        if t.name == "wstring":   # the thunk has no wide-string boxing
            where = "the result" if i == 0 else f"argument {i}"
            return f"{where} is wstring (the callback thunk boxes no wide strings; the plan mechanism takes it)"
    return None


#: (Signature.call_key(), argkinds) -> ThunkShape; bounded, holding no class.
_shapes: dict = {}


def shape_of(sig: Signature, argkinds: bytes) -> ThunkShape:
    """Each argument where the plan tier's classifier places it (the caller's
    plan read in reverse); kinds as the callback boxes them."""
    key = (sig.call_key(), argkinds)
    shape = _shapes.get(key)
    if shape is None:
        if len(_shapes) >= 4096:
            _shapes.clear()
        shape = _shapes[key] = _shape_of(sig, argkinds)
    return shape


def _shape_of(sig: Signature, argkinds: bytes) -> ThunkShape:
    args = []
    for k, move in zip(argkinds, tier_plan.plan_of(sig).moves):
        if move.dst >= STACK:
            kind = _KIND_NAMES[k]
            args.append(ThunkArg(kind, kind in _FLOATS, -1, move.dst - STACK))
        elif move.dst >= FP:
            args.append(ThunkArg(_KIND_NAMES[k], True, (move.dst - FP) // FP_STRIDE))
        else:
            args.append(ThunkArg(_KIND_NAMES[k], False, (move.dst - GP) // 8))
    ret = sig.restype.key.name if isinstance(sig.restype, Scalar) else "void"
    return ThunkShape(tuple(args), ret)


#: ThunkShape -> weak references to its blocks, the one stubs are taken from last.
_blocks: dict = {}
#: ThunkShape -> its Block emitted for data words at 0: each new block of the
#: shape is a copy with the stubs' addresses patched.
_templates: dict = {}


def _block_for(shape: ThunkShape, name: str):
    """A block of ``shape`` with a free stub: the last one used, another
    with a stub given back, or a new one emitted and installed now."""
    refs = _blocks.setdefault(shape, [])
    block = refs[-1]() if refs else None
    if block is not None and block.free:
        return block
    live = [r for r in refs if r() is not None]
    refs[:] = live
    for k, ref in enumerate(live):
        block = ref()
        if block is not None and block.free:
            refs.append(refs.pop(k))
            return block
    template = _templates.get(shape)
    if template is None:
        template = _templates[shape] = emit_block(emitter().Operations(), _RT, shape, 0)
    block = _core._ThunkBlock()
    code = _relocated(template, block.words, _RT["sizeof_ThunkWord"])
    try:
        region = _install([("thunk", shape, block.words)], [_emitted(code)], f"callback {name} {shape.describe()}")
    except InstallRefused as e:
        global _install_refused
        _install_refused = str(e)
        raise
    block.install(region, template.first, STUB_SIZE)
    refs.append(weakref.ref(block))
    return block


class BlockSource:
    """spec.code of a jit callback: called by thunk_prepare (with the GIL),
    it gives a block of the shape with a free stub.  One spec may serve many
    callbacks (tiers/callback.py's temporary_maker), so the block is taken at
    each creation, not when the spec is made."""

    __slots__ = ("shape", "name")

    def __init__(self, shape: ThunkShape, name: str):
        self.shape, self.name = shape, name

    def __call__(self):
        with _code_lock:   # jit._install's cache is kept under it
            return _block_for(self.shape, self.name)


def prepare(sig: Signature, argkinds: bytes) -> dict:
    """The spec fields of a jit callback.  The shape's first block is made
    now, so a refusal of executable memory (InstallRefused) is seen here."""
    source = BlockSource(shape_of(sig, argkinds), sig.name)
    source()
    return {"code": source, "entry": 0}


def describe(sig: Signature, argkinds: bytes, cb) -> list[str]:
    """explain()'s lines for a jit callback."""
    shape = shape_of(sig, argkinds)
    region = None
    for ref in _blocks.get(shape, ()):
        block = ref()
        r = block.region if block is not None else None
        if r is not None and r.address <= cb.address < r.address + r.used:
            region = r
    where = ""
    if region is not None:
        where = (f": a {STUB_SIZE}-byte stub at 0x{cb.address:x} (one of {STUBS} in a {region.mapped}-byte "
                 f"read+execute mapping) jumping to a {_templates[shape].body}-byte body shared by every callback "
                 f"of the shape {shape.describe()}")
    return [f"jit ({emitter().NAME}){where}",
            "  on any thread (the GIL taken when the calling thread does not hold it), the arguments are boxed "
            "straight into vectorcall arguments; a closed callback, the recursion limit or interpreter "
            "finalization goes to the generic dispatcher",
            "  registers as planned:"] + tier_plan.describe(sig)[1:]


__all__ = ["Block", "InstallRefused", "STUBS", "STUB_SIZE", "ThunkShape", "describe", "emit_block", "platform_refusal",
           "prepare", "shape_of", "signature_refusal"]
