"""issue 16: ``wstring`` (``wchar_t *``) -- a str passed as a NUL-terminated
UTF-32 copy held for the call (the rules of ``string``: an embedded NUL is
refused, None is NULL), a ``wchar_t *`` result read back as str."""
from __future__ import annotations

import pytest

import fastffi
from fastffi.tiers import callback as callback_mechanisms

TIERS = [t for t in fastffi.available_tiers() if t != "jit"]   # the JIT refuses wstring (tested below)
TEXT = "h\u00e9llo \u20ac \U0001F600"



@pytest.fixture
def utf8_locale(process):
    setlocale = process.function("char *setlocale(int, const char *)")
    lc_ctype = 0   # glibc's LC_CTYPE
    old = str(setlocale(lc_ctype, None))
    assert setlocale(lc_ctype, "C.UTF-8") == "C.UTF-8"
    yield
    setlocale(lc_ctype, old)


@pytest.mark.parametrize("tier", TIERS)
def test_wcslen_counts_code_points(process, tier):
    wcslen = process.function("size_t wcslen(const wchar_t *s)", tier=tier)
    assert wcslen.argtypes == ("wstring",)
    assert wcslen(TEXT) == 9
    assert wcslen("") == 0
    assert wcslen("x" * 10000) == 10000


@pytest.mark.parametrize("tier", TIERS)
def test_wcscmp(process, tier):
    wcscmp = process.function("int wcscmp(const wchar_t *, const wchar_t *)", tier=tier)
    assert wcscmp("abc", "abd") < 0 and wcscmp("abd", "abc") > 0 and wcscmp(TEXT, TEXT) == 0
    assert wcscmp("\U0001F600", "\uffff") > 0   # compared as 32-bit code points, not UTF-16 units


@pytest.mark.parametrize("tier", TIERS)
def test_wcscpy_writes_into_memory_and_returns_it_as_str(process, tier):
    wcscpy = process.function("wchar_t *wcscpy(wchar_t *dst, const wchar_t *src)", tier=tier)
    dst = fastffi.array("wchar_t", 16)
    assert wcscpy(dst, TEXT) == TEXT
    assert list(dst)[:10] == [ord(c) for c in TEXT] + [0]
    raw = bytearray(4 * 4)
    assert wcscpy(raw, "ab\u20ac") == "ab\u20ac"
    assert bytes(raw) == "ab\u20ac\0".encode("utf-32-le")


@pytest.mark.parametrize("tier", TIERS)
def test_mbstowcs_and_wcstombs(process, utf8_locale, tier):
    mbstowcs = process.function("size_t mbstowcs(wchar_t *dst, const char *src, size_t n)", tier=tier)
    wcstombs = process.function("size_t wcstombs(char *dst, const wchar_t *src, size_t n)", tier=tier)
    wide = fastffi.array("wchar_t", 12)
    assert mbstowcs(wide, TEXT, 12) == 9
    assert list(wide)[:10] == [ord(c) for c in TEXT] + [0]
    assert mbstowcs(None, TEXT, 0) == 9          # NULL: only counts
    out = bytearray(32)
    n = wcstombs(out, TEXT, 32)
    assert n == len(TEXT.encode()) and bytes(out[:n + 1]) == TEXT.encode() + b"\0"


@pytest.mark.parametrize("tier", TIERS)
def test_fixture_results_and_null(lib, tier):
    hello = lib.function("const wchar_t *wstr_hello(void)", tier=tier)
    assert hello() == TEXT and type(hello()) is str
    assert lib.function("const wchar_t *wstr_null(void)", tier=tier)() is None
    length = lib.function("long wstr_len(const wchar_t *)", tier=tier)
    assert length(None) == -1
    assert length(TEXT) == 9
    weigh = lib.function("long wstr_weigh(const wchar_t *)", tier=tier)
    assert weigh(TEXT) == sum((i + 1) * ord(c) for i, c in enumerate(TEXT))


@pytest.mark.parametrize("tier", TIERS)
def test_embedded_nul_and_wrong_types_are_refused(lib, tier):
    length = lib.function("long wstr_len(const wchar_t *)", tier=tier)
    with pytest.raises(ValueError) as e:
        length("a\0b")
    assert str(e.value) == "wstr_len() argument 1: embedded null character"
    with pytest.raises(TypeError) as e:
        length(5)
    assert str(e.value) == "wstr_len() argument 1: expected wstring, got int"


def test_list_form_and_type_strings(lib):
    f = lib.function("wstr_len", "i64", ["wstring"])
    assert f("abc") == 3
    assert lib.function("wstr_len", "i64", ["const wchar_t *"])("ab") == 2
    assert lib.function("wstr_hello", "wstring", [])() == TEXT


def test_memory_keeps_the_copy_alive():
    box = fastffi.new("wstring")
    box.value = TEXT
    assert box.value == TEXT
    box.value = None
    assert box.value is None
    with pytest.raises(ValueError) as e:
        box.value = "a\0"
    assert str(e.value) == "value: embedded null character"


def test_raw_address_refuses_a_str():
    backing = bytearray(8)
    with pytest.raises(TypeError) as e:
        fastffi.write(fastffi.address_of(backing), "wstring", "x")
    assert str(e.value) == ("write(): cannot store a str as a wstring pointer at a raw address (it would "
                            "dangle); pass bytes you keep alive, or an address")
    fastffi.write(fastffi.address_of(backing), "wstring", None)
    assert bytes(backing) == bytes(8)


def test_jit_refuses_with_the_reason(lib):
    f = lib.function("long wstr_len(const wchar_t *)")
    if "jit" in fastffi.available_tiers():
        assert ("jit refused: argument 1 is wstring (the JIT emits no wide-string conversions; the plan tier "
                "takes it)") in f.explain()
    assert f.tier in TIERS


def test_map_refuses_with_the_reason(lib):
    f = lib.function("long wstr_len(const wchar_t *)")
    with pytest.raises(TypeError) as e:
        f.map(["a", "b"])
    assert str(e.value) == ("wstr_len.map(): argument 1 is wstring (a wchar_t * column would need a converted "
                            "copy per row); call wstr_len per row")


def test_bound_header_functions_are_callable(fixture_lib_path):
    h = fastffi.cdef("long wstr_len(const wchar_t *s);\nconst wchar_t *wstr_hello(void);\n"
                     "long wstr_weigh(const wchar_t *);")
    assert h.unsupported == {}
    bound = fastffi.dlopen(fixture_lib_path, h)
    assert bound.wstr_hello() == TEXT
    assert bound.wstr_len(TEXT) == 9 and bound.wstr_len(None) == -1
    assert bound.wstr_weigh("ab") == ord("a") + 2 * ord("b")


def test_wchar_h_binds_its_wide_string_functions():
    h = fastffi.include("wchar.h")
    process = fastffi.dlopen(None, h)
    assert process.wcslen(TEXT) == 9
    assert process.wcscmp("a", "a") == 0
    assert str(h.functions["wcslen"]) == "u64 wcslen(wstring)"


def test_callbacks_on_the_plan_and_libffi_mechanisms(lib):
    call = lib.function("long wstr_call(long (*)(const wchar_t *), const wchar_t *)")
    result = lib.function("long wstr_call_result(const wchar_t *(*)(void))")
    keep = fastffi.array("wchar_t", [ord(c) for c in TEXT] + [0])
    for mechanism in [m for m in callback_mechanisms.available_mechanisms() if m != "jit"]:
        seen = []
        cb = fastffi.callback("long (*)(const wchar_t *)", lambda s: seen.append(s) or len(s), tier=mechanism)
        assert call(cb, TEXT) == 9 and seen == [TEXT]
        none = fastffi.callback("long (*)(const wchar_t *)", lambda s: -1 if s is None else 1, tier=mechanism)
        assert call(none, None) == -1
        back = fastffi.callback("const wchar_t *(*)(void)", lambda: keep, tier=mechanism)
        assert result(back) == 9


def test_callback_results_must_outlive_the_callback(lib):
    result = lib.function("long wstr_call_result(const wchar_t *(*)(void))")
    keep = fastffi.array("wchar_t", [ord("x"), 0])
    errors = []
    cb = fastffi.callback("const wchar_t *f(void)", lambda: "abc", error=keep,
                          onerror=lambda t, e, tb: errors.append(str(e)))
    assert result(cb) == 1
    assert errors == [(
        "callback 'f' result: expected an address for wstring (an int, None, a Callback, a Function or fastffi "
        "memory), got str (its memory would be freed when the callback returns)")]


def test_jit_thunk_refuses_with_the_reason():
    if "jit" not in callback_mechanisms.available_mechanisms():
        pytest.skip("no jit callback mechanism here")   # pragma: no cover
    with pytest.raises(fastffi.FFIError) as e:
        fastffi.callback("long (*)(const wchar_t *)", len, tier="jit")
    assert str(e.value) == ("callback 'callback': tier 'jit' refused: argument 1 is wstring (the callback thunk "
                            "boxes no wide strings; the plan mechanism takes it)")


def test_struct_field_keeps_its_copy(lib):
    W = fastffi.struct("WField", [("s", "const wchar_t *"), ("n", "i32")])
    w = W()
    w.s = "h\u00e9llo"
    del W
    assert w.s == "h\u00e9llo"
    assert lib.function("long wstr_len(const wchar_t *)")(w.s) == 5


@pytest.mark.parametrize("tier", TIERS)
def test_result_pointing_into_the_argument_copy_is_read_before_the_copy_is_freed(process, tier):
    # wcschr's result points into the call's copy of the str: decoding it after
    # the copy was released read freed memory (garbage, or '').
    wcschr = process.function("wchar_t *wcschr(const wchar_t *s, wchar_t c)", tier=tier)
    for n in (1, 2, 3, 50):
        assert wcschr(TEXT * n, ord("\u20ac")) == "\u20ac \U0001F600" + TEXT * (n - 1)
    assert wcschr("abc", ord("z")) is None
