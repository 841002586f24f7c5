"""A header's plain prototypes are read by the fast declaration path: the
result equals what pycparser alone gives, function by function."""
import pytest

import fastffi
import fastffi.header as header_module
from fastffi.cdecl import header as front_end


@pytest.mark.parametrize("name", ["zlib.h", "sqlite3.h", "stdio.h", "netdb.h", "math.h", "pthread.h", "openssl/evp.h",
                                  "stdlib.h", "signal.h", "png.h", "regex.h", "dirent.h"])
def test_fast_prototypes_equal_the_parsers(name, monkeypatch):
    monkeypatch.setattr(header_module, "_includes", {})
    fast = fastffi.include(name, cache=False)
    monkeypatch.setattr(front_end, "_split_prototypes", lambda text: (text, []))
    monkeypatch.setattr(header_module, "_includes", {})
    slow = fastffi.include(name, cache=False)
    assert fast is not slow
    f, s = fast.functions, slow.functions
    assert f.keys() == s.keys()
    assert {k: str(v) for k, v in f.items()} == {k: str(v) for k, v in s.items()}
    assert {k: [t.spelling() if hasattr(t, "spelling") else t.__name__ for t in v.argtypes]
            for k, v in f.items() if hasattr(v, "argtypes")} == \
        {k: [t.spelling() if hasattr(t, "spelling") else t.__name__ for t in v.argtypes]
         for k, v in s.items() if hasattr(v, "argtypes")}
    assert fast.own == slow.own
    # the whole table -- functions, types, variables, constants, as the cache stores it -- is the same
    assert fast._parts[0].raw == slow._parts[0].raw
    assert {k: fast.symbol(k) for k in f} == {k: slow.symbol(k) for k in s}


def test_split_keeps_lines_and_skips_bodies():
    text = "int f(int);\nstruct s { int (*g)(void); } x;\nstatic int h(void) {}\nint k(void);\ntypedef int (*t)(int);\n"
    rest, spans = front_end._split_prototypes(text)
    assert [text[a:b] for a, b in spans] == ["int f(int);", "\nint k(void);"]
    assert rest.count("\n") == text.count("\n") and len(rest) == len(text)
