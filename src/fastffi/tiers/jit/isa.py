"""The operations the shared algorithms (``entry.py``, ``loop.py``) ask of an
instruction set: one interface, implemented by ``x86_64.Operations`` and
``aarch64.Operations`` on top of their assemblers.

An operation is named for what it does, not for an instruction; where the
ISAs need different sequences for it (a frame record or pushes, a flag-setting
idiom or a compare-and-branch), the difference stays inside the operation.

Values live in registers named by role, each an attribute of the
implementation: ``FN`` (the Function), ``ARGS`` (the vectorcall argument
array) and ``TSTATE`` (the enter helper's result) survive helper calls;
``OBJ`` (the argument being unboxed), ``VALUE`` and ``TMP`` are scratch;
``RESULT`` is the integer return register, ``SP`` the frame base and
``GP_ARGS`` the integer argument registers in order.  The batch loop's
``INDEX``, ``ROWS`` and ``TARGET`` survive the target's calls.

Operands of :meth:`Operations.put` and :meth:`Operations.call`: a register,
or one of the tuples below."""
from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Callable, NamedTuple


class Imm(NamedTuple):
    """An integer constant, moved in as an immediate."""
    value: int


class Field(NamedTuple):
    """The ``size`` bytes at [base + disp], zero-extended."""
    base: int
    disp: int
    size: int = 8


class Address(NamedTuple):
    """base + disp."""
    base: int
    disp: int


class Extended(NamedTuple):
    """``reg``'s low bits of ``kind``'s width, extended as the kind is signed
    (bool and the u* kinds zero-extend)."""
    reg: int
    kind: str


class _Zero(NamedTuple):
    """Zero by the ISA's zeroing idiom (xor of a register with itself, xzr)."""


ZERO = _Zero()


def _reads(src) -> int | None:
    """The register an operand reads, if any."""
    if src.__class__ is int:
        return src
    if src.__class__ is Extended:
        return src.reg
    return src.base if src.__class__ in (Field, Address) else None


def in_order(moves) -> list:
    """Moves (dst, src) that happen together, ordered so that none overwrites
    a register a later one still reads.  A helper's arguments need no swap
    (asserted)."""
    pending = list(moves)
    reads = [_reads(src) for _, src in pending]
    if not any(dst in reads for dst, _ in pending):
        return pending
    ordered = []
    while pending:
        for k, (dst, _) in enumerate(pending):
            if reads.count(dst) == (reads[k] == dst):   # no other pending move reads dst
                ordered.append(pending.pop(k))
                del reads[k]
                break
        else:
            raise AssertionError(f"the moves {pending} form a cycle")
    return ordered


def assembled_once(operation):
    """For an operation that places no label, whose code is then a function
    of the ISA and the operands alone: each distinct call is assembled once
    and its bytes reused (recording a new block stays cheap).  Operands are
    told apart by class too, since operand tuples of different kinds may
    compare equal."""
    cache: dict = {}

    @functools.wraps(operation)
    def replay(self, *operands):
        key = (self.__class__, operands, tuple([o.__class__ for o in operands]))
        code = cache.get(key)
        if code is None:
            start = len(self.code)
            operation(self, *operands)
            cache[key] = bytes(self.code[start:])
        else:
            self.code += code

    return replay


class Operations(ABC):
    """The interface: every abstract method is implemented per ISA (a class
    missing one cannot be instantiated); :meth:`call` is written once, on
    :meth:`put`."""

    GP_ARGS: tuple[int, ...]
    #: The registers the shared algorithms name (each ISA binds them: x86_64.py, aarch64.py).
    VALUE: int
    TMP: int
    #: The assembler's encoder (an annotation only: an operation of that name would shadow it).
    call_abs: Callable[[int], None]
    #: Whether the entry's frame saves TSTATE's register even without a bracket.
    ALWAYS_SAVES_TSTATE: bool
    #: Whether load_argument reads an f32 as the low half of its slot (the
    #: call's code then depends on which float arguments are f32).
    SINGLE_LOADS: bool

    @assembled_once
    def call(self, address: int, *args) -> None:
        """Call the helper at ``address`` with ``args`` (operands) as its
        integer arguments, in the C calling convention's order."""
        for dst, src in in_order(zip(self.GP_ARGS, args)):
            self.put(dst, src)
        self.call_abs(address)

    def load_compact_int(self, obj: int, rt: dict, label: str) -> None:
        """VALUE = the value of the exact int in obj when CPython stores it in
        one digit (|v| < 2**30), else branch to label; clobbers TMP.  The
        layout decides how (jit/layouts.py): 3.10-3.11 keep a signed digit
        count in ob_size, value = ob_size * digit[0] for ob_size in -1..1;
        3.12+ keep a tag, compact iff tag < long_compact_below, value =
        (1 - (tag & long_sign_mask)) * digit[0] (_PyLong_CompactValue)."""
        value, tmp = self.VALUE, self.TMP
        if "long_tag" in rt:
            self.put(value, Field(obj, rt["long_tag"]))
            self.branch_if_above(value, rt["long_compact_below"] - 1, label)
            self.put(tmp, Field(obj, rt["long_digit0"], 4))
            self.one_minus_masked(value, rt["long_sign_mask"])
        else:
            self.put(value, Field(obj, rt["ob_size"]))
            self.branch_if_outside(value, -1, 1, label)
            self.put(tmp, Field(obj, rt["long_digit0"], 4))
        self.multiply(value, tmp)

    # -- moves --
    @abstractmethod
    def put(self, dst: int, src) -> None:
        """dst = src (a register, Imm, Field, Address, Extended or ZERO); a
        register into itself is no instruction."""

    @abstractmethod
    def store(self, base: int, disp: int, src, size: int = 8) -> None:
        """[base + disp] = src: a register (8 bytes) or ZERO (4 bytes)."""

    @abstractmethod
    def multiply(self, dst: int, src: int) -> None:
        """dst *= src (the low 64 bits)."""

    @abstractmethod
    def one_minus_masked(self, reg: int, mask: int) -> None:
        """reg = 1 - (reg & mask), for a small mask of low bits (the sign of
        a 3.12+ int tag: 1, 0 or -1)."""

    @abstractmethod
    def increment(self, reg: int) -> None:
        """reg += 1."""

    @abstractmethod
    def count_in(self, ptr: int) -> None:
        """The 8-byte counter at [ptr] += 1 (a call in flight, tiers/call.h)."""

    @abstractmethod
    def count_out(self, ptr: int, label: str) -> None:
        """The 8-byte counter at [ptr] -= 1; go to label when it reaches 0.
        Touches no register but ``ptr`` and, where the ISA needs one, its
        own scratch: RESULT and the float return register are kept."""

    @abstractmethod
    def load_as_single(self, dst: int, base: int, disp: int) -> None:
        """The double at [base + disp] rounded to single precision (the
        current rounding mode), its 32 bits zero-extended into dst; clobbers
        the first float register."""

    @abstractmethod
    def result_to_double(self) -> None:
        """The single-precision float return value, widened in place to the
        double PyFloat_FromDouble takes (exact)."""

    # -- branches (to a label of the same block) --
    @abstractmethod
    def jump(self, label: str) -> None:
        """Go to label."""

    @abstractmethod
    def branch_if_zero(self, reg: int, label: str, size: int = 8) -> None:
        """If the low ``size`` bytes (4 or 8) of reg are zero."""

    @abstractmethod
    def branch_if_nonzero(self, reg: int, label: str) -> None:
        """If reg is not zero."""

    @abstractmethod
    def branch_if_zero_at(self, base: int, disp: int, size: int, label: str) -> None:
        """If the ``size`` bytes (1, 4 or 8) at [base + disp] are zero;
        clobbers VALUE."""

    @abstractmethod
    def branch_if_equal(self, a: int, b: int, label: str) -> None:
        """If a == b."""

    @abstractmethod
    def branch_if_not_equal(self, a: int, b: int, label: str) -> None:
        """If a != b."""

    @abstractmethod
    def branch_if_not_negative(self, reg: int, label: str) -> None:
        """If reg, as a signed 64-bit value, is >= 0."""

    @abstractmethod
    def branch_if_outside(self, reg: int, low: int, high: int, label: str) -> None:
        """Unless low <= reg <= high (signed, low <= 0); clobbers TMP."""

    @abstractmethod
    def branch_if_above(self, reg: int, limit: int, label: str) -> None:
        """If reg, unsigned, is above ``limit`` (0 <= limit < 256)."""

    @abstractmethod
    def branch_if_finite_single(self, reg: int, label: str) -> None:
        """If the single-precision bits in reg are neither an infinity nor a
        NaN (the exponent is not all ones); clobbers TMP."""

    @abstractmethod
    def branch_unless_type(self, obj: int, type_address: int, ob_type: int, label: str) -> None:
        """Unless the object in obj's type (at ob_type) is the one at
        ``type_address``, exactly; clobbers VALUE and TMP."""

    @abstractmethod
    def branch_unless_is(self, obj: int, address: int, label: str) -> None:
        """Unless obj is the object at ``address``; clobbers VALUE and TMP."""

    @abstractmethod
    def branch_if_nargs_is(self, nargsf: int, n: int, flag_bit: int, label: str) -> None:
        """If nargsf, its flag bit cleared (PyVectorcall_NARGS), is n;
        nargsf may be cleared in place."""

    @abstractmethod
    def unbox_bool(self, obj: int, true: int, false: int, label: str) -> None:
        """VALUE = 1 if obj is the object at ``true``, 0 if it is the one at
        ``false``; anything else branches to label.  Clobbers TMP."""

    # -- calls --
    @abstractmethod
    def call_field(self, base: int, disp: int) -> None:
        """Call the function whose address is at [base + disp]."""

    @abstractmethod
    def call_pointer(self, reg: int) -> None:
        """Call the function whose address is in reg."""

    def set_vector_count(self, n: int) -> None:
        """Before the target's call: tell it ``n`` vector registers hold
        arguments, where the ABI asks (x86-64 SysV's %al, psABI 3.5.7, read
        by variadic callees); AAPCS64 has no such register."""

    @abstractmethod
    def load_argument(self, disp: int, fp: bool, reg: int, single: bool = False) -> None:
        """The 8-byte slot at [SP + disp] into integer argument register
        GP_ARGS[reg], or float register ``reg``; ``single`` (an f32, whose
        bits are the slot's low half) is given only where SINGLE_LOADS."""

    @abstractmethod
    def save_result(self, disp: int) -> None:
        """The integer and the first float return registers to [SP + disp]
        and [SP + disp + 8]."""

    @abstractmethod
    def restore_result(self, disp: int) -> None:
        """The return registers back from where save_result put them."""

    # -- the entry's frame --
    @abstractmethod
    def prologue(self, frame: int, keep_tstate: bool) -> None:
        """Save what the code changes that the caller keeps (TSTATE's
        register only if ``keep_tstate``), then ``frame`` bytes below, SP
        16-byte aligned."""

    @abstractmethod
    def epilogue(self, frame: int, keep_tstate: bool) -> None:
        """Undo the prologue and return."""

    # -- callback thunks (jit/thunk.py) --
    #: The scratch register a thunk stub leaves its data word's address in:
    #: free at a call's entry (x86-64 %r10, psABI 3.2.3's static chain; AArch64
    #: x17, IP1, AAPCS64 6.1.1).
    THUNK_DATA: int
    #: Bytes that fill the gaps between stubs (never executed: a trap).
    FILL: bytes
    #: Bytes between the top of the prologue's frame and the caller's first
    #: stack argument (what the prologue saved, and a return address).
    THUNK_INCOMING: int

    @abstractmethod
    def spill_argument(self, disp: int, fp: bool, reg: int) -> None:
        """Integer argument register GP_ARGS[reg], or the whole float
        register ``reg``, to the 8-byte slot [SP + disp] (load_argument's
        inverse)."""

    @abstractmethod
    def branch_if_low_word_negative(self, base: int, label: str) -> None:
        """If the 4 bytes at [base] (the low half of a reference count),
        as an int32, are negative.  Clobbers VALUE."""

    @abstractmethod
    def decrement_branch_if_nonzero(self, base: int, label: str) -> None:
        """The 8 bytes at [base] -= 1 (a reference count); if the result is
        not zero, go to label.  Clobbers VALUE."""

    @abstractmethod
    def thunk_stub(self, word: int, label: str) -> None:
        """A callback's entry: the landing pad an indirect call needs
        (endbr64 / bti c), THUNK_DATA = ``word`` (an address), then on to
        ``label`` (the shared body, in the same code).  Returns the offset
        in the code of ``word``'s 8 little-endian bytes (a copy of the code
        for other words patches them there)."""

    # -- the batch loop --
    @abstractmethod
    def loop_prologue(self, nargs: int) -> None:
        """Save what the loop changes that the caller keeps and take its
        parameters (target, columns, strides, out, out stride, rows) into
        registers that survive the target's calls."""

    @abstractmethod
    def loop_epilogue(self, nargs: int) -> None:
        """Undo the loop's prologue and return."""

    @abstractmethod
    def item_address(self, column: int) -> int:
        """The address of row INDEX's item of ``column`` into a scratch
        register, which is returned."""

    @abstractmethod
    def output_address(self) -> int:
        """The address of row INDEX's output item into a scratch register,
        which is returned."""

    @abstractmethod
    def load_column(self, arg, src: int) -> None:
        """An item of ``arg``'s kind at [src] into its argument register,
        extended as the entry's slots are."""

    @abstractmethod
    def store_result(self, kind: str, dst: int) -> None:
        """The return register at [dst], truncated to ``kind``'s width."""
