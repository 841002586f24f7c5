"""The compiler as the oracle for what include() reads: every struct and
union a header defines has the compiler's sizeof, alignof and offsetof, and
every integer constant of the header's own file the compiler's value."""
import subprocess

import pytest

import fastffi
from fastffi.model.scalars import Scalar

HEADERS = ["zlib.h", "sqlite3.h", "stdio.h", "time.h", "sys/stat.h", "netdb.h", "dirent.h", "pthread.h", "regex.h",
           "sys/rseq.h", "sys/epoll.h", "netinet/in.h", "signal.h", "sys/socket.h", "termios.h",
           "openssl/sha.h"]


def _run_c(tmp_path, header, lines):
    src = tmp_path / "probe.c"
    src.write_text(f"#include <stddef.h>\n#include <stdio.h>\n#include <{header}>\nint main(void) {{\n"
                   + "\n".join(lines) + "\nreturn 0;\n}\n")
    exe = tmp_path / "probe"
    subprocess.run(["cc", "-w", "-o", str(exe), str(src)], check=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split("\n")


def _fields(cls, prefix=""):
    for f in cls._layout_.fields:
        if f.bits is not None:
            continue   # offsetof refuses bit-fields: tests/model/test_bitfields.py checks those
        if f.name.startswith("_anon"):
            for inner in _fields(f.type):
                yield inner[0], f.offset + inner[1]
        else:
            yield prefix + f.name, f.offset


@pytest.mark.parametrize("header", HEADERS)
def test_layouts_equal_the_compilers(header, tmp_path):
    h = fastffi.include(header)
    lines, expect = [], []
    for name, t in sorted(h.types.items()):
        if not (isinstance(t, type) and name.split()[0] in ("struct", "union")) or not t._layout_.fields:
            continue
        lines.append(f'printf("%zu %zu\\n", sizeof({name}), _Alignof({name}));')
        expect.append(f"{fastffi.sizeof(t)} {fastffi.alignof(t)}")
        for field, offset in _fields(t):
            lines.append(f'printf("%zu\\n", offsetof({name}, {field}));')
            expect.append(str(offset))
    assert len(expect) > 3
    got = _run_c(tmp_path, header, lines)[:len(expect)]
    mismatches = [(line, e, g) for line, e, g in zip(lines, expect, got) if e != g]
    assert mismatches == []


@pytest.mark.parametrize("header", ["zlib.h", "sqlite3.h", "sys/stat.h", "netdb.h", "stdio.h", "time.h", "dirent.h",
                                    "regex.h", "openssl/evp.h"])
def test_constants_equal_the_compilers(header, tmp_path):
    h = fastffi.include(header)
    names = sorted(n for n in h.own if isinstance(h.constants.get(n), int) and not isinstance(h.constants[n], bool))
    assert len(names) >= 2   # stdio.h and time.h define few of their own; evp.h hundreds
    lines = []
    for n in names:
        lines.append(f'printf("%lld %d\\n", (long long)({n}), ({n}) < 0 ? 1 : 0);')
        lines.append(f'printf("%llu\\n", (unsigned long long)({n}));')
    out = _run_c(tmp_path, header, lines)
    for i, n in enumerate(names):
        signed, negative = out[2 * i].split()
        unsigned = int(out[2 * i + 1])
        assert h.constants[n] == (int(signed) if negative == "1" else unsigned), n


def test_typedef_scalars_equal_the_compilers(tmp_path):
    h = fastffi.include("sys/types.h")
    names = sorted(n for n, t in h.types.items() if isinstance(t, Scalar) and t.pointee is None and t.is_integer
                   and " " not in n)
    lines = [f'printf("%zu %d\\n", sizeof({n}), ({n})-1 < 0);' for n in names]
    out = _run_c(tmp_path, "sys/types.h", lines)
    for n, line in zip(names, out):
        t = h.types[n]
        assert line == f"{t.size} {int(t.name[0] == 'i')}", n
