"""What a header declares, as the front end (:mod:`.header`) finds it and
a Header serves it: plain data, importable without the C parser."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SignatureError


@dataclass(frozen=True)
class Refused:
    """A name the header declares that cannot be bound, and why."""

    kind: str      # "function", "inline", "macro", "variable", "type"
    name: str
    reason: str

    def error(self) -> SignatureError:
        return SignatureError(f"{self.name}: {self.reason}")


@dataclass(frozen=True)
class Unsupported:
    """A type the header names that fastffi has no value for."""

    name: str
    reason: str


@dataclass
class Parsed:
    """Everything a header declares."""

    functions: dict = field(default_factory=dict)   # name -> Signature | Refused
    constants: dict = field(default_factory=dict)   # name -> int | float | str
    types: dict = field(default_factory=dict)       # "name" / "struct tag" -> type | Unsupported
    variables: dict = field(default_factory=dict)   # name -> (type, count or None) | Refused
    symbols: dict = field(default_factory=dict)     # name -> the symbol an asm label names
    macros: dict = field(default_factory=dict)      # function-like macro name -> its text
    own: set = field(default_factory=set)           # names declared in the header's own file
    files: list = field(default_factory=list)       # the files the text came from (line markers)


__all__ = ["Parsed", "Refused", "Unsupported"]
