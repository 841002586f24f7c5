"""The C compiler as the oracle for struct/union layout.

Given field tables — the same tables the tests pass to ``fastffi.struct``/``fastffi.union`` — this
module writes the equivalent C declarations, compiles a small program with the machine's C
compiler, runs it, and reads back ``sizeof``, ``_Alignof`` and ``offsetof`` of every field as JSON.
Results are cached for the session (keyed by the generated source), and many tables can be measured
in one compilation, so hypothesis-generated batches stay fast.

It deliberately knows nothing about fastffi's layout code: the only fastffi call here is
``build()``, which turns a ``Decl`` into a fastffi class by calling the public constructors.

A table is a ``Decl``: a name, a tuple of ``(field_name, field_type)`` pairs, a kind ("struct" or
"union") and a ``pack`` (None, or N for ``#pragma pack(N)``). A field type is a canonical fastffi
type name (``"i32"``), a C spelling (``"unsigned short"``), ``"type[n]"``, ``(type, n)``, or another
``Decl`` (a nested struct/union).
"""
from __future__ import annotations

import atexit
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from typing import Iterable, Union

CANONICAL_C = {
    "i8": "int8_t",
    "i16": "int16_t",
    "i32": "int32_t",
    "i64": "int64_t",
    "u8": "uint8_t",
    "u16": "uint16_t",
    "u32": "uint32_t",
    "u64": "uint64_t",
    "f32": "float",
    "f64": "double",
    "bool": "_Bool",
    "pointer": "void *",
    "string": "char *",
    "c64": "float _Complex",       # issue 16
    "c128": "double _Complex",
    "longdouble": "long double",
}

_ARRAY_RE = re.compile(r"^(.*?)\s*\[\s*(\d+)\s*\]$")


@dataclasses.dataclass(frozen=True)
class Decl:
    name: str
    fields: tuple
    kind: str = "struct"
    pack: Union[int, None] = None

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple((n, t) for n, t in self.fields))
        assert self.kind in ("struct", "union"), self.kind

    @property
    def tag(self) -> str:
        return f"{self.kind} {self.name}"


@dataclasses.dataclass(frozen=True)
class Layout:
    size: int
    align: int
    offsets: dict


# --- C generation ----------------------------------------------------------------------------------

def _split_type(ftype):
    """-> (element type, dims) with dims in C declarator order: ``(T, n)`` and ``"T[n]"`` are arrays
    of n T; ``((T, m), n)`` is an array of n arrays of m, declared ``T x[n][m]``."""
    if isinstance(ftype, tuple):
        elem, dims = _split_type(ftype[0])
        return elem, [int(ftype[1]), *dims]
    if isinstance(ftype, str):
        m = _ARRAY_RE.match(ftype.strip())
        if m:  # the last [n] is the innermost dimension
            elem, dims = _split_type(m.group(1))
            return elem, [*dims, int(m.group(2))]
    return ftype, []


def c_type_name(ftype) -> str:
    if isinstance(ftype, Decl):
        return ftype.tag
    if isinstance(ftype, str):
        return CANONICAL_C.get(ftype.strip(), ftype.strip())
    raise TypeError(f"unsupported field type {ftype!r}")


def c_field(name: str, ftype) -> str:
    elem, dims = _split_type(ftype)
    base = c_type_name(elem)
    suffix = "".join(f"[{n}]" for n in dims)
    if base.endswith("*"):
        return f"{base}{name}{suffix};"
    return f"{base} {name}{suffix};"


def _nested(ftype):
    elem, _ = _split_type(ftype)
    return elem if isinstance(elem, Decl) else None


def _ordered(decls: Iterable[Decl]) -> list:
    """All decls and the decls they nest, dependencies first, each once."""
    out, seen = [], {}

    def visit(d):
        if d.name in seen:
            if seen[d.name] != d:
                raise ValueError(f"two different declarations named {d.name!r}")
            return
        for _, ft in d.fields:
            sub = _nested(ft)
            if sub is not None:
                visit(sub)
        seen[d.name] = d
        out.append(d)

    for d in decls:
        visit(d)
    return out


def c_declaration(d: Decl) -> str:
    lines = []
    if d.pack is not None:
        lines.append(f"#pragma pack(push, {d.pack})")
    lines.append(f"{d.tag} {{")
    for name, ftype in d.fields:
        lines.append("    " + c_field(name, ftype))
    lines.append("};")
    if d.pack is not None:
        lines.append("#pragma pack(pop)")
    return "\n".join(lines)


_PRELUDE = """\
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <wchar.h>
"""


def c_program(decls: Iterable[Decl], header: Union[str, None] = None) -> str:
    """A program printing {"name": {"size":..,"align":..,"offsets":{field: off}}} for every decl.
    With ``header``, the types are taken from that file instead of being declared here."""
    ordered = _ordered(decls)
    parts = [_PRELUDE]
    if header is not None:
        parts.append(f'#include "{header}"\n')
    else:
        parts.extend(c_declaration(d) + "\n" for d in ordered)
    body = ['int main(void) {', '    printf("{");']
    for i, d in enumerate(ordered):
        sep = "," if i else ""
        body.append(
            f'    printf("{sep}\\"{d.name}\\": {{\\"size\\": %zu, \\"align\\": %zu, \\"offsets\\": {{",'
            f" sizeof({d.tag}), (size_t)_Alignof({d.tag}));"
        )
        for j, (fname, _) in enumerate(d.fields):
            fsep = "," if j else ""
            body.append(f'    printf("{fsep}\\"{fname}\\": %zu", offsetof({d.tag}, {fname}));')
        body.append('    printf("}}");')
    body.append('    printf("}\\n");')
    body.append("    return 0;")
    body.append("}")
    parts.append("\n".join(body) + "\n")
    return "\n".join(parts)


# --- compile and run, cached ------------------------------------------------------------------------

_cache: dict = {}
_workdir: Union[str, None] = None


def _cc() -> str:
    return os.environ.get("CC") or (sysconfig.get_config_var("CC") or "cc").split()[0] or "cc"


def _dir() -> str:
    global _workdir
    if _workdir is None:
        _workdir = tempfile.mkdtemp(prefix="fastffi_layout_oracle_")
        atexit.register(shutil.rmtree, _workdir, True)
    return _workdir


def run_program(source: str, include_dirs=()) -> dict:
    key = hashlib.sha256((source + "\0" + "\0".join(map(str, include_dirs))).encode()).hexdigest()
    if key in _cache:
        return _cache[key]
    d = _dir()
    src = os.path.join(d, f"{key[:16]}.c")
    exe = os.path.join(d, f"{key[:16]}.out")
    with open(src, "w") as f:
        f.write(source)
    cmd = [_cc(), "-std=gnu11", "-O0", "-w", *(f"-I{p}" for p in include_dirs), "-o", exe, src]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"layout oracle: compile failed:\n{res.stderr}\n--- source ---\n{source}")
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    _cache[key] = json.loads(out)
    return _cache[key]


def measure(decls: Iterable[Decl], header: Union[str, None] = None) -> dict:
    """{decl name: Layout} for every decl (and every decl nested in them), in one compilation.
    ``header``: path of a C header that already declares ``struct/union <name>`` for every decl."""
    decls = list(decls)
    include_dirs = ()
    if header is not None:
        include_dirs = (os.path.dirname(os.path.abspath(header)),)
        header = os.path.basename(header)
    raw = run_program(c_program(decls, header), include_dirs)
    return {name: Layout(v["size"], v["align"], v["offsets"]) for name, v in raw.items()}


# --- fastffi classes from the same tables ------------------------------------------------------------

def build(decl: Decl, _memo: dict = {}):  # noqa: B006 - the memo is the point
    """The fastffi class for ``decl`` (nested decls become their fastffi classes), memoised so a
    nested decl maps to one class."""
    import fastffi

    if decl in _memo:
        return _memo[decl]

    def conv(ftype):
        if isinstance(ftype, Decl):
            return build(ftype)
        if isinstance(ftype, tuple):
            return (conv(ftype[0]), ftype[1])
        return ftype

    fields = [(n, conv(t)) for n, t in decl.fields]
    ctor = fastffi.struct if decl.kind == "struct" else fastffi.union
    cls = ctor(decl.name, fields, pack=decl.pack) if decl.pack is not None else ctor(decl.name, fields)
    _memo[decl] = cls
    return cls


# --- the fixture library's types (tests/fixture/fixture.h), as tables -------------------------------

def _s(name, fields, kind="struct", pack=None):
    return Decl(name, tuple(fields), kind, pack)


POINT = _s("point_f64x2", [("x", "f64"), ("y", "f64")])
S_F32X2 = _s("s_f32x2", [("a", "f32"), ("b", "f32")])

FIXTURE_DECLS = {
    d.name: d
    for d in [
        _s("s_u8", [("a", "u8")]),
        _s("s_u8x3", [("a", "u8"), ("b", "u8"), ("c", "u8")]),
        _s("s_i16_u8", [("a", "i16"), ("b", "u8")]),
        _s("s_i32x3", [("a", "i32"), ("b", "i32"), ("c", "i32")]),
        POINT,
        _s("s_i32_f64", [("i", "i32"), ("d", "f64")]),
        _s("s_f64_i32", [("d", "f64"), ("i", "i32")]),
        _s("s_f32_i32", [("f", "f32"), ("i", "i32")]),
        S_F32X2,
        _s("s_f32x3", [("a", "f32"), ("b", "f32"), ("c", "f32")]),
        _s("s_i8_i64", [("a", "i8"), ("b", "i64")]),
        _s("s_bool_ptr", [("flag", "bool"), ("p", "pointer")]),
        _s("s_i64x3", [("a", "i64"), ("b", "i64"), ("c", "i64")]),
        _s("s_40", [("a", "i64"), ("b", "f64"), ("c", "i32"), ("d", "f32"), ("e", "u16"), ("f", "i64")]),
        _s("rect", [("tl", POINT), ("br", POINT)]),
        _s("s_nested_small", [("p", S_F32X2), ("tag", "i32")]),
        _s("s_i32_f32arr3", [("id", "i32"), ("v", ("f32", 3))]),
        _s("s_f64arr2", [("v", "f64[2]")]),
        _s("s_u8arr4_i32", [("tag", "u8[4]"), ("n", "i32")]),
        _s("s_f32x2_f64", [("a", "f32"), ("b", "f32"), ("c", "f64")]),
        _s("s_f32x3_i32", [("a", "f32"), ("b", "f32"), ("c", "f32"), ("d", "i32")]),
        _s("s_u8arr11", [("b", "u8[11]")]),
        _s("s_u16x3", [("a", "u16"), ("b", "u16"), ("c", "u16")]),
        _s("s_bool_f32", [("b", "bool"), ("f", "f32")]),
        _s("rec", [("id", "u32"), ("pos", POINT), ("v", ("f32", 3)), ("tag", "u8[4]")]),
        _s("p_i8_i32_f64", [("a", "i8"), ("b", "i32"), ("c", "f64")], pack=1),
        _s("p2_i16_i32", [("a", "i16"), ("b", "i32")], pack=2),
        _s("u_i64_f64", [("i", "i64"), ("d", "f64")], kind="union"),
        _s("u_f32x2_f64", [("f", ("f32", 2)), ("d", "f64")], kind="union"),
        _s("u_u8x12_i32", [("b", "u8[12]"), ("i", "i32")], kind="union"),
        _s("last_call", [("n", "i64"), ("i", ("i64", 32)), ("d", ("f64", 32))]),
    ]
}

FIXTURE_HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixture", "fixture.h")
