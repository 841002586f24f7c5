"""The JIT's ISA interface (fastffi/jit/isa.py), which the shared algorithms
(jit/entry.py, jit/loop.py) are written over: every emitter implements the
same operations with the same parameters and names the same register roles,
and the ordering of a helper's arguments is right where the ABIs differ.
What the operations emit is checked instruction by instruction in
test_jit.py (x86-64) and test_jit_aarch64_encoding.py (AArch64)."""
from __future__ import annotations

import inspect

import pytest

from fastffi.tiers.jit import aarch64, isa, x86_64
from fastffi.tiers.jit.isa import ZERO, Extended, Field, Imm, in_order

EMITTERS = [x86_64, aarch64]
OPERATIONS = sorted(isa.Operations.__abstractmethods__)
KEPT = ("FN", "ARGS", "TSTATE")            # across helper calls
LOOP_KEPT = ("INDEX", "ROWS", "TARGET")    # across the target's calls
SCRATCH = ("VALUE", "TMP")


def _public(cls) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("_")}


@pytest.mark.parametrize("emitter", EMITTERS, ids=lambda m: m.NAME)
def test_every_operation_has_the_interface_parameters(emitter):
    emitter.Operations()   # an operation left abstract raises TypeError here
    for name in OPERATIONS:
        ours = inspect.signature(getattr(emitter.Operations, name)).parameters
        interface = inspect.signature(getattr(isa.Operations, name)).parameters
        assert list(ours) == list(interface), name
        assert [p.default for p in ours.values()] == [p.default for p in interface.values()], name


@pytest.mark.parametrize("emitter", EMITTERS, ids=lambda m: m.NAME)
def test_no_operation_shadows_an_encoder(emitter):
    """The operations are built from the assembler's encoders: an operation
    of the same name as an encoder would replace it under their feet."""
    assembler = emitter.Operations.__bases__[0]   # class Operations(<assembler>, isa.Operations)
    assert _public(assembler) & _public(isa.Operations) == set()


@pytest.mark.parametrize("emitter", EMITTERS, ids=lambda m: m.NAME)
def test_register_roles(emitter):
    ops = emitter.Operations
    assert len({getattr(ops, r) for r in KEPT + SCRATCH}) == len(KEPT + SCRATCH)
    assert len({getattr(ops, r) for r in LOOP_KEPT}) == len(LOOP_KEPT)
    # The vectorcall parameters (fn, args, nargsf, kwnames) arrive in the
    # first four integer argument registers, which the kept values are not.
    assert not {getattr(ops, r) for r in KEPT + LOOP_KEPT} & set(ops.GP_ARGS[:4])
    assert isinstance(ops.ALWAYS_SAVES_TSTATE, bool) and isinstance(ops.SINGLE_LOADS, bool)


def test_helper_arguments_in_order():
    # AArch64 boxes a string result with (fn, x0) in (x0, x1): x0 is read first.
    assert list(in_order([(0, 19), (1, 0)])) == [(1, 0), (0, 19)]
    # x86-64's reject: (rbx, rdx, rcx) into (rdi, rsi, rdx) as given.
    rdi, rsi, rdx, rcx, rbx = 7, 6, 2, 1, 3
    assert list(in_order([(rdi, rbx), (rsi, rdx), (rdx, rcx)])) == [(rdi, rbx), (rsi, rdx), (rdx, rcx)]
    # A base register is read too; an immediate reads none.
    assert list(in_order([(0, 5), (1, Field(0, 8))])) == [(1, Field(0, 8)), (0, 5)]
    assert list(in_order([(0, 5), (1, Imm(0)), (2, ZERO)])) == [(0, 5), (1, Imm(0)), (2, ZERO)]
    # A move that reads its own destination is no conflict.
    assert list(in_order([(0, 0), (1, Extended(0, "i8"))])) == [(1, Extended(0, "i8")), (0, 0)]
    with pytest.raises(AssertionError, match="cycle"):
        list(in_order([(0, 1), (1, 0)]))


@pytest.mark.parametrize("emitter", EMITTERS, ids=lambda m: m.NAME)
def test_put_of_a_register_into_itself_is_no_instruction(emitter):
    """AArch64 boxes an i64 from x0 in x0: nothing to move."""
    a = emitter.Operations()
    a.put(a.RESULT, a.RESULT)
    assert a.code == b""
    a.put(a.TMP, Extended(a.TMP, "u32"))   # an extension always is one
    assert a.code != b""
