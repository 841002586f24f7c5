"""The function spec: everything decided in Python for one function, handed to
the C core as one object, ``_core.make_function(spec)``.

The core reads it by index (``_core/runtime/function_spec.h`` lists the same
fields in the same order), so a new field is one line here and one there;
importing this module checks that the two lists agree."""
from __future__ import annotations

from typing import Any, NamedTuple

from .. import _core


class FunctionSpec(NamedTuple):
    address: int            #: the C function's address (not NULL)
    name: str               #: for messages and repr
    retkind: int            #: kind code of the return (``_core.KINDS``; ``KIND_STRUCT`` for a struct)
    argkinds: bytes         #: one kind code per argument
    retstruct: Any          #: the struct/union class of a by-value return, else None
    retsize: int            #: bytes of the return value
    argstructs: tuple       #: per argument, its struct/union class or None
    restype: Any            #: what ``fn.restype`` shows
    argtypes: tuple         #: what ``fn.argtypes`` shows
    lib: Any                #: the ``_core.LibraryHandle``, or None for a raw address
    flags: int              #: ``_core.RELEASE_GIL | USE_ERRNO | JIT_ALLOWED``
    tier: int               #: ``_core.TIER_JIT``, ``TIER_PLAN`` or ``TIER_LIBFFI``
    explanation: Any        #: ``fn.explain()``'s text, or a callable making it on first use
    ffi_structs: Any        #: libffi tier: ``FFIStructType`` or None for (return, *arguments)
    plan: bytes | None      #: plan and jit tiers: the encoded plan
    code: Any               #: jit tier: the ``CodeRegion`` holding the entry point
    entry: int              #: jit tier: the entry point's offset in ``code``
    argchecks: bytes        #: per argument, what a call checks beyond its kind (``_core.ARG_*``, tiers/checks.py)
    argpointees: tuple      #: per argument, the pointee an ``ARG_TYPED`` argument is checked against, else None
    stack_check: int = 0    #: bytes of stack arguments checked against the thread's free stack per call, or 0
    nfixed: int = -1        #: a variadic call's fixed arguments (the rest are variadic), or -1: not variadic
    variadic: Any = None    #: a variadic declaration: its tiers.variadic.Variadic (calls dispatch by type), else None
    result_maker: Any = None  #: a function-pointer result: address -> its Function (tiers/function_pointers.py)


if FunctionSpec._fields != _core.FUNCTION_SPEC_FIELDS:
    raise ImportError(f"fastffi.tiers.spec: FunctionSpec's fields {FunctionSpec._fields} are not the C core's "
                      f"{_core.FUNCTION_SPEC_FIELDS} (_core/runtime/function_spec.h): rebuild, or edit both")
