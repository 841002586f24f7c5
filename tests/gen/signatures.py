"""The random signature model and its seeded generator.

A signature is a name, a return type and argument types.  A type is a scalar name (one of
``SCALARS``, or ``"void"`` as a return), or an :class:`Agg` (a struct or union, possibly packed,
whose fields are scalars, :class:`Arr` fixed arrays, or nested aggregates).

Every union has an *active* member: the C function reads (for arguments) or writes (for returns)
only that member's leaves, and the Python side fills only those bytes meaningfully, so the value of
a union is well defined.  The *value leaves* of a type (:func:`value_leaves`) are its scalar leaves
in declaration order, arrays expanded, nested aggregates inlined, unions reduced to their active
member -- the C checksum and the Python expectation both fold exactly this list.

Nothing here knows fastffi's layout or ABI code.  :func:`approx_layout` is a rough natural-alignment
estimate used only to steer the sizes the generator aims at; every size, offset and alignment the
tests rely on comes from the C compiler (oracle.py).

The generator is biased towards the cases ABIs get wrong: register exhaustion on both SysV x86-64
and AAPCS64, struct returns of every class, HFAs and near-HFAs, packed structs with misaligned
fields, unions, small odd-sized aggregates and stack arguments of mixed sizes.  Each signature is a
pure function of (seed, index), so any one can be regenerated alone.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Union

INTS = ("i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64")
INT_LIKE = INTS + ("bool", "pointer")
FLOATS = ("f32", "f64")
SCALARS = INT_LIKE + FLOATS

#: issue 16: complex and long double -- top-level arguments and returns of fixed-argument
#: signatures only (Generator.widen), never struct fields (fastffi's plan tier leaves those to libffi)
WIDE = ("c64", "c128", "longdouble")

SIZES = {"i8": 1, "u8": 1, "bool": 1, "i16": 2, "u16": 2, "i32": 4, "u32": 4, "f32": 4,
         "i64": 8, "u64": 8, "f64": 8, "pointer": 8, "c64": 8, "c128": 16, "longdouble": 16}

C_NAMES = {"i8": "int8_t", "i16": "int16_t", "i32": "int32_t", "i64": "int64_t",
           "u8": "uint8_t", "u16": "uint16_t", "u32": "uint32_t", "u64": "uint64_t",
           "bool": "_Bool", "f32": "float", "f64": "double", "pointer": "void *", "void": "void",
           "c64": "float _Complex", "c128": "double _Complex", "longdouble": "long double"}

# issue 16: the 16-byte integers, scalar arguments and returns only (the plan tier takes them;
# libffi and the JIT refuse them, which refusal_allowed permits).
INT128S = ("i128", "u128")
SIZES.update({"i128": 16, "u128": 16})
C_NAMES.update({"i128": "__int128", "u128": "unsigned __int128"})


@dataclasses.dataclass(eq=False)
class Agg:
    """A struct or union type.  ``fields``: list of (name, type); ``active``: the union member
    whose leaves carry the value (ignored for structs)."""

    name: str
    kind: str  # "struct" | "union"
    fields: list
    pack: Union[int, None] = None
    active: int = 0

    @property
    def tag(self) -> str:
        return f"{self.kind} {self.name}"

    def __repr__(self) -> str:
        return self.tag


@dataclasses.dataclass(frozen=True, eq=False)
class Arr:
    elem: object  # scalar name or Agg
    n: int


@dataclasses.dataclass(eq=False)
class Signature:
    seed: int
    index: int
    name: str
    ret: object  # "void", scalar name or Agg
    args: list
    tags: tuple = ()  # what the generator aimed at (statistics and reports)
    hash_seed: int = 0  # the initial value of the C checksum
    options: tuple = ()  # function options to create it with: "release_gil", "use_errno"
    nfixed: int | None = None  # variadic: arguments from nfixed on are passed after `...`

    def aggregates(self) -> list:
        """Every aggregate type used, nested ones first, each once."""
        out, seen = [], set()

        def visit(t):
            if isinstance(t, Arr):
                visit(t.elem)
            elif isinstance(t, Agg) and id(t) not in seen:
                for _, ft in t.fields:
                    visit(ft)
                seen.add(id(t))
                out.append(t)

        for t in (self.ret, *self.args):
            visit(t)
        return out

    @property
    def has_union(self) -> bool:
        return any(a.kind == "union" for a in self.aggregates())

    @property
    def has_packed(self) -> bool:
        return any(a.pack is not None for a in self.aggregates())

    @property
    def by_value_aggregates(self) -> bool:
        return any(isinstance(t, Agg) for t in (self.ret, *self.args))


# --- leaves -----------------------------------------------------------------------------------------

def value_leaves(t, prefix: str = ""):
    """[(C access path relative to the object, scalar name)] in fold order."""
    if isinstance(t, str):
        return [(prefix, t)]
    if isinstance(t, Arr):
        out = []
        for i in range(t.n):
            out.extend(value_leaves(t.elem, f"{prefix}[{i}]"))
        return out
    fields = t.fields if t.kind == "struct" else [t.fields[t.active]]
    out = []
    for fname, ft in fields:
        out.extend(value_leaves(ft, f"{prefix}.{fname}"))
    return out


def all_leaves(t, prefix: str = ""):
    """Every scalar leaf path, every union member included (for statistics)."""
    if isinstance(t, str):
        return [(prefix, t)]
    if isinstance(t, Arr):
        out = []
        for i in range(t.n):
            out.extend(all_leaves(t.elem, f"{prefix}[{i}]"))
        return out
    out = []
    for fname, ft in t.fields:
        out.extend(all_leaves(ft, f"{prefix}.{fname}"))
    return out


def approx_layout(t) -> tuple:
    """(size, align) by natural alignment and pack: only to steer generation (never trusted)."""
    if isinstance(t, str):
        return SIZES[t], SIZES[t]
    if isinstance(t, Arr):
        s, a = approx_layout(t.elem)
        return s * t.n, a
    off = size = 0
    align = 1
    for _, ft in t.fields:
        s, a = approx_layout(ft)
        if t.pack is not None:
            a = min(a, t.pack)
        if t.kind == "union":
            size = max(size, s)
        else:
            off = (off + a - 1) // a * a + s
            size = off
        align = max(align, a)
    return (size + align - 1) // align * align, align


def approx_size(t) -> int:
    return approx_layout(t)[0]


# --- the generator ----------------------------------------------------------------------------------

def _weighted(rng: random.Random, table):
    """``table``: [(weight, value)]."""
    total = sum(w for w, _ in table)
    x = rng.random() * total
    for w, v in table:
        x -= w
        if x < 0:
            return v
    return table[-1][1]


MAX_ARGS = 24

SCALAR_WEIGHTS = [(3, "i8"), (3, "i16"), (4, "i32"), (4, "i64"), (3, "u8"), (3, "u16"), (4, "u32"),
                  (4, "u64"), (3, "bool"), (6, "f32"), (7, "f64"), (3, "pointer")]


class Generator:
    """Makes signature ``index`` of run ``seed``."""

    def __init__(self, seed: int, index: int):
        self.seed, self.index = seed, index
        self.rng = random.Random(f"fastffi-diff:{seed}:{index}")
        self.prefix = f"T{index}_"
        self.n_aggs = 0
        self.tags: list = []

    # -- scalars --

    def scalar(self, pool=None) -> str:
        if pool is None:
            return _weighted(self.rng, SCALAR_WEIGHTS)
        return self.rng.choice(pool)

    def int_scalar(self) -> str:
        return self.scalar(INT_LIKE)

    def float_scalar(self) -> str:
        return self.rng.choice(FLOATS)

    # -- aggregates --

    def _name(self) -> str:
        self.n_aggs += 1
        return f"{self.prefix}{self.n_aggs - 1}"

    def agg(self, fields, kind="struct", pack=None, active=None) -> Agg:
        fields = [(f"m{i}", ft) for i, ft in enumerate(fields)]
        a = Agg(self._name(), kind, fields, pack, 0)
        if kind == "union":
            if active is None:
                # Mostly the largest member, so the whole union carries data.
                sizes = [approx_size(ft) for _, ft in fields]
                if self.rng.random() < 0.6:
                    active = max(range(len(fields)), key=lambda i: sizes[i])
                else:
                    active = self.rng.randrange(len(fields))
            a.active = active
        return a

    def random_field(self, remaining: int, depth: int, pool, pack):
        """One field of at most about ``remaining`` bytes."""
        r = self.rng
        roll = r.random()
        if depth < 3 and remaining >= 2 and roll < 0.14:
            sub = self.random_agg(r.randint(1, min(remaining, 48)), depth + 1, pool,
                                  pack=pack if r.random() < 0.5 else None,
                                  kind="union" if r.random() < 0.25 else "struct")
            return sub
        if depth < 2 and remaining >= 4 and roll < 0.19:
            sub = self.random_agg(r.randint(1, min(remaining // 2, 16)), depth + 1, pool,
                                  pack=pack if r.random() < 0.5 else None)
            n = max(1, min(r.randint(2, 4), remaining // max(1, approx_size(sub))))
            return Arr(sub, n)
        elem = self.scalar(pool)
        while SIZES[elem] > remaining and SIZES[elem] > 1:
            elem = self.scalar(pool)
            if r.random() < 0.3:
                elem = r.choice([s for s in (pool or SCALARS) if SIZES[s] <= max(1, remaining)] or ["u8"])
        if roll < 0.33 and remaining >= 2 * SIZES[elem]:
            cap = remaining // SIZES[elem]
            n = r.randint(1, min(cap, 8 if r.random() < 0.8 else 64))
            return Arr(elem, n)
        return elem

    def random_agg(self, target: int, depth: int = 0, pool=None, pack=None, kind="struct") -> Agg:
        """A struct (or union) of about ``target`` bytes (1..256)."""
        r = self.rng
        fields = []
        if kind == "union":
            for _ in range(r.randint(2, 4)):
                fields.append(self.random_field(max(1, target), depth, pool, pack))
            return self.agg(fields, "union", pack)
        size = 0
        while True:
            remaining = target - size
            if fields and (remaining <= 0 or len(fields) >= 14):
                break
            fields.append(self.random_field(max(1, remaining), depth, pool, pack))
            size = approx_size(Agg("tmp", "struct", [(f"m{i}", f) for i, f in enumerate(fields)], pack))
            if size >= target or r.random() < 0.04:
                break
        return self.agg(fields, "struct", pack)

    def agg_size_target(self) -> int:
        return _weighted(self.rng, [
            (40, self.rng.randint(1, 8)),
            (35, self.rng.randint(9, 16)),
            (12, self.rng.randint(17, 32)),
            (9, self.rng.randint(33, 100)),
            (4, self.rng.randint(101, 256)),
        ])

    def any_agg(self) -> Agg:
        r = self.rng
        kind = _weighted(r, [(55, "plain"), (10, "int"), (10, "float"), (8, "packed"), (8, "union"),
                             (9, "hfa")])
        target = self.agg_size_target()
        if kind == "plain":
            return self.random_agg(target)
        if kind == "int":
            return self.random_agg(target, pool=INT_LIKE)
        if kind == "float":
            return self.random_agg(target, pool=FLOATS)
        if kind == "packed":
            return self.packed_agg(target)
        if kind == "union":
            return self.random_agg(target, kind="union")
        return self.hfa(self.float_scalar(), r.randint(1, 4))

    def packed_agg(self, target=None) -> Agg:
        """A #pragma pack(1/2/4) struct, usually with a misaligned field."""
        r = self.rng
        pack = r.choice((1, 2, 4))
        self.tags.append(f"pack{pack}")
        if target is None:
            target = self.agg_size_target()
        roll = r.random()
        if roll < 0.25:
            # An array of packed elements whose size is not a multiple of their widest member: only
            # element 0 is aligned (GCC's SysV classifier looks at element 0 alone), then a tail.
            elem = self.agg(r.choice([["u16", "u8"], ["i16", "bool"], ["i32", "u16"], ["f32", "u8"], ["u32", "i8"],
                                      ["f32", "i16"], ["i64", "u8"], ["f64", "u16"], ["u16", "i8", "i8", "u8"]]),
                            pack=pack)
            fields = [Arr(elem, r.randint(2, 4))]
            for _ in range(r.randint(0, 3)):
                fields.append(r.choice(("u8", "bool", "i16", "u16", "f32", "i32")))
            if r.random() < 0.3:
                fields.insert(0, r.choice(("u8", "i32", "f32", "u16")))
            return self.agg(fields, "struct", pack)
        if roll < 0.6:
            # Deliberately misaligned: a narrow field, then a wide one.
            narrow = r.choice(("i8", "u8", "bool", "i16", "u16")[: 3 if pack == 2 else 5])
            wide = r.choice(("i32", "u32", "f32", "i64", "u64", "f64", "pointer"))
            fields = [narrow, wide]
            if pack == 4 and SIZES[wide] < 8:
                fields = ["i32", "f64" if r.random() < 0.5 else "i64"]
            while approx_size(Agg("t", "struct", [(str(i), f) for i, f in enumerate(fields)], pack)) < target \
                    and len(fields) < 10:
                fields.append(self.random_field(max(1, target - 4), 1, None, pack))
            return self.agg(fields, "struct", pack)
        return self.random_agg(target, pack=pack)

    def hfa(self, ft: str, n: int, depth: int = 0) -> Agg:
        """A struct of exactly ``n`` leaves of float type ``ft``, in a random shape (plain members,
        arrays, nested structs)."""
        r = self.rng
        fields = []
        left = n
        while left:
            k = r.randint(1, left)
            if k == 1 or r.random() < 0.3:
                fields.append(ft)
                k = 1
            elif depth < 2 and r.random() < 0.4:
                fields.append(self.hfa(ft, k, depth + 1))
            else:
                fields.append(Arr(ft, k))
            left -= k
        return self.agg(fields)

    # -- targeted return classes --

    def sysv_ret(self, cls: str) -> Agg:
        r = self.rng
        self.tags.append(f"ret-sysv-{cls}")
        if cls == "INTEGER":
            return self.random_agg(r.randint(1, 16), pool=INT_LIKE)
        if cls == "SSE":
            return self.random_agg(r.randint(1, 16), pool=FLOATS)
        if cls == "mixed":
            a, b = (self.int_scalar(), "f64") if r.random() < 0.5 else ("f64", self.int_scalar())
            shape = r.randint(0, 3)
            if shape == 0:
                return self.agg([a, b])
            if shape == 1:  # float and int in one eightbyte: INTEGER wins there
                return self.agg(["f32", r.choice(("i32", "u32", "i16", "u8")), b])
            if shape == 2:
                return self.agg([Arr("f32", 2), r.choice(("i64", "pointer", "u64"))])
            return self.agg([self.agg([a, "f32"]), r.choice(("f32", "i32"))])
        # MEMORY: over 16 bytes, or misaligned
        if r.random() < 0.3:
            return self.packed_agg(r.randint(3, 16))
        return self.random_agg(r.randint(17, 64 if r.random() < 0.8 else 256))

    def aapcs_ret(self, cls: str) -> Agg:
        r = self.rng
        self.tags.append(f"ret-aapcs-{cls}")
        if cls == "HFA":
            return self.hfa(self.float_scalar(), r.randint(1, 4))
        if cls == "near-HFA":  # five floats, mixed float types, float plus int
            choice = r.randint(0, 2)
            if choice == 0:
                return self.hfa(self.float_scalar(), 5)
            if choice == 1:
                return self.agg(["f32", "f64"] if r.random() < 0.5 else ["f64", "f32", "f32"])
            return self.agg([Arr("f32", 3), "i32"])
        if cls == "small":
            return self.random_agg(r.randint(1, 16))
        return self.random_agg(r.randint(17, 80))

    # -- signatures --

    def ret_type(self, allow_agg=True):
        r = self.rng
        roll = r.random()
        if roll < 0.12:
            return "void"
        if allow_agg and roll < 0.35:
            return self.any_agg()
        return self.scalar()

    def arg_count(self) -> int:
        return _weighted(self.rng, [(10, self.rng.randint(0, 3)), (40, self.rng.randint(4, 9)),
                                    (30, self.rng.randint(10, 16)), (20, self.rng.randint(17, 24))])

    def scalar_args(self, n):
        return [self.scalar() for _ in range(n)]

    def make(self) -> Signature:
        r = self.rng
        category = _weighted(r, [(12, "scalars"), (8, "jit"), (25, "mixed"), (15, "struct-return"),
                                 (28, "exhaustion"), (12, "packed-union")])
        self.tags.append(category)
        if category == "scalars":
            args, ret = self.scalar_args(self.arg_count()), self.ret_type(allow_agg=False)
        elif category == "jit":
            # What a JIT tier's eligibility rules take on both ABIs: <= 8 arguments, <= 6 integer-class.
            n = r.randint(0, 8)
            args = []
            for _ in range(n):
                ints = sum(a in INT_LIKE for a in args)
                args.append(self.float_scalar() if ints >= 6 else self.scalar())
            ret = self.ret_type(allow_agg=False)
        elif category == "mixed":
            args = [self.any_agg() if r.random() < 0.35 else self.scalar() for _ in range(self.arg_count())]
            self._reuse(args)
            ret = self.ret_type()
        elif category == "struct-return":
            if r.random() < 0.55:
                ret = self.sysv_ret(r.choice(("INTEGER", "SSE", "mixed", "MEMORY")))
            else:
                ret = self.aapcs_ret(r.choice(("HFA", "near-HFA", "small", "large")))
            n = _weighted(r, [(30, 0), (30, r.randint(1, 3)), (25, r.randint(4, 8)), (15, r.randint(9, 24))])
            args = [self.any_agg() if r.random() < 0.2 else self.scalar() for _ in range(n)]
        elif category == "exhaustion":
            args, ret = self.exhaustion()
            args = args[:MAX_ARGS]
        else:
            args = []
            for _ in range(r.randint(1, 10)):
                roll = r.random()
                if roll < 0.4:
                    args.append(self.packed_agg())
                elif roll < 0.7:
                    args.append(self.random_agg(self.agg_size_target(), kind="union"))
                else:
                    args.append(self.scalar())
            self._reuse(args)
            roll = r.random()
            ret = self.packed_agg() if roll < 0.3 else (
                self.random_agg(self.agg_size_target(), kind="union") if roll < 0.55 else self.ret_type())
        hash_seed = r.getrandbits(64)
        options = tuple(o for o, p in (("release_gil", 0.25), ("use_errno", 0.15)) if r.random() < p)
        # Some signatures become variadic from a random argument on, decided by a generator of
        # their own so the rest of the corpus is what it was before variadic calls existed.
        ret = _add_int128(self.seed, self.index, args, ret, self.tags)
        v = random.Random(f"fastffi-diff-variadic:{self.seed}:{self.index}")
        nfixed = None
        if args and v.random() < VARIADIC_SHARE:
            nfixed = v.randint(1, len(args))
            self.tags.append("variadic")
        elif nfixed is None:
            ret = self.widen(args, ret)
        return Signature(self.seed, self.index, f"f{self.index}", ret, args, tuple(self.tags), hash_seed, options,
                         nfixed)

    def widen(self, args, ret):
        """issue 16: in some fixed-argument signatures, floating scalars become c64 (for f32) and
        c128 or long double (for f64), in place -- a generator of their own, so the rest of the
        corpus stays what it was."""
        w = random.Random(f"fastffi-diff-wide:{self.seed}:{self.index}")
        if w.random() >= WIDE_SHARE:
            return ret

        def wide(t):
            if t == "f32" and w.random() < 0.6:
                return "c64"
            if t == "f64" and w.random() < 0.6:
                return w.choice(("c128", "longdouble"))
            return t
        args[:] = [wide(t) if isinstance(t, str) else t for t in args]
        ret = wide(ret) if isinstance(ret, str) else ret
        if any(t in WIDE for t in (ret, *args)):
            self.tags.append("wide")
        return ret

    def _reuse(self, args):
        """Sometimes pass one aggregate type several times."""
        aggs = [i for i, a in enumerate(args) if isinstance(a, Agg)]
        if len(aggs) >= 2 and self.rng.random() < 0.3:
            i, j = self.rng.sample(aggs, 2)
            args[j] = args[i]

    def exhaustion(self):
        """Register-exhaustion templates for SysV x86-64 and AAPCS64, with random tails."""
        r = self.rng
        kind = r.randint(0, 13)
        self.tags.append(f"exhaust-{kind}")
        tail = [self.scalar() for _ in range(_weighted(r, [(30, 0), (40, r.randint(1, 3)), (30, r.randint(4, 10))]))]
        # a tail that starts with the scalar class just exhausted is the interesting one
        d, i = "f64", "i64"
        if kind == 0:    # SysV: k doubles then a two-SSE-eightbyte struct (does not fit with k = 7), then a double
            k = r.randint(5, 8)
            s = self.agg(["f64", "f64"] if r.random() < 0.6 else [Arr("f32", 4)])
            args = [self.float_scalar() if r.random() < 0.3 else d for _ in range(k)] + [s, d]
        elif kind == 1:  # SysV: k ints then a 16-byte INTEGER struct (does not fit with k = 5), then an int
            k = r.randint(4, 6)
            s = self.agg(r.choice([[i, i], ["i32", "i32", "u64"], ["pointer", "u16"], [Arr("u8", 16)]]))
            args = [self.int_scalar() for _ in range(k)] + [s, self.int_scalar()]
        elif kind == 2:  # 9 floats then a struct, then a float
            n = r.randint(8, 10)
            args = [self.float_scalar() for _ in range(n)] + [self.any_agg(), self.float_scalar()]
        elif kind == 3:  # SysV mixed struct {int, double} when GP (or SSE) registers run out
            if r.random() < 0.5:
                args = [self.int_scalar() for _ in range(r.randint(5, 6))]
            else:
                args = [self.float_scalar() for _ in range(r.randint(7, 8))]
            s = self.agg([i, d] if r.random() < 0.5 else [d, "i32"])
            args += [s, self.int_scalar(), d]
        elif kind == 4:  # AAPCS64: HFA that does not fit the remaining v registers, then a double (stack)
            k = r.randint(5, 7)  # n = 8 - k fits exactly, more does not
            h = self.hfa(self.float_scalar(), r.randint(8 - k, 4))
            args = [d for _ in range(k)] + [h, d, "f32"]
        elif kind == 5:  # AAPCS64: composite needing two GP registers when one is left (NGRN := 8), then ints
            k = 7 if r.random() < 0.7 else 6
            s = self.agg(r.choice([[i, i], ["i32", "f32", "i64"], [Arr("u8", 9)], ["pointer", "f64"]]))
            args = [self.int_scalar() for _ in range(k)] + [s, self.int_scalar(), "i8"]
        elif kind == 6:  # both register files exhausted, then small structs on the stack
            args = [self.int_scalar() for _ in range(6)] + [self.float_scalar() for _ in range(8)]
            r.shuffle(args)
            args += [self.random_agg(r.randint(1, 16)) for _ in range(r.randint(1, 4))]
        elif kind == 7:  # many small structs: registers consumed by aggregates, the rest stacked
            args = [self.random_agg(r.randint(1, 16)) for _ in range(r.randint(5, 12))]
        elif kind == 8:  # a MEMORY return (hidden pointer) plus six integer arguments
            args = [self.int_scalar() for _ in range(6)] + [self.random_agg(r.randint(9, 16), pool=INT_LIKE)]
            return args + tail, self.sysv_ret("MEMORY")
        elif kind == 9:  # stack arguments of mixed sizes and alignment, odd-sized structs between them
            args = [i] * 6 + [d] * 8
            for _ in range(r.randint(3, 8)):
                args.append(r.choice([self.scalar(), self.random_agg(r.randint(1, 7)),
                                      self.agg([Arr("u8", r.randint(1, 15))])]))
        elif kind == 10:  # HFAs of every size until the v registers run out, then a double
            args = [self.hfa(self.float_scalar(), r.randint(1, 4)) for _ in range(r.randint(2, 5))] + [d, "f32"]
        elif kind == 11:  # large composites (> 16 bytes: memory / by reference) between registers
            args = []
            for _ in range(r.randint(2, 6)):
                args.append(self.random_agg(r.randint(17, 64)))
                args.append(self.scalar())
        elif kind == 12:  # HFA with an int tail: AAPCS64 float registers full, ints still in registers
            args = [self.float_scalar() for _ in range(r.randint(6, 8))] + \
                   [self.hfa(self.float_scalar(), r.randint(2, 4)), self.int_scalar(), d]
        else:            # SysV SSE struct of one eightbyte when exactly one xmm is left, then two
            args = [d] * 7 + [self.agg(["f32", "f32"]), self.agg(["f64"]), d]
        ret = self.ret_type()
        return args + tail, ret


#: The share of signatures with arguments that are made variadic.
VARIADIC_SHARE = 0.15
#: the share of fixed-argument signatures Generator.widen considers (issue 16)
WIDE_SHARE = 0.15

#: The share of signatures given 16-byte integer arguments (issue 16).
INT128_SHARE = 0.12


def _add_int128(seed: int, index: int, args: list, ret, tags: list):
    """Insert 1-3 i128/u128 arguments at random positions of some signatures -- after 5 or 6
    integers, at odd register numbers, on the stack -- and make half of their scalar returns one,
    from a generator of their own, so every other signature of the corpus is what it was before
    they existed.  Returns the (possibly new) return type."""
    g = random.Random(f"fastffi-diff-int128:{seed}:{index}")
    if g.random() >= INT128_SHARE or len(args) >= MAX_ARGS:
        return ret
    for _ in range(g.randint(1, 3)):
        if len(args) >= MAX_ARGS:
            break
        args.insert(g.randint(0, len(args)), g.choice(INT128S))
    tags.append("int128")
    if isinstance(ret, str) and ret != "void" and g.random() < 0.5:
        ret = g.choice(INT128S)
    return ret


def generate(seed: int, index: int) -> Signature:
    """Signature ``index`` of the run seeded ``seed``."""
    return Generator(seed, index).make()


def c_type(t) -> str:
    if isinstance(t, Agg):
        return t.tag
    return C_NAMES[t]


__all__ = ["Agg", "Arr", "Signature", "Generator", "generate", "value_leaves", "all_leaves", "approx_layout",
           "approx_size", "c_type", "SCALARS", "INTS", "FLOATS", "INT_LIKE", "SIZES", "C_NAMES", "INT128S"]
