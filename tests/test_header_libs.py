"""include() of real headers, bound to the real libraries: zlib, sqlite3 and
libc through stdio.h, time.h, sys/stat.h, netdb.h, dirent.h."""
import os
import socket
import time
import zlib

import pytest

import fastffi
from fastffi import HeaderError, SignatureError, SymbolError


@pytest.fixture(scope="module")
def z():
    with fastffi.dlopen("libz.so.1", fastffi.include("zlib.h")) as lib:
        yield lib


@pytest.fixture(scope="module")
def libc():
    h = (fastffi.include("stdio.h") + fastffi.include("time.h") + fastffi.include("sys/stat.h")
         + fastffi.include("netdb.h") + fastffi.include("dirent.h") + fastffi.include("unistd.h"))
    with fastffi.dlopen("libc.so.6", h) as lib:
        yield lib


def test_zlib_constants_from_the_header(z):
    assert (z.Z_OK, z.Z_STREAM_END, z.Z_FINISH, z.Z_DEFAULT_COMPRESSION) == (0, 1, 4, -1)
    assert z.ZLIB_VERSION == zlib.ZLIB_VERSION == z.zlibVersion()


def test_zlib_compress_uncompress(z):
    data = b"fastffi binds headers " * 50
    size = fastffi.new("unsigned long", z.compressBound(len(data)))
    dest = bytearray(size.value)
    assert z.compress(dest, size, data, len(data)) == z.Z_OK
    assert zlib.decompress(bytes(dest[:size.value])) == data
    out = bytearray(len(data))
    out_len = fastffi.new("unsigned long", len(out))
    assert z.uncompress(out, out_len, bytes(dest[:size.value]), size.value) == z.Z_OK
    assert (bytes(out), out_len.value) == (data, len(data))


def test_zlib_deflate_on_a_z_stream_from_the_header(z):
    z_stream = z.header.type("z_stream")
    assert z_stream is z.header.type("struct z_stream_s") and fastffi.sizeof(z_stream) == 112
    data = b"stream me " * 100
    src = fastffi.array("u8", data)
    dst = fastffi.array("u8", 2000)
    strm = z_stream()
    assert z.deflateInit_(strm, z.Z_BEST_COMPRESSION, z.ZLIB_VERSION, fastffi.sizeof(z_stream)) == z.Z_OK
    strm.next_in, strm.avail_in = fastffi.address_of(src), len(data)
    strm.next_out, strm.avail_out = fastffi.address_of(dst), len(dst)
    assert z.deflate(strm, z.Z_FINISH) == z.Z_STREAM_END
    assert strm.total_in == len(data)
    assert zlib.decompress(bytes(dst[:strm.total_out])) == data
    assert z.deflateEnd(strm) == z.Z_OK


def test_zlib_lazy_binding_and_names(z):
    assert "adler32_z" not in z.__dict__   # nothing is created before it is used
    fn = z.adler32_z
    assert z.__dict__["adler32_z"] is fn
    fn = z.crc32
    assert z.crc32 is fn and z["crc32"] is fn and fn(0, b"abc", 3) == zlib.crc32(b"abc")
    assert {"crc32", "Z_OK", "ZLIB_VERSION", "deflateInit"} <= set(dir(z))
    with pytest.raises(SignatureError) as e:
        z.deflateInit
    assert str(e.value).startswith("deflateInit: a function-like macro of the header (#define deflateInit(strm,level) ")
    with pytest.raises(AttributeError):
        z.not_in_zlib


def test_sqlite3_open_prepare_step():
    with fastffi.dlopen("libsqlite3.so.0", fastffi.include("sqlite3.h")) as sq:
        assert (sq.SQLITE_OK, sq.SQLITE_ROW, sq.SQLITE_DONE) == (0, 100, 101)
        assert sq.SQLITE_TRANSIENT == 2**64 - 1
        db = fastffi.new("pointer")
        assert sq.sqlite3_open(b":memory:", db) == sq.SQLITE_OK
        stmt = fastffi.new("pointer")
        assert sq.sqlite3_prepare_v2(db.value, b"select ? * 6, 'x'", -1, stmt, None) == sq.SQLITE_OK
        assert sq.sqlite3_bind_int(stmt.value, 1, 7) == sq.SQLITE_OK
        assert sq.sqlite3_step(stmt.value) == sq.SQLITE_ROW
        assert sq.sqlite3_column_int(stmt.value, 0) == 42
        assert sq.sqlite3_step(stmt.value) == sq.SQLITE_DONE
        assert sq.sqlite3_finalize(stmt.value) == sq.SQLITE_OK
        assert sq.sqlite3_close(db.value) == sq.SQLITE_OK
        assert sq.sqlite3_libversion() == sq.SQLITE_VERSION


def test_time_h_localtime_r_strftime(libc):
    tm = libc.header.type("struct tm")()
    when = fastffi.new("time_t", 86400 * 365)
    assert libc.localtime_r(when, tm) is not None
    expect = time.localtime(86400 * 365)
    assert (tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour) == expect[:4]
    buf = bytearray(64)
    n = libc.strftime(buf, len(buf), b"%Y-%m-%d", tm)
    assert bytes(buf[:n]).decode() == time.strftime("%Y-%m-%d", expect)


def test_stat_equals_os_stat(libc, tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 1234)
    st = libc.header.type("struct stat")()
    assert libc.stat(os.fsencode(p), st) == 0
    ref = os.stat(p)
    assert (st.st_size, st.st_ino, st.st_mode, st.st_nlink, st.st_uid) == \
        (ref.st_size, ref.st_ino, ref.st_mode, ref.st_nlink, ref.st_uid)
    assert st.st_mtim.tv_sec == int(ref.st_mtime)


def test_getaddrinfo_walks_addrinfo(libc):
    addrinfo = libc.header.type("struct addrinfo")
    hints = addrinfo(ai_family=libc.AF_INET, ai_socktype=libc.SOCK_STREAM, ai_flags=libc.AI_NUMERICHOST)
    res = fastffi.new("pointer")
    assert libc.getaddrinfo(b"127.0.0.1", b"80", hints, res) == 0
    seen = []
    p = res.value
    while p:
        ai = addrinfo.from_address(p)
        sin = libc.header.type("struct sockaddr_in").from_address(ai.ai_addr)
        seen.append((ai.ai_family, socket.ntohs(sin.sin_port), socket.inet_ntoa(bytes(sin.sin_addr))))
        p = ai.ai_next
    libc.freeaddrinfo(res.value)
    assert seen == [(socket.AF_INET, 80, "127.0.0.1")]


def test_readdir_lists_a_directory(libc, tmp_path):
    for name in ("a", "bb", "ccc"):
        (tmp_path / name).write_text("")
    dirent = libc.header.type("struct dirent")
    d = libc.opendir(os.fsencode(tmp_path))
    names = set()
    while True:
        p = libc.readdir(d)
        if not p:
            break
        names.add(bytes(dirent.from_address(p).d_name).split(b"\0")[0].decode())
    assert libc.closedir(d) == 0
    assert names == {".", "..", "a", "bb", "ccc"}


def test_stdio_asm_labels_bind_the_real_symbol(libc):
    assert libc.header.symbol("fscanf") == "__isoc99_fscanf"
    h64 = fastffi.include("stdio.h", defines={"_FILE_OFFSET_BITS": 64})
    assert h64.symbol("fopen") == "fopen64"
    assert fastffi.include("stdio.h", defines={"_FILE_OFFSET_BITS": 64}) is h64
    with fastffi.dlopen("libc.so.6", h64) as libc64:
        assert libc64.fopen.address == libc64.symbol("fopen64")


def test_refused_functions_name_the_type(libc):
    with pytest.raises(SignatureError, match=r"^vprintf: va_list has no fastffi type$"):
        libc.vprintf


def test_shadowed_names_through_getitem(libc):
    assert callable(libc.close) and libc.close.__self__ is libc
    assert libc["close"].address == libc.symbol("close")


def test_globals_read_and_write(libc):
    assert libc.stdout == libc.variable("stdout", "void *").value != 0
    opterr = libc.variable("opterr", "int")
    old = libc.opterr
    try:
        libc.opterr = 0
        assert (libc.opterr, opterr.value) == (0, 0)
        opterr.value = 5
        assert libc.opterr == 5
    finally:
        libc.opterr = old
    with pytest.raises(SymbolError):
        libc.variable("no_such_global_here", "int")


def test_missing_symbol_raises_on_access_not_at_dlopen():
    h = fastffi.cdef("int zz_not_in_zlib(void);\nunsigned long crc32(unsigned long, const void *, unsigned);")
    with fastffi.dlopen("libz.so.1", h) as lib:
        with pytest.raises(SymbolError):
            lib.zz_not_in_zlib
        assert lib.crc32(0, b"", 0) == 0


def test_missing_header():
    with pytest.raises(HeaderError) as e:
        fastffi.include("no/such_header_here.h")
    assert str(e.value) == "cannot find header 'no/such_header_here.h': no/such_header_here.h: No such file or directory"
    assert isinstance(e.value, OSError) and isinstance(e.value, fastffi.FFIError)


def test_no_preprocessor():
    with pytest.raises(HeaderError) as e:
        fastffi.include("zlib.h", cc="no-such-cc-anywhere")
    assert str(e.value) == ("no C preprocessor found (tried no-such-cc-anywhere): install one, for example "
                            "Debian's 'cpp' package (apt-get install cpp)")


def test_own_names_come_from_the_header_file():
    h = fastffi.include("zlib.h")
    assert {"deflate", "Z_OK", "z_stream", "struct z_stream_s"} <= h.own
    assert "printf" not in h.own and "uLong" not in h.own   # zconf.h's, not zlib.h's
    assert "uLong" in h.types


def test_openssl_evp_digest_equals_hashlib():
    import hashlib

    with fastffi.dlopen("libcrypto.so.3", fastffi.include("openssl/evp.h")) as crypto:
        md = crypto.EVP_get_digestbyname(b"sha256")
        ctx = crypto.EVP_MD_CTX_new()
        assert md and ctx
        try:
            assert crypto.EVP_DigestInit_ex(ctx, md, None) == 1
            assert crypto.EVP_DigestUpdate(ctx, b"fastffi", 7) == 1
            out = bytearray(crypto.EVP_MAX_MD_SIZE)
            n = fastffi.new("unsigned int")
            assert crypto.EVP_DigestFinal_ex(ctx, out, n) == 1
        finally:
            crypto.EVP_MD_CTX_free(ctx)
        assert bytes(out[:n.value]) == hashlib.sha256(b"fastffi").digest()


def test_regex_h_regcomp_regexec():
    h = fastffi.include("regex.h")
    regex_t, regmatch_t = h.type("regex_t"), h.type("regmatch_t")
    assert any(f.bits is not None for f in regex_t._layout_.fields)   # regex_t has bit-fields
    with fastffi.dlopen("libc.so.6", h) as libc:
        rx = regex_t()
        assert libc.regcomp(rx, b"([a-z]+)-([0-9]+)", libc.REG_EXTENDED) == 0
        try:
            assert rx.re_nsub == 2 and rx.__no_sub == 0 and rx.__newline_anchor == 0
            matches = fastffi.array(regmatch_t, 3)
            assert libc.regexec(rx, b"id: abc-123!", 3, matches, 0) == 0
            assert [(m.rm_so, m.rm_eo) for m in matches] == [(4, 11), (4, 7), (8, 11)]
            assert libc.regexec(rx, b"nothing", 0, None, 0) == libc.REG_NOMATCH
        finally:
            libc.regfree(rx)
