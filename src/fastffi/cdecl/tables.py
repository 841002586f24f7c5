"""A header's declarations as a compact table of texts, decoded on first use.

What the parser found (:class:`~fastffi.cdecl.header.Parsed`) is encoded
into plain strings, ints and tuples -- one entry per function, type and
variable -- that the on-disk cache stores as they are (:mod:`.cache`) and
that are turned back into model objects one at a time, when a binding first
asks for them: a warm ``include("openssl/evp.h")`` (2,300 functions, 500
types) loads its tables and builds nothing else.

A type is written in prefix form, one token per level:

* ``i32``, ``f64``, ``void`` ...: the canonical scalar;
* ``P`` / ``Pc`` (pointer, to const), ``S`` / ``Sc`` (``char *``), ``W`` / ``Wc`` (``wchar_t *``) then the pointee;
* ``F<n>`` / ``V<n>``: a function type (``V`` variadic) of n arguments,
  then its result and argument types;
* ``T:<key>``: an entry of the type table (``T:struct+stat``; ``+`` stands for
  the space, which never occurs in a C name);
* ``O:<name>``: an opaque name (``O:FILE``, ``O:struct+sqlite3``).

A struct entry is ``(kind, class name, pack, alignment, members)`` with each
member ``(name, type, count, alignment, anonymous, bit-field width)``; a refused entry is
``("!", kind, reason)``."""
from __future__ import annotations

from typing import Any

from ..model.aggregates import make_aggregate
from ..model.pointers import FunctionType, Opaque, pointer_to
from ..model.scalars import SCALARS, VOID, Scalar
from ..model.signature import Signature
from ..model.typed_pointers import typed_pointee
from .entries import Parsed, Refused, Unsupported

_REFUSED = "!"


class _Encoder:
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        self.keys: dict[int, str] = {}
        self.objects: dict[int, Any] = {}   # id -> class (ids of the classes keys are held)
        self.types: dict[str, Any] = {}
        self.anon = 0
        for key, t in parsed.types.items():
            if isinstance(t, type) and id(t) not in self.keys:
                self.keys[id(t)] = key
                self.objects[id(t)] = t

    def key_of(self, cls) -> str:
        self.objects[id(cls)] = cls
        key = self.keys.get(id(cls))
        if key is None:
            self.anon += 1
            key = self.keys[id(cls)] = f"#{self.anon}"
        if key not in self.types:
            self.types[key] = None   # placeholder first: members may refer back
            self.types[key] = self.aggregate(cls)
        return key

    def aggregate(self, cls):
        lay = cls._layout_
        anonymous, aligns = cls._anonymous_, cls._member_align_
        members = tuple((m[0] or "", self.type(m[1]), -1 if m[2] is None else m[2], aligns.get(m[0], 0),
                         m[0] in anonymous, m[3] if len(m) > 3 else -1) for m in cls._members_)
        return ("union" if lay.is_union else "struct", cls.__name__, lay.pack or 0, lay.align, members)

    def type(self, t) -> str:
        if isinstance(t, Scalar):
            if t.pointee is None:
                return t.name
            head = {"string": "S", "wstring": "W"}.get(t.name, "P") + ("c" if t.const else "")
            return f"{head} {self.pointee(t.pointee)}"
        if t is VOID:
            return "void"
        if isinstance(t, FunctionType):
            head = f"{'V' if t.variadic else 'F'}{len(t.argtypes)}"
            return " ".join([head, self.type(t.restype)] + [self.type(a) for a in t.argtypes])
        if isinstance(t, type):
            return f"T:{self.key_of(t).replace(' ', '+')}"
        raise TypeError(f"cannot encode {t!r}")

    def pointee(self, p) -> str:
        if isinstance(p, Opaque):
            return f"O:{p.name.replace(' ', '+')}"
        return self.type(p)

    def run(self) -> dict:
        p = self.parsed
        functions: dict[str, tuple] = {}
        for name, f in p.functions.items():
            if isinstance(f, Refused):
                functions[name] = (_REFUSED, f.kind, f.reason)
            else:
                functions[name] = (self.type(f.restype), tuple(self.type(a) for a in f.argtypes),
                                   -1 if f.nfixed is None else f.nfixed)
        variables: dict[str, tuple] = {}
        for name, v in p.variables.items():
            if isinstance(v, Refused):
                variables[name] = (_REFUSED, v.kind, v.reason)
            else:
                variables[name] = (self.type(v[0]), -1 if v[1] is None else v[1])
        for key, t in p.types.items():
            if isinstance(t, Unsupported):
                self.types[key] = (_REFUSED, t.name, t.reason)
            elif isinstance(t, type):
                if self.keys[id(t)] == key:
                    self.key_of(t)
                else:   # another name of a class already in the table (a typedef of a tag)
                    self.types[key] = self.type(t)
            else:
                self.types[key] = self.type(t)
        return {"functions": functions, "variables": variables, "types": self.types,
                "constants": dict(p.constants), "symbols": dict(p.symbols), "macros": dict(p.macros),
                "own": sorted(p.own), "files": list(p.files)}


def encode(parsed: Parsed) -> dict:
    """The tables of ``parsed``: strings, ints and tuples only."""
    return _Encoder(parsed).run()


def from_parsed(parsed: Parsed) -> tuple["Tables", dict]:
    """Tables for a fresh parse, holding the objects the parse made (so
    nothing is built twice, and a ``types=`` class stays itself), and the
    encoded tables for the cache."""
    enc = _Encoder(parsed)
    raw = enc.run()
    tables = Tables(raw)
    classes = {key: cls for cls_id, key in enc.keys.items() for cls in [enc.objects[cls_id]]}
    tables._types.update(classes)
    tables._types.update(parsed.types)
    tables._functions.update({name: tables.completed(f) for name, f in parsed.functions.items()})
    tables._variables.update(parsed.variables)
    return tables, raw


class Tables:
    """Encoded tables, decoded entry by entry on first use (and kept)."""

    def __init__(self, tables: dict):
        self.raw = tables
        self.constants: dict = tables["constants"]
        self.symbols: dict = tables["symbols"]
        self.macros: dict = tables["macros"]
        self.own = frozenset(tables["own"])
        self.files: list = tables["files"]
        self._functions: dict = {}
        self._variables: dict = {}
        self._types: dict = {}

    # ---- names ----

    def function_names(self):
        return self.raw["functions"].keys()

    def variable_names(self):
        return self.raw["variables"].keys()

    def type_names(self):
        return [k for k in self.raw["types"] if not k.startswith("#")]

    # ---- entries ----

    def function(self, name: str):
        """Signature or Refused; KeyError if not declared."""
        f = self._functions.get(name)
        if f is None:
            entry = self.raw["functions"][name]
            if entry[0] == _REFUSED:
                f = Refused(entry[1], name, entry[2])
            else:
                try:
                    restype = self.decode(entry[0])
                    args = tuple(self.decode(a) for a in entry[1])
                except _Missing as m:
                    f = Refused("function", name, str(m))
                else:
                    f = self.completed(Signature(name, restype, args, None if entry[2] < 0 else entry[2]))
            self._functions[name] = f
        return f

    def completed(self, f):
        """``f`` with a ``struct T *`` result pointing at ``struct T``'s class
        when ``T`` was incomplete where ``f`` was declared and the header
        completes it later (one type in C, C11 6.7.2.3p4): the result is then
        a typed pointer that can be dereferenced."""
        if not isinstance(f, Signature):
            return f
        ret = f.restype
        pointee = typed_pointee(ret)
        if pointee.__class__ is not Opaque:
            return f
        cls = self.resolve(pointee.name)
        return f if cls is None else f._replace(restype=pointer_to(cls, ret.const))

    def resolve(self, name: str):
        """The struct/union class the header defines for ``name`` (a tag such as
        ``struct addrinfo`` or a typedef name), else None: what a typed
        pointer to an incomplete type is dereferenced as."""
        if name not in self.raw["types"] and name not in self._types:
            return None
        t = self.type(name)
        return t if isinstance(t, type) and hasattr(t, "_layout_") else None

    def variable(self, name: str):
        """(type, count or None) or Refused; KeyError if not declared."""
        v = self._variables.get(name)
        if v is None:
            entry = self.raw["variables"][name]
            if entry[0] == _REFUSED:
                v = Refused(entry[1], name, entry[2])
            else:
                v = (self.decode(entry[0]), None if entry[1] < 0 else entry[1])
            self._variables[name] = v
        return v

    def type(self, key: str):
        """A type, or Unsupported; KeyError if not declared."""
        t = self._types.get(key)
        if t is None:
            entry = self.raw["types"][key]
            if isinstance(entry, str):
                t = self.decode(entry)
            elif entry[0] == _REFUSED:
                t = Unsupported(entry[1], entry[2])
            else:
                t = self._aggregate(entry)
            self._types[key] = t
        return t

    def _aggregate(self, entry):
        kind, name, pack, align, members = entry
        fields, member_align, anonymous = [], {}, set()
        for fname, enc, count, falign, anon, bits in members:
            t = self.decode(enc)
            if bits >= 0:
                fields.append((fname or None, t, None, bits))
            else:
                fields.append((fname, t, None if count < 0 else count))
            if falign:
                member_align[fname] = falign
            if anon:
                anonymous.add(fname)
        return make_aggregate(name, fields, pack or None, kind == "union", member_align=member_align,
                              min_align=align, anonymous=frozenset(anonymous), resolve=self.resolve)

    # ---- type texts ----

    def decode(self, text: str):
        toks = text.split()
        t, end = self._read(toks, 0)
        return t

    def _read(self, toks, i):
        tok = toks[i]
        head = tok[0]
        if tok in SCALARS:
            return SCALARS[tok], i + 1
        if tok == "void":
            return VOID, i + 1
        if tok.startswith("T:"):
            t = self.type(tok[2:].replace("+", " "))
            if isinstance(t, Unsupported):
                raise _Missing(t.reason)
            return t, i + 1
        if head in "PSW" and tok in ("P", "Pc", "S", "Sc", "W", "Wc"):
            nxt = toks[i + 1]
            if nxt.startswith("O:"):
                pointee, end = Opaque(nxt[2:].replace("+", " ")), i + 2
            else:
                try:
                    pointee, end = self._read(toks, i + 1)
                except _Missing:
                    pointee, end = Opaque(nxt[2:].replace("+", " ")), _skip(toks, i + 1)
            return pointer_to(pointee, tok.endswith("c"), string=head == "S", wide=head == "W"), end
        if head in "FV":
            n = int(tok[1:])
            restype, j = self._read(toks, i + 1)
            args = []
            for _ in range(n):
                a, j = self._read(toks, j)
                args.append(a)
            return FunctionType(restype, tuple(args), head == "V"), j
        raise ValueError(f"bad type text {' '.join(toks)!r}")


def _skip(toks, i) -> int:
    """The index after the type text starting at toks[i]."""
    tok = toks[i]
    if tok in ("P", "Pc", "S", "Sc"):
        return _skip(toks, i + 1)
    if tok[0] in "FV" and tok[1:].isdigit():
        j = i + 1
        for _ in range(int(tok[1:]) + 1):
            j = _skip(toks, j)
        return j
    return i + 1


class _Missing(Exception):
    pass


__all__ = ["Tables", "encode", "from_parsed"]
