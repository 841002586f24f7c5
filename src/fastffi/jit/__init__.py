"""The JIT tier's emitters: per-signature machine code for a Function's whole
call path.  One module per ABI, the same small interface:

* ``NAME``: the plan ABI it serves (``fastffi.abi``);
* ``limits``: (integer-class, float-class) argument registers it handles;
* ``emit(shape, runtime) -> bytes``: the code of a vectorcall entry point.

A :class:`Shape` is everything the code depends on -- argument kinds and the
register each lands in (taken from the plan tier's classification: the ABI is
decided once, in one place), the return kind, and whether the GIL/errno
bracket is needed.  The code reads the target address and closed flag from
the Function it is called with, so functions of the same shape share one
piece of sealed code (``fastffi.tier_jit``)."""
from __future__ import annotations

from dataclasses import dataclass

from ..types import Scalar


@dataclass(frozen=True)
class Arg:
    type: Scalar
    fp: bool        # passed in a floating-point/vector register
    reg: int        # index within its register class


@dataclass(frozen=True)
class Shape:
    args: tuple[Arg, ...]
    ret: Scalar     # VOID included
    bracket: bool   # release_gil or use_errno: call the enter/leave helpers
    nbufargs: int   # pointer/string arguments (buffers a slow path may acquire)

    def describe(self) -> str:
        regs = ", ".join(f"{a.type.name}->{'fp' if a.fp else 'gp'}{a.reg}" for a in self.args)
        return f"({regs}) -> {self.ret.name}{' +bracket' if self.bracket else ''}"


class Labels:
    """Forward branches are emitted with a zero displacement and patched once
    every label is placed (no counting by hand)."""

    def __init__(self, code: bytearray):
        self.code = code
        self.at: dict[str, int] = {}
        self.fixups: list[tuple[int, str, int, object]] = []

    def place(self, name: str) -> None:
        assert name not in self.at, name
        self.at[name] = len(self.code)

    def refer(self, field_offset: int, name: str, base: int, patch) -> None:
        """Record that the field at ``field_offset`` encodes ``name`` relative to
        ``base``; ``patch(code, field_offset, delta)`` writes it."""
        self.fixups.append((field_offset, name, base, patch))

    def splice(self, offset: int, recorded: "Labels") -> None:
        """Take over the labels and branches of code recorded elsewhere and
        appended at ``offset``: branches between its own labels are already
        encoded; the others are patched with the rest."""
        for name, at in recorded.at.items():
            self.place_at(name, offset + at)
        for field, name, base, patch in recorded.fixups:
            if name not in recorded.at:
                self.fixups.append((offset + field, name, offset + base, patch))

    def place_at(self, name: str, offset: int) -> None:
        assert name not in self.at, name
        self.at[name] = offset

    def resolve_local(self) -> None:
        """Patch the branches whose labels are placed (a recorded block)."""
        for field, name, base, patch in self.fixups:
            if name in self.at:
                patch(self.code, field, self.at[name] - base)

    def resolve(self) -> None:
        for field, name, base, patch in self.fixups:
            if name not in self.at:
                raise AssertionError(f"branch to unplaced label {name!r}")
            patch(self.code, field, self.at[name] - base)
