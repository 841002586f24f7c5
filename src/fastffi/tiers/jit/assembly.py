"""The JIT tier's emitters: per-signature machine code for a Function's whole
call path.  The algorithms are stated once -- ``entry.py`` (the vectorcall
entry point) and ``loop.py`` (the batch loop of ``fn.map``) -- over the ISA
operations of ``isa.py``; one module per ABI holds its assembler and those
operations, and exposes the same small interface:

* ``NAME``: the plan ABI it serves (``fastffi.abi``);
* ``LIMITS``: (integer-class, float-class) argument registers it handles;
* ``emit(shape, runtime) -> bytes``: the code of a vectorcall entry point,
  laid end to end from blocks recorded once (:class:`Recorder`);
* ``emit_loop(shape, runtime) -> bytes``: the batch loop of ``fn.map``.

A :class:`Shape` is everything the code depends on -- argument kinds and the
register each lands in (taken from the plan tier's classification: the ABI is
decided once, in one place), the return kind, and whether the GIL/errno
bracket is needed.  The code reads the target address and closed flag from
the Function it is called with, so functions of the same shape share one
piece of sealed code (``fastffi.tiers.jit``)."""
from __future__ import annotations

from typing import Callable, NamedTuple

from ...model.scalars import Scalar


# NamedTuples: made and hashed at every function creation, so they must be cheap.
class Arg(NamedTuple):
    type: Scalar
    fp: bool        # passed in a floating-point/vector register
    reg: int        # index within its register class
    # A pointer/string argument whose bytes objects take the slow path (refused
    # for a non-const pointer, size-checked against a typed pointee:
    # _core.ARG_BYTES_SLOW, tiers/checks.py); decided per signature.
    bytes_slow: bool = False


class Shape(NamedTuple):
    args: tuple[Arg, ...]
    ret: Scalar     # VOID included
    bracket: bool   # release_gil or use_errno: call the enter/leave helpers
    nbufargs: int   # pointer/string arguments (buffers a slow path may acquire)
    variadic: bool = False   # a variadic target: the call says how many vector registers it fills
    #: the pointer result is made an object by the Function's result_maker (a
    #: typed pointer, model/typed_pointers.py): boxed by the core's helper
    made_result: bool = False

    @property
    def vector_count(self) -> int:
        """How many vector registers the arguments fill (x86-64 %al for a
        variadic target, psABI 3.5.7): they are assigned in order, so the
        highest used plus one."""
        return max([a.reg + 1 for a in self.args if a.fp], default=0)

    def describe(self) -> str:
        regs = ", ".join(f"{a.type.name}->{'fp' if a.fp else 'gp'}{a.reg}" for a in self.args)
        return f"({regs}) -> {self.ret.name}{' +bracket' if self.bracket else ''}"


class Frame(NamedTuple):
    """The entry point's frame, the same on every ABI: an 8-byte slot per
    argument from offset 0, the saved return registers at ``ret_save``, then
    (when a pointer/string argument may acquire a buffer) the BufferList at
    ``bufs`` and its Py_buffer array; ``size`` is rounded to 16."""
    ret_save: int
    bufs: int | None
    size: int


def frame_of(shape: Shape, rt: dict) -> Frame:
    ret_save = 8 * len(shape.args)
    size = ret_save + 16 + rt["sizeof_BufferList"] + rt["sizeof_Py_buffer"] * shape.nbufargs
    return Frame(ret_save, ret_save + 16 if shape.nbufargs else None, (size + 15) & ~15)


class Labels:
    """Forward branches are emitted with a zero displacement and patched once
    every label is placed (no counting by hand)."""

    def __init__(self, code: bytearray):
        self.code = code
        self.at: dict[str, int] = {}
        self.fixups: list[tuple[int, str, int, Callable[[bytearray, int, int], None]]] = []

    def place(self, name: str) -> None:
        assert name not in self.at, name
        self.at[name] = len(self.code)

    def refer(self, field_offset: int, name: str, base: int, patch) -> None:
        """Record that the field at ``field_offset`` encodes ``name`` relative to
        ``base``; ``patch(code, field_offset, delta)`` writes it."""
        self.fixups.append((field_offset, name, base, patch))

    def resolve(self) -> None:
        for field, name, base, patch in self.fixups:
            if name not in self.at:
                raise AssertionError(f"branch to unplaced label {name!r}")
            patch(self.code, field, self.at[name] - base)


class Recorder:
    """Blocks of code, each a pure function of its builder and parameters,
    recorded once and replayed: a new shape is laid end to end from the
    blocks it shares with shapes emitted before, so creation does little in
    Python.  A block branches only within itself (it carries its own failure
    exits), so replaying it is copying its bytes.

    ``blocks_for(rt)`` maps each key ``(build, *params)`` recorded so far to
    the code that ``build(asm, rt, *params)`` assembles; ``record(rt, key)``
    records one more.  Blocks embed the runtime's addresses, so each runtime
    table gets its own (and is kept alive, so its id stays its own).  The
    number of blocks is bounded by the parameters' ranges (kinds, argument
    positions, frame sizes); ``fastffi.tiers.jit`` emits under its code lock."""

    def __init__(self, assembler):
        self.assembler = assembler
        self.tables: dict = {}
        self.runtimes: dict = {}

    def blocks_for(self, rt: dict) -> dict:
        table = self.tables.get(id(rt))
        if table is None:
            table = self.tables[id(rt)] = {}
            self.runtimes[id(rt)] = rt
        return table

    def record(self, rt: dict, key: tuple) -> bytes:
        asm = self.assembler()
        key[0](asm, rt, *key[1:])
        code = self.blocks_for(rt)[key] = asm.finish()
        return code
