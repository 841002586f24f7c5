"""The interface between the package and its C core: the _init handshake (the
core never imports the package) and the function spec make_function reads."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import fastffi
from fastffi import _core

# The core loaded without running fastffi/__init__.py: a bare package module
# stands in for it, so _core._init() has not been called.
_BARE_CORE = """
import importlib.util, sys, types
package = types.ModuleType("fastffi")
package.__path__ = list(importlib.util.find_spec("fastffi").submodule_search_locations)
sys.modules["fastffi"] = package
from fastffi import _core
"""


def _run_bare(body: str) -> str:
    code = _BARE_CORE + textwrap.dedent(body)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_before_init_making_a_function_or_a_library_raises():
    out = _run_bare("""
        for make in (lambda: _core.make_function(None), lambda: _core.LibraryHandle("libc", None, 2)):
            try:
                make()
            except RuntimeError as e:
                print("RuntimeError", "_init" in str(e))
    """)
    assert out.split("\n")[:2] == ["RuntimeError True", "RuntimeError True"]


def test_init_checks_every_argument_before_keeping_any():
    out = _run_bare("""
        good = dict(FFIError=Exception, LibraryClosedError=Exception, LibraryError=Exception,
                    SymbolError=Exception, SignatureError=Exception, CallbackClosedError=Exception,
                    longdouble=print, map=print, shared=print)
        for bad in ({**good, "map": 1}, {**good, "FFIError": int},
                    {k: v for k, v in good.items() if k != "shared"}, {**good, "extra": 1}):
            try:
                _core._init(**bad)
            except TypeError as e:
                print("TypeError")
        try:
            _core.make_function(None)
        except RuntimeError:
            print("still not initialised")
        _core._init(**good)
        try:
            _core.LibraryHandle("nowhere", b"/nonexistent/libnothing.so", 2)
        except Exception as e:
            print(type(e).__name__)
    """)
    assert out.split() == ["TypeError"] * 4 + ["still", "not", "initialised", "Exception"]


def test_errors_raised_by_the_core_are_the_packages():
    with pytest.raises(fastffi.LibraryError):
        fastffi.dlopen("/nonexistent/libnothing.so")
    lib = fastffi.dlopen(None)
    with pytest.raises(fastffi.SymbolError):
        lib.function("int fastffi_no_such_symbol(void)")


def test_function_spec_fields_are_the_cores():
    from fastffi.tiers.spec import FunctionSpec
    assert FunctionSpec._fields == _core.FUNCTION_SPEC_FIELDS


@pytest.mark.parametrize("tier", fastffi.available_tiers())
def test_the_tier_is_a_code_and_fn_tier_its_name(tier):
    codes = {"jit": _core.TIER_JIT, "plan": _core.TIER_PLAN, "libffi": _core.TIER_LIBFFI}
    assert sorted(codes.values()) == [0, 1, 2]
    fn = fastffi.dlopen(None).function("int abs(int)", tier=tier)
    assert fn.tier == tier and type(fn.tier) is str
    assert f"tier={tier}>" in repr(fn)
    assert fn(-3) == 3


def test_make_function_refuses_a_malformed_spec():
    from fastffi.tiers.spec import FunctionSpec
    with pytest.raises(TypeError, match="FunctionSpec"):
        _core.make_function(tuple(range(len(FunctionSpec._fields) - 1)))
    address = _core.LibraryHandle("libc", None, 2).symbol("abs")
    good = FunctionSpec(address, "abs", _core.KINDS["i32"][0], bytes([_core.KINDS["i32"][0]]), None, 4, (None,),
                        "i32", ("i32",), None, 0, _core.TIER_LIBFFI, "", (None, None), None, None, 0, b"\0", (None,))
    assert _core.make_function(good)(-5) == 5
    with pytest.raises(ValueError, match="no tier 7"):
        _core.make_function(good._replace(tier=7))
    # The call path trusts argchecks/argpointees: checks only on pointer
    # arguments, a pointee description exactly where ARG_TYPED is set.
    message = "argchecks/argpointees do not describe pointer arguments"
    for bad in (good._replace(argchecks=bytes([_core.ARG_NUL])),
                good._replace(argpointees=(("i32", "i32 *", 4, ()),)),
                good._replace(argchecks=b"\x40")):
        with pytest.raises(ValueError) as info:
            _core.make_function(bad)
        assert str(info.value) == message
    with pytest.raises(ValueError, match="one entry per argument"):
        _core.make_function(good._replace(argchecks=b""))
    pointer = _core.KINDS["pointer"][0]
    typed = good._replace(argkinds=bytes([pointer]), argchecks=bytes([_core.ARG_TYPED]))
    for pointee in (None, ("i32", "i32 *", 4), ("i32", "i32 *", 4, (int,)), (1, "i32 *", 4, ())):
        with pytest.raises(ValueError) as info:
            _core.make_function(typed._replace(argpointees=(pointee,)))
        assert str(info.value) == message
    assert _core.make_function(typed._replace(argpointees=(("i32", "i32 *", 4, ()),))) is not None
    with pytest.raises(TypeError, match="spec.tier must be an int"):
        _core.make_function(good._replace(tier="libffi"))


def test_make_function_refuses_a_function_result_without_its_maker():
    from fastffi.tiers.spec import FunctionSpec
    address = _core.LibraryHandle("libc", None, 2).symbol("abs")
    i32, pointer = _core.KINDS["i32"][0], _core.KINDS["pointer"][0]
    good = FunctionSpec(address, "abs", pointer, bytes([i32]), None, 8, (None,), "pointer", ("i32",), None,
                        _core.FUNCTION_RESULT, _core.TIER_LIBFFI, "", (None, None), None, None, 0, b"\0", (None,),
                        result_maker=lambda a: ("made", a))
    assert _core.make_function(good)(-5) == ("made", 5)    # abs(-5) as an address, through the maker
    assert _core.make_function(good)(0) is None            # NULL never reaches the maker
    message = "a function-pointer or typed pointer result needs a pointer return kind and a result_maker"

    class P(int):
        __slots__ = ()

    typed = good._replace(flags=_core.TYPED_POINTER_RESULT, result_maker=P)
    for bad in (good._replace(result_maker=None), good._replace(retkind=i32, retsize=4),
                typed._replace(result_maker=None), typed._replace(retkind=i32, retsize=4)):
        with pytest.raises(ValueError) as info:
            _core.make_function(bad)
        assert str(info.value) == message
    # A typed pointer's class makes NULL too (a Pointer that is 0, as a void * result is); small
    # values by calling it, others copied into an instance without the call: the same ints.
    fn = _core.make_function(typed)
    for arg, value in ((0, 0), (-5, 5), (-257, 257), (-(2**31 - 1), 2**31 - 1)):
        assert (type(fn(arg)), fn(arg)) == (P, value)
    # Any other maker is called (a class with int's layout is only the fast way).
    class Fat(int):
        pass   # a __dict__: not int's layout

    for maker, made in ((lambda a: ("made", a), ("made", 100000)), (Fat, Fat(100000))):
        got = _core.make_function(typed._replace(result_maker=maker))(-100000)
        assert (type(got), got) == (type(made), made)
    with pytest.raises(ValueError) as info:
        _core.make_function(typed._replace(flags=_core.TYPED_POINTER_RESULT | 64))
    assert str(info.value) == "flags: FN_TYPED_POINTER_COPY is make_function's own"
    with pytest.raises(ValueError) as info:
        _core.make_function(good._replace(flags=_core.FUNCTION_RESULT | _core.TYPED_POINTER_RESULT))
    assert str(info.value) == "a result is a function pointer or a typed pointer, not both"
