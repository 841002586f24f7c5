"""Struct and union layout: a pure function of the field table.

The rules are the C compiler's (GCC/Clang on the System V and AAPCS64 ABIs):
each member is placed at the next multiple of its alignment; a struct's
alignment is its largest member alignment and its size is rounded up to it;
``#pragma pack(N)`` caps every member's alignment at N.  A union places every
member at 0.  tests/test_layout.py checks all of this against the compiler.

Alongside the layout this module derives what the ABI code needs without
expanding arrays element by element, so ``u8[4000000]`` costs what ``u8[4]``
does: whether some scalar is misaligned and whether a union is inside are
computed per member; the flat list of every scalar leaf (arrays expanded,
nested structs inlined) is built only when asked for (AAPCS64's HFA test asks
only of aggregates small enough to be one)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from .. import _core
from .scalars import Scalar

#: Whether an unnamed bit-field's declared type raises the aggregate's
#: alignment.  The SysV psABI (3.1.2, "Bit-Fields") says unnamed bit-fields do
#: not affect it; AAPCS64 (10.1.8.1) does not exempt them, so on AArch64 the
#: container type of `long :22` or of a zero-width `long long :0` counts like a
#: named member's -- and a zero-width one counts in full even under
#: ``#pragma pack`` or ``packed``, which never apply to it (GCC, stor-layout.cc,
#: update_alignment_for_field under TARGET_ALIGN_ANON_BITFIELD).
HOST_ANON_BITFIELDS_ALIGN = _core.PLAN_ABI == "aapcs64"


@dataclass(frozen=True)
class Field:
    """One member: ``count`` is None for a plain member, N for ``T name[N]``.

    A bit-field has ``bits`` (its width) and ``bit_offset``: its first bit,
    counted from the least significant bit of the byte at ``offset`` (the
    start of the storage unit of its declared type that holds it, x86-64 and
    AArch64 being little-endian); the unit is what the ABI classifiers see."""

    name: str
    type: Any  # Scalar or a struct/union class
    count: int | None
    offset: int
    size: int  # whole member, array included
    bits: int | None = None
    bit_offset: int = 0


@dataclass(frozen=True)
class Leaf:
    """A scalar leaf of a (possibly nested) aggregate, at a byte offset."""

    offset: int
    type: Scalar


@dataclass(frozen=True)
class Layout:
    name: str
    is_union: bool
    size: int
    align: int
    pack: int | None
    fields: tuple[Field, ...]
    #: some leaf is not at a multiple of its natural alignment (packed)
    misaligned: bool
    #: a union somewhere inside (the value, not the layout, decides the bytes)
    has_union: bool
    #: (alignment, offset % alignment) of every scalar leaf: at most 31
    #: pairs (alignments are powers of two up to 16), whatever the element
    #: count -- enough to tell whether a copy placed at any offset has a
    #: misaligned leaf (:func:`_placed`)
    leaf_residues: frozenset
    #: a bit-field somewhere inside (libffi cannot describe one)
    has_bitfields: bool = False

    @functools.cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    @functools.cached_property
    def leaves(self) -> tuple[Leaf, ...]:
        """Every scalar leaf in memory order (for unions: every member's
        leaves).  O(total elements): built on first use only."""
        leaves = []
        for f in self.fields:
            step = size_align(f.type)[0]
            for i in range(f.count if f.count is not None else 1):
                leaves.extend(_leaves_of(f.type, f.offset + i * step))
        leaves.sort(key=lambda leaf: leaf.offset)
        return tuple(leaves)

    @functools.cached_property
    def key(self) -> tuple:
        """Everything of this layout an ABI classifier or libffi reads, with
        nested classes replaced by their own keys: equal keys classify alike,
        and a key refers to no class (see :func:`type_key`)."""
        return (self.name, self.is_union, self.size, self.align, self.pack,
                tuple([(f.name, f.offset, f.count, type_key(f.type))
                       + ((f.bits, f.bit_offset) if f.bits is not None else ()) for f in self.fields]))


def size_align(t) -> tuple[int, int]:
    """(size, alignment) of a scalar or an aggregate class."""
    if isinstance(t, Scalar):
        return t.size, t.align
    lay = t._layout_
    return lay.size, lay.align


def type_key(t):
    """A type as the per-signature caches see it: a scalar stands for itself
    (a pointer type for its kind's canonical scalar), an aggregate for its
    layout's key -- so no cache keeps a class alive."""
    return t.key if t.__class__ is Scalar else t._layout_.key


def _leaves_of(t, base: int):
    if isinstance(t, Scalar):
        yield Leaf(base, t)
        return
    for f in t._layout_.fields:
        step = size_align(f.type)[0]
        for i in range(f.count if f.count is not None else 1):
            yield from _leaves_of(f.type, base + f.offset + i * step)


def _round_up(n: int, align: int) -> int:
    return (n + align - 1) // align * align


def compute_layout(name: str, members, *, pack: int | None = None, is_union: bool = False,
                   member_align: dict | None = None, min_align: int = 1,
                   anon_bitfields_align: bool = HOST_ANON_BITFIELDS_ALIGN) -> Layout:
    """Lay out ``members``: a sequence of (name, type, count-or-None), or
    (name, type, None, width) for a bit-field (name None: an unnamed one).

    ``member_align`` maps member names to GCC's ``__attribute__((aligned(N)))``
    on the member, and ``min_align`` is the attribute on the struct: each
    raises an alignment and never lowers it, and a member's own attribute
    holds inside a packed struct too (GCC manual, "Common Type Attributes").

    Bit-fields follow the System V psABI (3.1.2, "Bit-Fields"), which GCC
    also applies on AAPCS64 (10.1.8.1 there): a bit-field lives in storage
    units of its declared type and is moved to the next unit rather than
    straddle one (packed ones, and any under ``pack``, may straddle); a zero-width one ends the unit
    (C11 6.7.2.1p12); unnamed ones affect the alignment of the struct only
    where ``anon_bitfields_align`` (the host's rule, HOST_ANON_BITFIELDS_ALIGN)."""
    if pack is not None and (pack <= 0 or pack & (pack - 1)):
        raise ValueError(f"pack must be a power of two, got {pack!r}")
    bit = 0    # the next free bit of a struct
    size = 0   # a union's largest member, in bytes
    align = 1
    fields = []
    bitfields = False
    for member in members:
        fname, ftype, count = member[0], member[1], member[2]
        width = member[3] if len(member) > 3 else None
        esize, ealign = size_align(ftype)
        natural = ealign
        if pack is not None:
            ealign = min(ealign, pack)
        if member_align and fname in member_align:
            ealign = max(ealign, member_align[fname])
        if width is not None:
            bitfields = True
            if width == 0:
                if not is_union:
                    bit = _round_up(bit, natural * 8)
                if anon_bitfields_align:
                    align = max(align, natural)
                continue
            if is_union:
                start = 0
                size = max(size, (width + 7) // 8)
            else:
                start = bit
                # GCC checks for a straddled unit only without packing (stor-layout.cc, place_field:
                # PCC_BITFIELD_TYPE_MATTERS applies when maximum_field_alignment is 0 and the field is
                # not packed): packed and #pragma pack bit-fields start at the next free bit.
                if pack is None and start % (ealign * 8) + width > esize * 8:
                    start = _round_up(start, ealign * 8)
                bit = start + width
            if fname is not None:
                unit = start // (natural * 8) * natural
                fields.append(Field(fname, ftype, None, unit, esize, width, start - unit * 8))
            if fname is not None or anon_bitfields_align:
                align = max(align, ealign)
            continue
        total = esize * (count if count is not None else 1)
        if is_union:
            foffset = 0
            size = max(size, total)
        else:
            foffset = _round_up((bit + 7) // 8, ealign)
            bit = (foffset + total) * 8
        align = max(align, ealign)
        fields.append(Field(fname, ftype, count, foffset, total))
    if not is_union:
        size = (bit + 7) // 8
    align = max(align, min_align)
    size = _round_up(size, align)
    residues = frozenset().union(*[_placed(f) for f in fields])
    misaligned = any(r for _, r in residues)
    has_union = is_union or any(not isinstance(f.type, Scalar) and f.type._layout_.has_union for f in fields)
    bitfields = bitfields or any(not isinstance(f.type, Scalar) and f.type._layout_.has_bitfields for f in fields)
    return Layout(name, is_union, size, align, pack, tuple(fields), misaligned, has_union, residues, bitfields)


def _placed(f: Field) -> set:
    """The leaf residues of member ``f`` in the enclosing aggregate.  Element
    i of an array sits at ``offset + i * step``; modulo an alignment a that
    repeats with a period dividing a, so ``min(count, a)`` elements give every
    residue -- O(1) per member, not O(count).  (A packed struct's step need
    not be a multiple of its leaves' alignment, so element 1 can be
    misaligned where element 0 is not; and a misaligned inner leaf can be
    aligned again by the member's offset.)"""
    inner = {(f.type.align, 0)} if isinstance(f.type, Scalar) else f.type._layout_.leaf_residues
    count = 1 if f.count is None else f.count
    step = size_align(f.type)[0]
    return {(a, (f.offset + r + i * step) % a) for a, r in inner for i in range(min(count, a))}


__all__ = ["Field", "Leaf", "Layout", "compute_layout", "size_align", "type_key"]
