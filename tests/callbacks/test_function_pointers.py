"""Function pointers from C to Python: a function-pointer result or struct
field read is a callable Function of its declared type (None for NULL), on
every tier (the JIT refuses such results with its reason)."""
import ctypes

import pytest

import fastffi
from conftest import raises_exact
from fastffi.tiers import function_pointers
from fastffi.tiers import jit as tier_jit

PICK = "int (*fp_pick(int which))(int, int)"


@pytest.fixture(params=[t for t in fastffi.available_tiers() if t != "jit"])
def ftier(request):
    """The tiers that return function pointers as Functions (the JIT refuses: a test below)."""
    return request.param


def test_result_is_a_function_of_its_type(lib, ftier):
    pick = lib.function(PICK, tier=ftier)
    add, sub = pick(0), pick(1)
    assert isinstance(add, fastffi.Function)
    assert add(2, 3) == 5 and sub(2, 3) == -1
    assert add.argtypes == ("i32", "i32") and add.restype == "i32"
    assert add.address == lib.symbol("fp_add") and sub.address == lib.symbol("fp_sub")
    assert add.__name__ == f"fn_0x{add.address:x}"
    assert pick(7) is None                       # NULL


def test_result_functions_are_made_once_per_address(lib):
    pick = lib.function(PICK)
    assert pick(0) is pick(0)
    assert pick(0) is not pick(1)


def test_result_function_checks_its_arguments(lib):
    add = lib.function(PICK)(0)
    with raises_exact(TypeError, f"{add.__name__}() takes 2 arguments (1 given)"):
        add(1)
    with pytest.raises(OverflowError):
        add(2**31, 0)


def test_unexported_function_reached_through_its_pointer(lib, ftier):
    get = lib.function("double (*fp_pick_double(void))(double, double)", tier=ftier)
    hypot2 = get()
    assert hypot2(3.0, 4.0) == 25.0
    assert hypot2.restype == "f64" and hypot2.tier in fastffi.available_tiers()
    assert "fp_hypot2" not in lib


def test_variadic_function_pointer_result(lib, ftier):
    get = lib.function("long (*fp_pick_variadic(void))(int, ...)", tier=ftier)
    sum_ints = get()
    assert sum_ints._nfixed_ == 1
    assert sum_ints(3, 10, 20, 12) == 42
    assert sum_ints.variadic("int", "int")(2, 5, 6) == 11


def test_list_form_and_typedef(lib, ftier):
    fastffi.define("fp_binop", "int (*)(int, int)")
    try:
        pick = lib.function("fp_pick", "fp_binop", ["int"], tier=ftier)
        assert pick(1)(10, 4) == 6
        assert lib.function("fp_binop fp_pick(int)")(0)(10, 4) == 14
    finally:
        fastffi.undefine("fp_binop")


JIT_REASON = "the result is a function pointer (returned as a Function; the JIT returns pointers as ints)"


def test_the_jit_refuses_with_its_reason(lib):
    sig = fastffi.cdecl.spelling.parse_declaration(PICK)
    assert tier_jit.refusal(sig) == JIT_REASON
    assert tier_jit.refusal(sig._replace(restype=fastffi.cdecl.spelling.resolve_type("void *"))) is None
    fn = lib.function(PICK)
    assert fn.tier != "jit"
    if "jit" in fastffi.available_tiers():
        assert f"  jit refused: {JIT_REASON}" in fn.explain().splitlines()
        with raises_exact(fastffi.SignatureError, f"fp_pick: tier 'jit' refused: {JIT_REASON}"):
            lib.function(PICK, tier="jit")


def test_plain_pointer_results_stay_ints(lib, tier):
    pick = lib.function("void *fp_pick(int)", tier=tier)
    assert pick(0) == lib.symbol("fp_add")
    assert pick(9) == 0                          # NULL: an int, as every pointer result
    assert lib.function("fp_pick", "pointer", ["int"], tier=tier)(1) == lib.symbol("fp_sub")


def test_result_functions_share_the_library(lib, fixture_lib_path):
    with fastffi.dlopen(fixture_lib_path) as other:
        add = other.function(PICK)(0)
    with pytest.raises(fastffi.LibraryClosedError):
        add(1, 2)
    assert lib.function(PICK)(0)(1, 2) == 3          # another handle is unaffected


def test_maker_cache_is_bounded(lib):
    made = []
    maker = function_pointers.FunctionMaker(lambda a, sig, handle: made.append(a) or object(),
                                            fastffi.cdecl.spelling.resolve_type("int (*)(int)").pointee)
    for a in range(1, function_pointers.CACHE_LIMIT + 2):
        maker(a)
    assert len(maker.made) == 1 and len(made) == function_pointers.CACHE_LIMIT + 1
    assert maker(0) is None


# --- a vtable: sqlite3_io_methods-like, read and called -------------------------------------------

@pytest.fixture
def io_types():
    methods = fastffi.struct("fp_io_methods", [
        ("iVersion", "int"),
        ("xClose", "int (*)(struct fp_file *)"),
        ("xRead", "int (*)(struct fp_file *, void *, int, int64_t)"),
        ("xFileSize", "int (*)(struct fp_file *, int64_t *)"),
        ("xName", "const char *(*)(const struct fp_file *)"),
        ("xUnused", "void (*)(void)"),
    ])
    file = fastffi.struct("fp_file", [("pMethods", "const fp_io_methods *"), ("size", "int64_t"),
                                      ("closed", "int")], types={"fp_io_methods": methods})
    return methods, file


def expected_bytes(offset, n, size):
    return bytes(((i * 7 + 3) & 0xFF) if i < size else 0 for i in range(offset, offset + n))


def test_vtable_methods_are_callable(lib, io_types):
    methods_t, file_t = io_types
    fp_open = lib.function("fp_open", "pointer", ["int64_t"])
    address = fp_open(100)
    f = file_t.from_address(address)
    m = methods_t.from_address(f.pMethods)
    assert m.iVersion == 1
    assert m.xUnused is None
    assert m.xName(address) == "fixture.db"
    size = fastffi.new("int64_t")
    assert m.xFileSize(address, size) == 0 and size.value == 100
    buf = bytearray(16)
    assert m.xRead(address, buf, 16, 90) == 10
    assert bytes(buf) == expected_bytes(90, 16, 100)
    assert m.xRead.__name__ == "fp_io_methods.xRead"
    assert m.xRead is m.xRead                         # made once per address
    assert f.closed == 0 and m.xClose(address) == 0 and f.closed == 1


def test_vtable_functions_check_arguments(lib, io_types):
    methods_t, file_t = io_types
    address = lib.function("fp_open", "pointer", ["int64_t"])(8)
    m = methods_t.from_address(file_t.from_address(address).pMethods)
    with raises_exact(TypeError, "fp_io_methods.xRead() takes 4 arguments (2 given)"):
        m.xRead(address, bytearray(4))


def test_function_pointer_field_write(lib):
    ops = fastffi.struct("fp_ops", [("op", "int (*)(int, int)"), ("n", "int")])
    o = ops()
    assert o.op is None
    add = lib.function("int fp_add(int, int)")
    o.op = add                                    # a Function, by its address
    assert o.op(4, 5) == 9 and o.op.address == add.address
    o.op = lib.symbol("fp_sub")                   # an address
    assert o.op(4, 5) == -1
    o.op = 0
    assert o.op is None
    assert bytes(o)[:8] == b"\0" * 8


def test_a_struct_of_function_pointers_matches_ctypes_layout(lib):
    ops = fastffi.struct("fp_ops2", [("a", "int (*)(int, int)"), ("b", "int (*)(int, int)")])
    o = ops(a=lib.symbol("fp_add"), b=lib.symbol("fp_sub"))
    raw = (ctypes.c_void_p * 2).from_buffer(bytearray(bytes(o)))
    assert list(raw) == [lib.symbol("fp_add"), lib.symbol("fp_sub")]
    assert (o.a(1, 2), o.b(1, 2)) == (3, -1)


def test_functions_and_the_functions_they_made_are_freed(lib):
    import gc
    import weakref

    pick = lib.function(PICK)
    made = pick(0)
    refs = [weakref.ref(pick), weakref.ref(made)]
    assert made(1, 1) == 2
    del pick, made
    gc.collect()
    assert [r() for r in refs] == [None, None]
