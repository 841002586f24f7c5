"""A Function's vectorcall entry point, ``PyObject *(PyObject *fn, PyObject
*const *args, size_t nargsf, PyObject *kwnames)``, stated once over the ISA
operations of ``jit/isa.py``:

1. keywords and arity are checked (any failure goes to the ``reject``
   helper, which raises exactly what every tier raises);
2. each argument is unboxed into its 8-byte slot in our frame -- inline for
   exact ints that fit in one digit, exact floats, bytes, None, True/False --
   otherwise by the ``convert`` helper, which handles every other case and
   every error;
3. the closed-library check (after every conversion: one may close it);
4. the call is counted in flight on its library; the enter helper runs
   when release_gil/use_errno is set;
5. the slots are loaded into the argument registers the classifier chose,
   the target is called;
6. leave helper, buffer release (NULL instead when a callback passed to the
   call raised while C ran it: the release helper says so), the in-flight
   count dropped (the last call of a library closed meanwhile unloads it,
   through a helper), then the result is truncated to its declared width
   and boxed by the CPython function for its kind.

The code is laid end to end from blocks recorded once (jit.Recorder), each a
function of a few parameters of the shape: the entry checks, one block per
argument, the call with its result.  Each block carries its own failure
exits, so no branch crosses a block and a new shape is mostly the
concatenation of blocks emitted for earlier ones.

The inline int path reads the int layout ``JIT_RUNTIME`` describes
(``isa.Operations.load_compact_int``: 3.10-3.11's signed digit count, 3.12+'s
tag); ``fastffi.tiers.jit`` only emits where ``JIT_RUNTIME["object_layout"]``
is one of jit/layouts.py's.  No block touches a reference count: results are
boxed by CPython's own functions and None/True/False are only compared by
identity, so immortal objects (3.12+) need nothing here."""
from __future__ import annotations

from .assembly import Recorder, Shape, frame_of
from .isa import ZERO, Address, Extended, Field, Imm

#: Kinds narrower than a register: an argument is range-checked by extending
#: it back, a return is extended from its width (neither SysV nor AAPCS64
#: defines the bits above a narrow return).
_NARROW_ARGS = frozenset({"i8", "i16", "i32", "u8", "u16", "u32"})
_NARROW_RETURNS = _NARROW_ARGS | {"bool"}


def box_function(kind: str) -> str:
    """The JIT_RUNTIME entry that boxes a (widened) integer return of ``kind``."""
    return {"bool": "PyBool_FromLong", "i64": "PyLong_FromLongLong", "u64": "PyLong_FromUnsignedLongLong",
            "pointer": "PyLong_FromUnsignedLongLong"}.get(kind, "PyLong_FromLong")


def emitter(record: Recorder):
    """``emit(shape, rt) -> bytes`` for the ISA whose Operations ``record``
    records blocks of."""
    always_keep = record.assembler.ALWAYS_SAVES_TSTATE
    single_loads = record.assembler.SINGLE_LOADS
    tables = record.tables

    def emit(shape: Shape, rt: dict) -> bytes:
        """The entry point's code for ``shape``; ``rt`` is ``_core.JIT_RUNTIME``."""
        args = shape.args
        ret_save, bufs, frame = frame_of(shape, rt)
        keep = shape.bracket or always_keep   # whether the frame saves TSTATE's register
        # Where an f32 loads like an f64, the call's code depends on the
        # registers alone (fewer blocks).
        placements = (tuple([(arg.fp, arg.reg, arg.type.name == "f32") for arg in args]) if single_loads
                      else tuple([(arg.fp, arg.reg) for arg in args]))
        keys = [(_entry, len(args), frame, bufs, keep),
                *[(_argument, arg.type.name, i, bufs, frame, keep, arg.bytes_slow) for i, arg in enumerate(args)],
                (_call, placements, _MADE if shape.made_result else shape.ret.name, shape.bracket, keep,
                 ret_save, bufs, frame,
                 shape.vector_count if shape.variadic else None)]
        blocks = tables.get(id(rt)) or record.blocks_for(rt)
        return b"".join([blocks.get(key) or record.record(rt, key) for key in keys])

    return emit


def _entry(a, rt: dict, n: int, frame: int, bufs, keep: bool) -> None:
    """Frame, then keywords and arity; a failure goes to the reject helper.
    (The closed library is checked in the call block, after the arguments.)"""
    fn, args, nargsf, kwnames = a.GP_ARGS[:4]
    a.prologue(frame, keep)
    a.put(a.FN, fn)
    a.put(a.ARGS, args)
    # Keyword names: almost always NULL; an empty tuple is allowed too.
    a.branch_if_nonzero(kwnames, "kwnames")
    a.label("kwnames_ok")
    a.branch_if_nargs_is(nargsf, n, rt["vectorcall_nargs_mask_bit"], "accepted")
    a.label("reject")
    a.call(rt["reject"], a.FN, nargsf, kwnames)
    a.epilogue(frame, keep)
    a.label("kwnames")
    a.branch_if_zero_at(kwnames, rt["ob_size"], 8, "kwnames_ok")
    a.jump("reject")
    a.label("accepted")
    if bufs is not None:
        a.put(a.VALUE, Address(a.SP, bufs + rt["sizeof_BufferList"]))
        a.store(a.SP, bufs + rt["bufs_views"], a.VALUE)
        a.store(a.SP, bufs + rt["bufs_count"], ZERO, 4)


def _argument(a, rt: dict, kind: str, i: int, bufs, frame: int, keep: bool, bytes_slow: bool) -> None:
    """Argument ``i`` into its slot [SP + 8i]: the inline fast path, which
    ends by branching past the rest; then the convert helper, which handles
    every other case and raises every error (and applies the argument's
    checks); then this argument's failure exit (release what was acquired,
    return NULL).  ``bytes_slow``: a bytes object is left to the helper
    (_core.ARG_BYTES_SLOW: refused for a non-const pointer, size-checked for
    a typed one)."""
    slot = 8 * i
    a.put(a.OBJ, Field(a.ARGS, slot))
    _unbox(a, rt, kind, slot, bytes_slow)
    a.label("slow")
    a.call(rt["convert"], a.FN, Imm(i), Field(a.ARGS, slot), Address(a.SP, slot),
           ZERO if bufs is None else Address(a.SP, bufs))   # no pointer/string argument: never dereferenced
    a.branch_if_zero(a.RESULT, "done", 4)
    if bufs is not None:
        a.call(rt["release"], Address(a.SP, bufs))
    a.put(a.RESULT, ZERO)
    a.epilogue(frame, keep)
    a.label("done")


def _unbox(a, rt: dict, kind: str, slot: int, bytes_slow: bool = False) -> None:
    """Inline fast path for the object in OBJ into [SP + slot], ending with a
    branch to "done"; anything else goes on to "slow", which follows (and
    overwrites the slot).  Where the last check can end the path, the value
    is stored first and that check branches to "done": no extra branch on the
    fast path."""
    obj, value, tmp = a.OBJ, a.VALUE, a.TMP
    if kind in ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"):
        a.branch_unless_type(obj, rt["PyLong_Type"], rt["ob_type"], "slow")
        a.load_compact_int(obj, rt, "slow")   # one-digit ints, read as the layout stores them
        a.store(a.SP, slot, value)
        # In range iff extending the low bits of the kind gives the value back.
        if kind in _NARROW_ARGS:
            a.put(tmp, Extended(value, kind))
            a.branch_if_equal(tmp, value, "done")
        elif kind == "u64":
            a.branch_if_not_negative(value, "done")
        else:
            a.jump("done")
    elif kind in ("f64", "f32"):
        a.branch_unless_type(obj, rt["PyFloat_Type"], rt["ob_type"], "slow")
        if kind == "f64":
            a.put(value, Field(obj, rt["float_value"]))
            a.store(a.SP, slot, value)
            a.jump("done")
        else:
            # Round to f32; infinities and NaNs (including overflow) take the
            # slow path, which applies struct.pack("<f")'s exact rule.
            a.load_as_single(value, obj, rt["float_value"])
            a.store(a.SP, slot, value)
            a.branch_if_finite_single(value, "done")
    elif kind == "bool":
        a.unbox_bool(obj, rt["Py_True"], rt["Py_False"], "slow")
        a.store(a.SP, slot, value)
        a.jump("done")
    elif kind in ("pointer", "string") and bytes_slow:
        a.branch_unless_is(obj, rt["Py_None"], "slow")   # NULL; everything else is checked
        a.put(value, ZERO)
        a.store(a.SP, slot, value)
        a.jump("done")
    elif kind in ("pointer", "string"):
        a.branch_unless_type(obj, rt["PyBytes_Type"], rt["ob_type"], "notbytes")
        a.put(value, Address(obj, rt["bytes_data"]))   # immutable, kept alive by the caller
        a.jump("store")
        a.label("notbytes")
        a.branch_unless_is(obj, rt["Py_None"], "slow")
        a.put(value, ZERO)
        a.label("store")
        a.store(a.SP, slot, value)
        a.jump("done")


def _call(a, rt: dict, placements: tuple, ret: str, bracket: bool, keep: bool, ret_save: int, bufs,
          frame: int, vector_count: int | None = None) -> None:
    """The closed-library check, then each slot into the register the
    classifier gave it, the target (bracketed by enter/leave when asked),
    buffers released, the result boxed.

    The library is checked here, after the last argument is converted and
    before the call: a conversion may run Python code (``__index__``,
    ``__float__``, a buffer export) that closes it, and the target must not be
    called into an unloaded object.  The failure exit releases the buffers the
    arguments hold, as the argument blocks' own exits do.  A variadic target
    is told how many vector registers hold arguments (x86-64 %al)."""
    a.put(a.VALUE, Field(a.FN, rt["fn_closed"]))
    a.branch_if_zero_at(a.VALUE, 0, 1, "open")
    a.call(rt["closed"], a.FN, ZERO if bufs is None else Address(a.SP, bufs))   # releases, raises
    a.epilogue(frame, keep)
    a.label("open")
    # In flight from here (tiers/call.h's call_enter): a callback may close
    # the library while the target runs; its dlclose waits for count_out.
    a.put(a.TMP, Field(a.FN, rt["fn_inflight"]))
    a.count_in(a.TMP)
    if bracket:
        a.call(rt["enter"], a.FN)
        a.put(a.TSTATE, a.RESULT)
    for i, placement in enumerate(placements):
        a.load_argument(8 * i, *placement)
    if vector_count is not None:   # a variadic target (Shape.vector_count)
        a.set_vector_count(vector_count)
    a.call_field(a.FN, rt["fn_target"])
    if ret == "string" and bufs is not None:
        # The string may point into a str argument's copy the buffers hold
        # (strchr on a non-const char *): decoded before they are released.
        if bracket:
            a.save_result(ret_save)
            a.call(rt["leave"], a.FN, a.TSTATE)
            a.restore_result(ret_save)
        a.call(rt["box_release"], a.FN, a.RESULT, Address(a.SP, bufs))
        _leave(a, rt, frame, keep, None)
        return
    if bracket or bufs is not None:
        a.save_result(ret_save)
        if bracket:
            # errno is saved first thing in `leave`, before any other code runs.
            a.call(rt["leave"], a.FN, a.TSTATE)
        if bufs is not None:
            a.branch_if_zero_at(a.SP, bufs + rt["bufs_count"], 4, "released")
            a.call(rt["release"], Address(a.SP, bufs))
            # Nonzero: a callback passed to this call raised while C ran it;
            # its exception is set and is the call's (callbacks/scope.c).
            a.branch_if_zero(a.RESULT, "released", 4)
            a.put(a.TMP, Field(a.FN, rt["fn_inflight"]))
            a.count_out(a.TMP, "raised_last")
            a.put(a.RESULT, ZERO)
            a.epilogue(frame, keep)
            # The held exception stays set: the unload runs no Python.
            a.label("raised_last")
            a.call(rt["last_call"], a.FN)
            a.put(a.RESULT, ZERO)
            a.epilogue(frame, keep)
            a.label("released")
        a.restore_result(ret_save)
    _leave(a, rt, frame, keep, ret)


def _leave(a, rt: dict, frame: int, keep: bool, ret: str | None) -> None:
    """Out of flight, the result boxed (``ret``; None: already boxed), returned.
    The library was closed during the call and this was its last one: box
    the result first, keep it in ARGS (callee-saved, no longer needed), then
    let the helper dlclose."""
    a.put(a.TMP, Field(a.FN, rt["fn_inflight"]))
    a.count_out(a.TMP, "last")
    if ret is not None:
        _box(a, rt, ret)
    a.epilogue(frame, keep)
    a.label("last")
    if ret is not None:
        _box(a, rt, ret)
    a.put(a.ARGS, a.RESULT)
    a.call(rt["last_call"], a.FN)
    a.put(a.RESULT, a.ARGS)
    a.epilogue(frame, keep)


#: The result name of a pointer result boxed by the core's helper (Shape.made_result).
_MADE = "pointer:made"


def _box(a, rt: dict, ret: str) -> None:
    """Truncate the return register to the declared width and box it."""
    if ret == "void":
        a.call(rt["none"])
    elif ret in ("f64", "f32"):
        if ret == "f32":
            a.result_to_double()
        a.call(rt["PyFloat_FromDouble"])
    elif ret == "string" or ret == _MADE:
        # A str, or a typed pointer's Pointer: box_return reads the Function's flags.
        a.call(rt["box"], a.FN, a.RESULT)
    else:
        a.call(rt[box_function(ret)], Extended(a.RESULT, ret) if ret in _NARROW_RETURNS else a.RESULT)
