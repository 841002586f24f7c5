"""Running the system C preprocessor over an installed header.

``cc -E -dD`` finds the header the way the compiler does (its include path,
then ``include_dirs``), expands it with the compiler's predefined macros, and
keeps every ``#define`` in the output with line markers saying which file it
came from (GCC manual, "Preprocessor Options": -dD; "Preprocessor Output":
line markers).  What this module returns is that text and the files the
preprocessor read (the cache keys on them)."""
from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import HeaderError

#: tried in order when neither cc= nor $CC names one
CANDIDATES = ("cc", "gcc", "clang", "cpp")


def find_compiler(cc: str | None = None) -> str:
    """The path of the preprocessor to run: ``cc``, ``$CC``, then the usual names."""
    names = [cc] if cc else ([os.environ["CC"]] if os.environ.get("CC") else []) + list(CANDIDATES)
    for name in names:
        path = shutil.which(name.split()[0]) if name else None
        if path:
            return path
    raise HeaderError(f"no C preprocessor found (tried {', '.join(names)}): install one, for example "
                      f"Debian's 'cpp' package (apt-get install cpp)")


def command(compiler: str, header: str, include_dirs=(), defines=None, cflags=()) -> list[str]:
    cmd = [compiler]
    if os.path.basename(compiler) != "cpp":
        cmd.append("-E")
    # pycparser reads C11: the C17 dialect is asked for, so that a compiler defaulting to C23
    # (GCC 15 and later) does not hand it C23-only declarations (stddef.h's nullptr_t) or
    # C23 asm labels (glibc's __isoc23_fscanf).  A -std in cflags, later on the line, wins.
    cmd += ["-dD", "-x", "c", "-std=gnu17"]
    cmd += [f"-I{d}" for d in include_dirs]
    for name, value in (defines or {}).items():
        cmd.append(f"-D{name}" if value is None else f"-D{name}={value}")
    cmd += list(cflags)
    cmd.append("-")
    return cmd


def include_line(header: str) -> str:
    """How the header is named to the preprocessor: a path as a quoted file,
    a bare name the way the compiler's search path finds it."""
    if os.sep in header and os.path.exists(header):
        return f'#include "{os.path.abspath(header)}"\n'
    return f"#include <{header}>\n"


def preprocess(header: str, compiler: str, include_dirs=(), defines=None, cflags=(), prelude: str = "") -> str:
    """The preprocessed text of ``header``; :class:`HeaderError` if it cannot be found or read."""
    cmd = command(compiler, header, include_dirs, defines, cflags)
    source = prelude + ("\n" if prelude and not prelude.endswith("\n") else "") + include_line(header)
    try:
        done = subprocess.run(cmd, input=source, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise HeaderError(f"cannot run the C preprocessor {compiler!r}: {e}") from None
    if done.returncode != 0:
        message = done.stderr.strip()
        lines = [ln for ln in message.splitlines() if "error" in ln] or message.splitlines() or ["(no message)"]
        first = lines[0]
        if "No such file or directory" in first or "file not found" in first:
            detail = first.split("error: ", 1)[-1]
            raise HeaderError(f"cannot find header {header!r}: {detail}")
        raise HeaderError(f"the C preprocessor failed on {header!r}: {message}")
    return done.stdout


__all__ = ["CANDIDATES", "command", "find_compiler", "include_line", "preprocess"]
