"""dlopen by short name, found as the dynamic linker finds -lNAME."""
import ctypes.util

import pytest

import fastffi
from fastffi.findlib import find_library, is_short_name


@pytest.mark.parametrize("name", ["z", "sqlite3", "c", "m"])
def test_short_names_match_ctypes(name):
    assert find_library(name) == ctypes.util.find_library(name)


def test_dlopen_short_name_binds():
    with fastffi.dlopen("z", fastffi.include("zlib.h")) as z:
        assert z.zlibVersion() == z.ZLIB_VERSION


def test_unknown_short_name():
    with pytest.raises(fastffi.LibraryError) as e:
        fastffi.dlopen("no_such_library_anywhere")
    assert str(e.value) == ("cannot find library 'no_such_library_anywhere' (as libno_such_library_anywhere.so "
                            "in LD_LIBRARY_PATH, ldconfig's cache or the default directories)")


@pytest.mark.parametrize("name, short", [("z", True), ("libz.so.1", False), ("./z", False), ("libz", False),
                                         (None, False)])
def test_what_is_a_short_name(name, short):
    assert is_short_name(name) is short
