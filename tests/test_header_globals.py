"""Global variables of a library bound to a header: lib.var reads, lib.var = x
writes, arrays and structs are live views; lib.variable(name, type) without
a header; names a Library attribute shadows reached through lib[name]."""
import pytest

import fastffi

C = r"""
struct pt { int x, y; };
int g_counter = 7;
double g_arr[4] = {1, 2, 3, 4};
struct pt g_pt = {1, 2};
unsigned char g_flag = 1;
int function = 99;
int read_counter(void) { return g_counter; }
double arr_sum(void) { return g_arr[0] + g_arr[1] + g_arr[2] + g_arr[3]; }
int pt_sum(void) { return g_pt.x * 100 + g_pt.y; }
"""

DECLS = """
struct pt { int x, y; };
extern int g_counter;
extern double g_arr[4];
extern struct pt g_pt;
extern unsigned char g_flag;
extern int function;
extern int not_in_the_library;
int read_counter(void);
double arr_sum(void);
int pt_sum(void);
"""


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    from conftest import compile_shared

    d = tmp_path_factory.mktemp("globals")
    (d / "globals.c").write_text(C)
    with fastffi.dlopen(compile_shared([d / "globals.c"], d, "globals"), fastffi.cdef(DECLS)) as handle:
        yield handle


def test_scalar_global_reads_and_writes(lib):
    assert lib.g_counter == 7
    lib.g_counter = 41
    assert (lib.g_counter, lib.read_counter()) == (41, 41)
    with pytest.raises(OverflowError, match=r"\.g_flag: 256 does not fit u8$"):
        lib.g_flag = 256
    with pytest.raises(TypeError):
        lib.g_counter = "x"
    assert lib.g_flag == 1


def test_array_and_struct_globals_are_live_views(lib):
    arr = lib.g_arr
    assert list(arr) == [1.0, 2.0, 3.0, 4.0]
    arr[3] = 10.0
    assert lib.arr_sum() == 16.0
    lib.g_arr = [0.5, 0.5, 0.5, 0.5]
    assert (arr[0], lib.arr_sum()) == (0.5, 2.0)
    with pytest.raises(ValueError, match=r"^g_arr: expected a sequence of 4 items, got 2$"):
        lib.g_arr = [1, 2]
    pt = lib.g_pt
    pt.y = 5
    assert lib.pt_sum() == 105
    Pt = lib.header.type("struct pt")
    lib.g_pt = Pt(x=3, y=4)
    assert (pt.x, lib.pt_sum()) == (3, 304)
    with pytest.raises(TypeError, match=r"^g_pt: expected pt, got int$"):
        lib.g_pt = 5


def test_variable_without_a_header(lib):
    box = lib.variable("g_counter", "int")
    box.value = 12
    assert lib.read_counter() == 12 and lib.g_counter == 12
    arr = lib.variable("g_arr", "double[4]")
    assert len(arr) == 4 and arr[0] == lib.g_arr[0]
    pt = lib.variable("g_pt", lib.header.type("struct pt"))
    assert (pt.x, pt.y) == (lib.g_pt.x, lib.g_pt.y)
    with pytest.raises(fastffi.SymbolError):
        lib.variable("no_such_global", "int")


def test_a_missing_global_raises_on_access(lib):
    with pytest.raises(fastffi.SymbolError):
        lib.not_in_the_library
    assert "not_in_the_library" in dir(lib)


def test_a_shadowed_name_through_getitem(lib):
    assert callable(lib.function)            # the Library method wins as an attribute
    assert lib["function"] == 99             # the header's global, through lib[name]
