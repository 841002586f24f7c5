"""include()'s on-disk cache: a warm include decodes the stored tables
without running the preprocessor, a changed file is read again, writes are
atomic, cache=False leaves the disk alone."""
import os

import pytest

import fastffi
import fastffi.header as header_module
from fastffi.cdecl import preprocess


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("FASTFFI_CACHE_DIR", str(d))
    monkeypatch.setattr(header_module, "_includes", {})
    return d


def _no_preprocessor(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the preprocessor ran on a warm include")
    monkeypatch.setattr(preprocess, "preprocess", refuse)


def test_warm_include_binds_without_the_preprocessor(cache_dir, monkeypatch):
    cold = fastffi.include("zlib.h")
    assert [p.suffix for p in cache_dir.iterdir()] == [".ffh"]
    monkeypatch.setattr(header_module, "_includes", {})
    _no_preprocessor(monkeypatch)
    warm = fastffi.include("zlib.h")
    assert warm is not cold
    assert warm.constants == cold.constants and warm.own == cold.own and warm.files == cold.files
    assert {n: str(f) for n, f in warm.functions.items()} == {n: str(f) for n, f in cold.functions.items()}
    for name, t in cold.types.items():
        w = warm.type(name)
        if isinstance(t, type):
            assert w._layout_.key == t._layout_.key, name
        else:
            assert w == t or str(w) == str(t), name
    with fastffi.dlopen("libz.so.1", warm) as z:
        strm = warm.type("z_stream")()
        assert z.deflateInit_(strm, -1, z.ZLIB_VERSION, fastffi.sizeof(strm)) == z.Z_OK
        assert z.deflateEnd(strm) == z.Z_OK


def test_warm_include_of_stat_and_netdb_layouts(cache_dir, monkeypatch):
    cold = {h: fastffi.include(h) for h in ("sys/stat.h", "netdb.h", "pthread.h")}
    monkeypatch.setattr(header_module, "_includes", {})
    _no_preprocessor(monkeypatch)
    for h, c in cold.items():
        w = fastffi.include(h)
        for name, t in c.types.items():
            if isinstance(t, type):
                assert w.type(name)._layout_.key == t._layout_.key, (h, name)
                assert w.type(name)._promoted_ == t._promoted_


def test_a_changed_header_is_read_again(cache_dir, tmp_path):
    hdr = tmp_path / "mine.h"
    hdr.write_text("#define MINE 1\nint mine(int);\n")
    assert fastffi.include(str(hdr)).constants["MINE"] == 1
    hdr.write_text("#define MINE 22\nint mine(int);\n")
    st = os.stat(hdr)
    os.utime(hdr, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fastffi.include(str(hdr)).constants["MINE"] == 22
    header_module._includes.clear()
    assert fastffi.include(str(hdr)).constants["MINE"] == 22   # the disk entry is stale too
    assert not [p for p in cache_dir.iterdir() if p.name.startswith(".tmp-")]


def test_cache_false_writes_nothing(cache_dir):
    fastffi.include("dirent.h", cache=False)
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


def test_equal_inputs_give_the_same_header(cache_dir):
    a = fastffi.include("time.h", defines={"_GNU_SOURCE": None})
    assert fastffi.include("time.h", defines={"_GNU_SOURCE": None}) is a
    assert fastffi.include("time.h") is not a


def test_a_corrupt_entry_is_a_miss(cache_dir, monkeypatch):
    fastffi.include("string.h")
    for p in cache_dir.iterdir():
        p.write_bytes(b"not marshal")
    monkeypatch.setattr(header_module, "_includes", {})
    assert "strlen" in fastffi.include("string.h").functions


def test_a_warm_include_does_not_write(cache_dir, monkeypatch):
    fastffi.include("zlib.h")
    (entry,) = cache_dir.iterdir()
    before = entry.stat().st_mtime_ns
    monkeypatch.setattr(header_module, "_includes", {})
    from fastffi.cdecl import cache

    monkeypatch.setattr(cache, "store", lambda *a: (_ for _ in ()).throw(AssertionError("stored on a warm include")))
    fastffi.include("zlib.h")
    assert entry.stat().st_mtime_ns == before


def test_a_warm_include_needs_no_parser(cache_dir):
    import subprocess
    import sys

    script = ("import sys, fastffi\nz = fastffi.dlopen('libz.so.1', fastffi.include('zlib.h'))\n"
              "assert z.crc32(0, b'abc', 3) == 891568578\nprint('pycparser' in sys.modules)")
    env = dict(os.environ, FASTFFI_CACHE_DIR=str(cache_dir))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            .stdout.split() for _ in range(2)]
    assert runs == [["True"], ["False"]]
