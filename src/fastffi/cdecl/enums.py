"""Enumerations: the values of their constants, and the type they make.

C11 6.7.2.2 gives enumeration constants type ``int`` and leaves the enum's own
type to the compiler.  GCC and Clang on LP64 Linux take ``unsigned int`` when
no value is negative and ``int`` otherwise, widening to 64 bits when a value
does not fit 32.  fastffi keeps ``i32`` for every enum whose values fit
``int`` (the enumerators' own type; the callee reads the same 32 bits) and
follows the compiler beyond: ``u32`` up to 2**32-1, then ``i64``/``u64``.
tests/cdecl/test_enums.py checks sizes and signedness against the compiler."""
from __future__ import annotations

import re

from pycparser import c_ast

from ..errors import SignatureError
from ..model.namespace import Namespace
from ..model.scalars import SCALARS, Scalar

_INT_SUFFIX = re.compile(r"[uUlL]+$")

def _divide(a: int, b: int) -> int:
    q = abs(a) // abs(b)   # C truncates toward zero (C11 6.5.5p6)
    return q if (a < 0) == (b < 0) else -q


_BINARY = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": _divide, "%": lambda a, b: a - b * _divide(a, b),
    "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b,
    "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
}
_UNARY = {"-": lambda a: -a, "+": lambda a: a, "~": lambda a: ~a, "!": lambda a: int(not a)}


def enum_type(node: c_ast.Enum, ns: Namespace, line: str) -> Scalar:
    """The scalar an enum specifier stands for."""
    if node.values is None:
        known = ns.tag("enum", node.name) if node.name else None
        return known if known is not None else SCALARS["i32"]
    values = enumerator_values(node, line)
    return type_for_values(values.values(), line)


def enumerator_values(node: c_ast.Enum, line: str) -> dict[str, int]:
    """Each constant's value, in order: an explicit value, or one more than the previous."""
    values: dict[str, int] = {}
    nxt = 0
    for e in node.values.enumerators:
        if e.name in values:   # C11 6.7p3: declared twice in one scope
            raise SignatureError(f"duplicate enumeration constant {e.name!r}: {line!r}")
        if e.value is not None:
            nxt = _evaluate(e.value, values, line)
        values[e.name] = nxt
        nxt += 1
    return values


def type_for_values(values, line: str) -> Scalar:
    values = list(values) or [0]
    lo, hi = min(values), max(values)
    if -2**31 <= lo and hi < 2**31:
        return SCALARS["i32"]
    if lo >= 0 and hi < 2**32:
        return SCALARS["u32"]
    if lo >= 0 and hi < 2**64:
        return SCALARS["u64"]
    if -2**63 <= lo and hi < 2**63:
        return SCALARS["i64"]
    raise SignatureError(f"enum values from {lo} to {hi} fit no C integer type: {line!r}")


def _evaluate(node, values: dict[str, int], line: str) -> int:
    if isinstance(node, c_ast.Constant) and node.type in ("int", "unsigned int", "long int", "unsigned long int",
                                                          "long long int", "unsigned long long int"):
        digits = _INT_SUFFIX.sub("", node.value)
        return int(digits, 8 if re.fullmatch(r"0[0-7]+", digits) else 0)   # C: a leading 0 is octal
    if isinstance(node, c_ast.Constant) and node.type == "char":
        text = node.value[1:-1]
        if len(text) == 1:
            return ord(text)
    if isinstance(node, c_ast.ID):
        if node.name in values:
            return values[node.name]
        raise SignatureError(f"unknown constant {node.name!r} in an enum: {line!r}")
    if isinstance(node, c_ast.UnaryOp) and node.op in _UNARY:
        return _in_range(_UNARY[node.op](_evaluate(node.expr, values, line)), line)
    if isinstance(node, c_ast.BinaryOp) and node.op in _BINARY:
        a, b = _evaluate(node.left, values, line), _evaluate(node.right, values, line)
        if node.op in ("/", "%") and b == 0:
            raise SignatureError(f"enum value divides by zero: {line!r}")
        if node.op in ("<<", ">>") and not 0 <= b < 64:   # C11 6.5.7p3: undefined
            raise SignatureError(f"enum value shifts by {b} bits: {line!r}")
        return _in_range(_BINARY[node.op](a, b), line)
    if isinstance(node, c_ast.Cast):
        return _evaluate(node.expr, values, line)
    raise SignatureError(f"enum value is not an integer constant expression: {line!r}")


def _in_range(v: int, line: str) -> int:
    """Every step of a constant expression stays within what a 64-bit C integer
    holds (and so the evaluation stays small)."""
    if not -2**63 <= v < 2**64:
        raise SignatureError(f"enum value {v} fits no C integer type: {line!r}")
    return v


__all__ = ["enum_type", "enumerator_values", "type_for_values"]
