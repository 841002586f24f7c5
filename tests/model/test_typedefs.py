"""The default namespace's scalar typedefs agree with the C compiler and
work wherever a type is written."""
import os
import subprocess

import pytest

import fastffi
from fastffi.cdecl.spelling import resolve_type
from fastffi.model.typedefs import POSIX_TYPEDEFS

HEADERS = ["sys/types.h", "stdint.h", "signal.h", "wchar.h", "uchar.h", "sys/socket.h", "netinet/in.h",
           "poll.h", "sys/resource.h", "pthread.h"]


@pytest.fixture(scope="module")
def compiler_view(tmp_path_factory):
    """name -> (sizeof, is signed) as gcc sees each typedef."""
    d = tmp_path_factory.mktemp("typedefs")
    lines = ["#define _GNU_SOURCE", *[f"#include <{h}>" for h in HEADERS], "#include <stdio.h>",
             "int main(void) {"]
    for name in POSIX_TYPEDEFS:
        lines.append(f'    printf("{name} %zu %d\\n", sizeof({name}), (int)(({name})-1 < ({name})0));')
    lines += ["    return 0;", "}"]
    src = d / "typedefs.c"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run(["gcc", "-o", str(d / "typedefs"), str(src)], check=True)
    out = subprocess.run([str(d / "typedefs")], check=True, capture_output=True, text=True).stdout
    return {name: (int(size), signed == "1") for name, size, signed in (line.split() for line in out.splitlines())}


@pytest.mark.parametrize("name", sorted(POSIX_TYPEDEFS))
def test_each_typedef_matches_the_compiler(compiler_view, name):
    t = resolve_type(name)
    assert (t.size, t.name.startswith("i")) == compiler_view[name]


def test_typedefs_in_declarations_and_type_strings():
    libc = fastffi.dlopen(None)
    getpid = libc.function("pid_t getpid(void)")
    assert getpid.restype == "i32" and getpid() == os.getpid()
    lseek = libc.function("off_t lseek(int fd, off_t offset, int whence)")
    assert lseek.restype == "i64" and lseek.argtypes == ("i32", "i64", "i32")
    assert fastffi.sizeof("socklen_t") == 4 and fastffi.sizeof("time_t") == 8
    box = fastffi.new("uid_t", 7)
    assert box.value == 7 and fastffi.sizeof(box) == 4


def test_types_mapping_takes_scalar_typedefs():
    """types= used to accept only struct classes ({"pid_t": "i32"} was an AttributeError)."""
    libc = fastffi.dlopen(None)
    fn = libc.function("getpid", "my_pid_t", [], types={"my_pid_t": "i32"})
    assert fn.restype == "i32" and fn() == os.getpid()
    fn = libc.function("my_pid_t getpid(void)", types={"my_pid_t": "int"})
    assert fn.restype == "i32" and fn() == os.getpid()
    with pytest.raises(fastffi.SignatureError, match="^unknown type 'my_pid_t'$"):
        libc.function("getpid", "my_pid_t", [])


def test_define_names_a_scalar_typedef():
    libc = fastffi.dlopen(None)
    fastffi.define("fastffi_test_ssize", "long")
    try:
        strlen = libc.function("fastffi_test_ssize strlen(const char *)")
        assert strlen.restype == "i64" and strlen(b"four") == 4
        fastffi.define("fastffi_test_ssize", "i64")   # the same type again
        with pytest.raises(fastffi.SignatureError,
                           match="^'fastffi_test_ssize' is already defined with a different layout$"):
            fastffi.define("fastffi_test_ssize", "u32")
    finally:
        fastffi.undefine("fastffi_test_ssize")
    with pytest.raises(fastffi.SignatureError, match="^unknown type 'fastffi_test_ssize'$"):
        fastffi.sizeof("fastffi_test_ssize")


@pytest.mark.parametrize("name, error", [
    ("size_t", "define(): 'size_t' is a built-in type name"),
    ("i32", "define(): 'i32' is a built-in type name"),
    ("not a name", "define(): 'not a name' is not a C identifier"),
])
def test_define_refuses_builtin_and_bad_names(name, error):
    with pytest.raises(ValueError) as info:
        fastffi.define(name, "i32")
    assert str(info.value) == error
