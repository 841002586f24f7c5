"""Constant expressions with C semantics: ``#define`` values, enumerators,
array sizes.

A value is an int of a C integer type (its width and signedness follow the
literal's suffix and size, C11 6.4.4.1, and the usual arithmetic conversions,
6.3.1.8, so ``-1U`` is 4294967295 and ``~0UL`` is 2**64-1), a float, or a
string literal (adjacent literals concatenated, 6.4.5).  A cast to a pointer
type gives the pointer's value, an unsigned 64-bit integer
(``SQLITE_TRANSIENT``, ``((sqlite3_destructor_type)-1)``, is 2**64-1).
Anything else -- a function call, an assignment, a name with no value --
is not a constant, and :func:`evaluate` returns None for it."""
from __future__ import annotations

import re
from typing import Callable

_TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<str>L?"(?:\\.|[^"\\])*")
| (?P<chr>L?'(?:\\.|[^'\\])+')
| (?P<num>\.?\d(?:[eEpP][+-]|[\w.])*)
| (?P<id>[A-Za-z_$][\w$]*)
| (?P<op><<|>>|<=|>=|==|!=|&&|\|\||\#\#|[-+*/%&|^!~<>?:(),\#\[\].=])
""", re.X)

#: C integer types by (bits, unsigned); ranks follow their width (LP64).
_INT, _UINT, _LONG, _ULONG = (32, False), (32, True), (64, False), (64, True)


class NotConstant(Exception):
    """The text is not a constant expression (quietly: most macros are not)."""


def tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise NotConstant(text[pos:])
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None   # every alternative of _TOKEN is a named group
        if kind != "ws":
            out.append((kind, m.group()))
    return out


class Int:
    """An integer value of a C type."""

    __slots__ = ("value", "bits", "unsigned")

    def __init__(self, value: int, ctype=_INT):
        self.bits, self.unsigned = ctype
        self.value = wrap(value, ctype)

    @property
    def ctype(self):
        return (self.bits, self.unsigned)


def wrap(value: int, ctype) -> int:
    bits, unsigned = ctype
    value &= (1 << bits) - 1
    if not unsigned and value >> (bits - 1):
        value -= 1 << bits
    return value


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v",
            "\\": "\\", "'": "'", '"': '"', "?": "?", "e": "\x1b"}


def _unescape(body: str) -> str:
    def one(m):
        s = m.group(1)
        if s[0] == "x":
            return chr(int(s[1:], 16))
        if s[0] in "01234567":
            return chr(int(s, 8))
        if s in _ESCAPES:
            return _ESCAPES[s]
        raise NotConstant(s)
    return re.sub(r"\\(x[0-9a-fA-F]+|[0-7]{1,3}|.)", one, body)


def _int_literal(text: str) -> Int:
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9]\d*)([uUlL]*)", text)
    if m is None:
        raise NotConstant(text)
    digits, suffix = m.groups()
    suffix = suffix.lower()
    if digits[:2] in ("0x", "0X", "0b", "0B"):
        value = int(digits, 0)
    elif digits[0] == "0" and len(digits) > 1:
        value = int(digits, 8)   # a leading 0 is octal (C11 6.4.4.1)
    else:
        value = int(digits)
    decimal = digits[0] != "0" or digits == "0"
    # C11 6.4.4.1p5: the first type of the list that can represent the value.
    if "u" in suffix:
        candidates = [_UINT, _ULONG] if "l" not in suffix else [_ULONG]
    elif "l" in suffix:
        candidates = [_LONG] if decimal else [_LONG, _ULONG]
    else:
        candidates = [_INT, _LONG] if decimal else [_INT, _UINT, _LONG, _ULONG]
    for bits, unsigned in candidates:
        if value < (1 << (bits if unsigned else bits - 1)):
            return Int(value, (bits, unsigned))
    if value < 1 << 64:   # GCC gives a too-large decimal literal unsigned long (with a warning)
        return Int(value, _ULONG)
    raise NotConstant(text)


def _number(text: str):
    try:
        return _int_literal(text)
    except NotConstant:
        pass
    body = re.sub(r"([fFlL]|[fF](16|32|64|128)x?|[fF]32x|[dD][fFdDlL])$", "", text)
    try:
        if body[:2] in ("0x", "0X"):
            return float.fromhex(body)
        return float(body)
    except ValueError:
        raise NotConstant(text) from None


#: What a cast's type is to the folder: an integer ctype, "float", or "pointer".
CastType = "tuple[int, bool] | str | None"


class _Parser:
    """Precedence climbing over the tokens (C11 6.5)."""

    _BINARY = {"*": 10, "/": 10, "%": 10, "+": 9, "-": 9, "<<": 8, ">>": 8, "<": 7, ">": 7, "<=": 7, ">=": 7,
               "==": 6, "!=": 6, "&": 5, "^": 4, "|": 3, "&&": 2, "||": 1}

    def __init__(self, tokens, names: Callable, cast_type: Callable, sizeof: Callable, alignof=None):
        self.toks = tokens
        self.i = 0
        self.names = names          # identifier -> value or None
        self.cast_type = cast_type  # list of type tokens -> CastType (None: not a type)
        self.sizeof = sizeof        # list of type tokens -> int or None
        self.alignof = alignof or (lambda words: None)

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, text=None):
        tok = self.peek()
        if text is not None and tok[1] != text:
            raise NotConstant(f"expected {text!r}")
        self.i += 1
        return tok

    def expression(self):
        value = self.conditional()
        if self.peek()[1] == ",":   # the comma operator is not constant (C11 6.6p3)
            raise NotConstant(",")
        return value

    def conditional(self):
        cond = self.binary(1)
        if self.peek()[1] != "?":
            return cond
        self.take("?")
        a = self.expression()
        self.take(":")
        b = self.conditional()
        if isinstance(a, str) or isinstance(b, str):
            return a if _truth(cond) else b
        a, b = _convert(a, b)
        return a if _truth(cond) else b

    def binary(self, level: int):
        left = self.unary()
        while True:
            op = self.peek()[1]
            prec = self._BINARY.get(op)
            if prec is None or prec < level or self.peek()[0] != "op":
                return left
            self.take()
            right = self.binary(prec + 1)
            left = _binary(op, left, right)

    def _type_tokens(self):
        """The tokens of a parenthesised type name at the cursor (after '('), or None."""
        j = self.i
        depth = 0
        while j < len(self.toks):
            t = self.toks[j][1]
            if t == "(":
                depth += 1
            elif t == ")":
                if depth == 0:
                    break
                depth -= 1
            j += 1
        inner = self.toks[self.i:j]
        if not inner or any(k not in ("id", "op") or (k == "op" and v not in ("*", "(", ")", "[", "]"))
                            for k, v in inner):
            return None, j
        return [v for _, v in inner], j

    def unary(self):
        kind, text = self.peek()
        if kind == "op" and text in ("-", "+", "~", "!"):
            self.take()
            return _unary(text, self.unary())
        if kind == "id" and text in ("sizeof", "_Alignof", "__alignof__", "__alignof", "alignof"):
            self.take()
            if self.peek()[1] == "(":
                self.take("(")
                words, end = self._type_tokens()
                measure = self.sizeof if text == "sizeof" else self.alignof
                size = measure(words) if words else None
                if size is None:
                    raise NotConstant(text)
                self.i = end + 1
                return Int(size, _ULONG)
            raise NotConstant(text)
        if kind == "op" and text == "(":
            self.take()
            words, end = self._type_tokens()
            ctype = self.cast_type(words) if words else None
            if ctype is not None:
                self.i = end + 1
                return _cast(ctype, self.unary())
            value = self.expression()
            self.take(")")
            return value
        return self.primary()

    def primary(self):
        kind, text = self.take()
        if kind == "num":
            return _number(text)
        if kind == "chr":
            if text[0] == "L":
                text = text[1:]
            chars = _unescape(text[1:-1])
            if len(chars) != 1:
                raise NotConstant(text)
            # A plain char constant has type int, its char value sign-extended (x86-64, AArch64: char
            # is signed on the first, unsigned on the second; GCC on both widens the char's bits).
            return Int(ord(chars), _INT)
        if kind == "str":
            parts = [_unescape(text[text.index('"') + 1:-1])]
            while self.peek()[0] == "str":
                t = self.take()[1]
                parts.append(_unescape(t[t.index('"') + 1:-1]))
            return "".join(parts)
        if kind == "id" and text in _FLOAT_BUILTINS and self.peek()[1] == "(":
            # math.h's HUGE_VAL, INFINITY and NAN are GCC builtins, constant
            # expressions of float type (C11 7.12p3-5).
            self.take("(")
            if text.startswith("__builtin_nan"):
                kind, arg = self.take()
                if kind != "str" or _unescape(arg[1:-1]) != "":   # a payload: its bits are the libc's
                    raise NotConstant(text)
            self.take(")")
            return _FLOAT_BUILTINS[text]
        if kind == "id":
            value = self.names(text)
            if value is None:
                raise NotConstant(text)
            return value
        raise NotConstant(text)


_FLOAT_BUILTINS = {f"__builtin_{name}{suffix}": value for name, value in
                   (("huge_val", float("inf")), ("inf", float("inf")), ("nan", float("nan")))
                   for suffix in ("", "f", "l")}


def _truth(v) -> bool:
    return bool(v.value if isinstance(v, Int) else v)


def _promote(v: Int) -> Int:
    return v if v.bits >= 32 else Int(v.value, _INT)


def _convert(a, b):
    """The usual arithmetic conversions (C11 6.3.1.8)."""
    if isinstance(a, str) or isinstance(b, str):
        raise NotConstant("string operand")
    if isinstance(a, float) or isinstance(b, float):
        return (a.value if isinstance(a, Int) else a) * 1.0, (b.value if isinstance(b, Int) else b) * 1.0
    a, b = _promote(a), _promote(b)
    if a.ctype == b.ctype:
        return a, b
    if a.bits == b.bits:
        ctype = (a.bits, True)
    else:
        # The wider type is 64 bits and represents every 32-bit value: it wins with its signedness.
        ctype = a.ctype if a.bits > b.bits else b.ctype
    return Int(a.value, ctype), Int(b.value, ctype)


def _unary(op: str, v):
    if isinstance(v, str):
        raise NotConstant(op)
    if op == "!":
        return Int(int(not _truth(v)))
    if isinstance(v, float):
        if op == "~":
            raise NotConstant("~ of a float")
        return -v if op == "-" else v
    v = _promote(v)
    if op == "-":
        return Int(-v.value, v.ctype)
    if op == "~":
        return Int(~v.value, v.ctype)
    return v


def _c_divide(a: int, b: int) -> int:
    q = abs(a) // abs(b)   # C truncates toward zero (C11 6.5.5p6)
    return q if (a < 0) == (b < 0) else -q


def _binary(op: str, a, b):
    if op in ("&&", "||"):
        return Int(int(_truth(a) and _truth(b)) if op == "&&" else int(_truth(a) or _truth(b)))
    if op in ("<<", ">>"):
        if not isinstance(a, Int) or not isinstance(b, Int):
            raise NotConstant(op)
        a = _promote(a)
        if not 0 <= b.value < a.bits:   # C11 6.5.7p3: undefined
            raise NotConstant(op)
        if op == "<<":
            return Int(a.value << b.value, a.ctype)
        return Int(a.value >> b.value, a.ctype)
    a, b = _convert(a, b)
    if isinstance(a, float):
        if op in ("%", "&", "|", "^"):
            raise NotConstant(op)
        if op in ("<", ">", "<=", ">=", "==", "!="):
            return Int(int(_COMPARE[op](a, b)))
        if op == "/" and b == 0:
            raise NotConstant("/ 0")
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0}[op]
    x, y = a.value, b.value
    if op in ("<", ">", "<=", ">=", "==", "!="):
        return Int(int(_COMPARE[op](x, y)))
    if op in ("/", "%"):
        if y == 0:
            raise NotConstant("division by zero")
        q = _c_divide(x, y)
        return Int(q if op == "/" else x - y * q, a.ctype)
    return Int({"+": x + y, "-": x - y, "*": x * y, "&": x & y, "|": x | y, "^": x ^ y}[op], a.ctype)


_COMPARE = {"<": lambda a, b: a < b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b,
            ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _cast(ctype, v):
    if isinstance(v, str):
        raise NotConstant("cast of a string")
    if ctype == "float":
        return float(v.value if isinstance(v, Int) else v)
    if isinstance(v, float):
        if ctype == "pointer":
            raise NotConstant("float to pointer")
        v = Int(int(v), _LONG if ctype[1] is False else _ULONG)
    if ctype == "pointer":
        return Int(v.value, _ULONG)
    if ctype == "bool":
        return Int(int(v.value != 0))
    return Int(v.value, ctype)


def evaluate(tokens, names: Callable, cast_type: Callable, sizeof: Callable, alignof: Callable | None = None):
    """The value of a token list: Int, float or str; None if not constant."""
    if not tokens:
        return None
    p = _Parser(tokens, names, cast_type, sizeof, alignof)
    try:
        value = p.expression()
        if p.i != len(tokens):
            return None
    except (NotConstant, RecursionError, OverflowError, ZeroDivisionError):
        return None
    return value


def python_value(v):
    """What a constant is in Python: an int (its C type's value), a float or a str."""
    return v.value if isinstance(v, Int) else v


__all__ = ["Int", "NotConstant", "evaluate", "python_value", "tokenize", "wrap"]
