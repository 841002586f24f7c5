"""Non-const ``char *`` results: a :class:`fastffi.CString` -- a str that keeps
the address C returned, so memory the callee allocated can be freed -- while
``const char *`` results and the list form's ``"string"`` stay plain str."""
from __future__ import annotations

import copy
import os
import pickle

import pytest

import fastffi



def test_strdup_result_carries_its_address_and_can_be_freed(process, tier):
    strdup = process.function("char *strdup(const char *)", tier=tier)
    free = process.function("void free(void *)", tier=tier)
    s = strdup("héllo, world")
    assert type(s) is fastffi.CString
    assert isinstance(s, str)
    assert s == "héllo, world" and hash(s) == hash("héllo, world")
    assert isinstance(s.address, int) and s.address != 0
    assert fastffi.to_bytes(s.address, 14) == "héllo, world\0".encode()
    t = strdup(s)                      # passes back in as a str
    assert t == s and t.address != s.address
    free(s.address)
    free(t.address)
    assert s == "héllo, world"         # the text was copied out before the free


def test_getenv_compares_equal_to_the_environment(process, tier, monkeypatch):
    monkeypatch.setenv("FASTFFI_CSTRING_TEST", "/root")
    getenv = process.function("char *getenv(const char *)", tier=tier)
    value = getenv("FASTFFI_CSTRING_TEST")
    assert value == "/root" and type(value) is fastffi.CString
    assert getenv("HOME") == os.environ["HOME"]
    assert getenv("FASTFFI_CSTRING_TEST_UNSET") is None     # NULL stays None


def test_realpath_and_getcwd_results_are_freed_through_their_address(process, tier, tmp_path):
    realpath = process.function("char *realpath(const char *path, char *resolved)", tier=tier)
    getcwd = process.function("char *getcwd(char *buf, unsigned long size)", tier=tier)
    free = process.function("void free(void *)", tier=tier)
    p = realpath(str(tmp_path), None)
    assert p == os.path.realpath(tmp_path)
    free(p.address)
    cwd = getcwd(None, 0)
    assert cwd == os.getcwd()
    free(cwd.address)


def test_const_char_and_list_form_results_stay_plain_str(lib, tier):
    const = lib.function("const char *ret_static_str(void)", tier=tier)
    listed = lib.function("ret_static_str", "string", [], tier=tier)
    assert type(const()) is str and const() == "hello, fastffi"
    assert type(listed()) is str and listed() == "hello, fastffi"


def test_non_const_result_of_a_const_function_decodes_like_str(lib, tier):
    # Declared non-const: the same text, surrogateescape included, and the address.
    bad = lib.function("char *ret_bad_utf8_str(void)", tier=tier)
    plain = lib.function("const char *ret_bad_utf8_str(void)", tier=tier)
    assert bad() == plain() == "ab\udcff\udcfecd\udcc3"
    assert type(bad()) is fastffi.CString and type(plain()) is str
    assert fastffi.to_bytes(bad().address, 7) == b"ab\xff\xfecd\xc3"
    assert lib.function("char *ret_empty_str(void)", tier=tier)() == ""
    assert lib.function("char *ret_null_str(void)", tier=tier)() is None


def test_a_cstring_passes_as_a_str_argument(lib, process, tier):
    strdup = process.function("char *strdup(const char *)", tier=tier)
    free = process.function("void free(void *)", tier=tier)
    strlen_const = process.function("unsigned long strlen(const char *)", tier=tier)
    strlen_mut = process.function("unsigned long strlen(char *)", tier=tier)
    echo = lib.function("const char *echo_str(const char *)", tier=tier)
    s = strdup("abc€")
    assert strlen_const(s) == 6 and strlen_mut(s) == 6
    assert echo(s) == "abc€" and type(echo(s)) is str
    free(s.address)


def test_copies_and_pickles_are_plain_str(process):
    strdup = process.function("char *strdup(const char *)")
    s = strdup("x")
    for c in (copy.copy(s), copy.deepcopy(s), pickle.loads(pickle.dumps(s)), str(s), s + "", s[:]):
        assert type(c) is str and c == "x"
    process.function("void free(void *)")(s.address)


def test_cstring_constructor():
    s = fastffi.CString("abc", 0x1234)
    assert s == "abc" and s.address == 0x1234 and fastffi.CString.__module__ == "fastffi"
    with pytest.raises(TypeError, match=r"^CString\(\) address must be an int, got str$"):
        fastffi.CString("abc", "0")
    with pytest.raises(ValueError, match=r"^CString\(\) address must not be NULL \(a NULL result is None\)$"):
        fastffi.CString("abc", 0)
    for address in (-1, 2**64, 2**70):
        with pytest.raises(OverflowError) as info:
            fastffi.CString("abc", address)
        assert str(info.value) == f"CString() address: {address} does not fit pointer"
    assert fastffi.CString("abc", 2**64 - 1).address == 2**64 - 1
    with pytest.raises(TypeError):
        fastffi.CString(b"abc", 1)
    with pytest.raises(TypeError):
        class Sub(fastffi.CString):   # final: nothing can rebuild it without an address
            pass


@pytest.mark.parametrize("release_gil", [False, True])
def test_result_pointing_into_a_mutable_str_copy_is_read_before_the_copy_is_freed(process, tier, release_gil):
    # A str for a non-const char * is passed as a fresh copy; strchr's result
    # points into it, so it is decoded before the copy is released.
    strchr = process.function("char *strchr(char *s, int c)", tier=tier, release_gil=release_gil)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for n in (1, 2, 4, 100):
        assert strchr(alphabet * n, ord("b")) == alphabet[1:] + alphabet * (n - 1)
    assert strchr("abc", ord("z")) is None
    assert strchr(bytearray(b"xyz\0"), ord("y")) == "yz"
