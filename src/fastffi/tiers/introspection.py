"""What a Python user asks of a Function: ``fn.__doc__`` (its C declaration) and
``inspect.signature(fn)`` (positional-only parameters named as the declaration names them).

Both are decided once per function here and handed to the core in the function spec: the
declaration as a str, the signature as a callable the core calls on first use and keeps (the
same pattern as ``fn.explain()``), so creating a function stays cheap."""
from __future__ import annotations

import inspect
import keyword

from ..errors import SignatureError
from ..model.namespace import Namespace
from ..model.scalars import Scalar
from ..model.signature import Signature

#: The C spelling of each canonical scalar, for declarations rendered from the list form.
_C_NAMES = {
    "void": "void", "bool": "_Bool", "i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
    "u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t", "f32": "float", "f64": "double",
    "pointer": "void *", "string": "char *",
    "i128": "__int128", "u128": "unsigned __int128", "wstring": "const wchar_t *",
    "c64": "float _Complex", "c128": "double _Complex", "longdouble": "long double",
}


def declaration(sig: Signature, text: str | None = None) -> str:
    """``fn.__doc__``: the declaration as given (whitespace normalised, one ``;``), or one
    rendered in C from the types of the list form."""
    if text is not None:
        return " ".join(text.split()).rstrip(";").rstrip() + ";"
    args = [_c_type(t) for t in sig.argtypes]
    if sig.nfixed is not None:
        args = args[:sig.nfixed] + ["..."]
    return f"{_c_type(sig.restype)} {sig.name}({', '.join(args) or 'void'});"


def _c_type(t) -> str:
    if isinstance(t, Scalar):
        if t.pointee is None:
            return _C_NAMES[t.name]
        const = "const " if t.const else ""
        if t.name == "string":
            return f"{const}char *"
        if t.name == "wstring":
            return f"{const}wchar_t *"
        target = t.pointee
        if isinstance(target, Scalar) or isinstance(target, type):
            inner = _c_type(target)
        else:
            inner = str(target)   # an Opaque name (FILE) or a FunctionType
        return f"{const}{inner} *" if not inner.endswith("*") else f"{const}{inner}*"
    from ..model.aggregates import CUnion   # noqa: the class's own module, not a layer above
    return f"{'union' if issubclass(t, CUnion) else 'struct'} {t.__name__}"


class SignatureMaker:
    """Makes ``inspect.signature(fn)`` on first use.  A parameter is named as the declaration
    names it, else ``argN`` (N from 1, as the call errors count); a name that is not a Python
    identifier (a keyword such as ``from``) gets a trailing ``_``.  Every parameter is
    positional-only (a C call takes no keywords); a variadic declaration ends with ``*args``.

    It keeps the C spellings and the declaration's text, not the signature: a struct class
    must not outlive its functions through their introspection (tests/model/test_namespace.py)."""

    __slots__ = ("spellings", "restype", "text", "types", "declared")

    def __init__(self, sig: Signature, text: str | None, types, declared: bool):
        self.spellings = [_c_type(t) for t in sig.argtypes]
        self.restype = _c_type(sig.restype)
        self.text, self.declared = text, declared
        # A types= mapping only matters for parsing the names again: a plain dict of names; a
        # header's namespace (a library bound to a header) is kept as it is.
        if text is None or not types:
            self.types = None
        else:
            self.types = types if isinstance(types, Namespace) else {k: v for k, v in types.items()}

    def __call__(self, fn) -> inspect.Signature:
        names = self._names()
        kind = inspect.Parameter.POSITIONAL_ONLY
        params, used = [], set()
        for i, spelling in enumerate(self.spellings):
            name = names[i] if i < len(names) and names[i] else f"arg{i + 1}"
            if keyword.iskeyword(name) or name in used:
                name += "_"
            used.add(name)
            params.append(inspect.Parameter(name, kind, annotation=spelling))
        if self.declared:
            params.append(inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL))
        return inspect.Signature(params, return_annotation=self.restype)

    def _names(self) -> tuple:
        if self.text is None:
            return ()
        from ..cdecl.spelling import declared_names
        try:
            return declared_names(self.text, self.types)
        except SignatureError:   # a name since undefined: the types are still known
            return ()


__all__ = ["SignatureMaker", "declaration"]
