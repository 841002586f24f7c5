"""The on-disk cache of included headers.

An entry is the header's tables (:mod:`.tables`: strings, ints and tuples,
written with :mod:`marshal` -- no pickle, no code) and the (path, mtime,
size) of every file the preprocessor read.  Its file name is a hash of
everything else the result depends on: fastffi's version, the Python that
wrote it (marshal's format is the interpreter's), the header name, the
flags, and the compiler's identity as (path, mtime, size) -- running
``cc --version`` on every warm include would cost more than the whole load.
A file that changed since (its mtime or size) makes the entry stale; writes
go to a temporary file renamed over the entry, so a reader never sees half
of one.  The directory is ``$FASTFFI_CACHE_DIR``, else the user cache
directory (``$XDG_CACHE_HOME/fastffi``, ``~/.cache/fastffi``)."""
from __future__ import annotations

import hashlib
import marshal
import os
import sys
import tempfile

#: the tables' format: changed whenever tables.py encodes differently (or the reader finds
#: more in a header: older tables would lack it)
FORMAT = 4   # 3: wchar_t * encoded as W / Wc; 4: HUGE_VAL, INFINITY, NAN are constants


def directory() -> str:
    d = os.environ.get("FASTFFI_CACHE_DIR")
    if d:
        return d
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fastffi")


def stamp(path: str):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def key(version: str, *parts) -> str:
    """The entry name for fastffi ``version`` and the inputs ``parts``."""
    text = repr((FORMAT, version, sys.implementation.cache_tag, marshal.version) + parts)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def load(k: str):
    """(tables, stamps) stored under ``k`` if every file they came from is unchanged, else None."""
    path = os.path.join(directory(), k + ".ffh")
    try:
        with open(path, "rb") as f:
            data = f.read()
        stamps, tables = marshal.loads(data)
    except (OSError, ValueError, EOFError, TypeError):
        return None
    for file, st in stamps:
        if stamp(file) != st:
            return None
    return tables, stamps


def store(k: str, stamps, tables) -> None:
    """Write an entry atomically; a cache that cannot be written is skipped silently."""
    d = directory()
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".ffh")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(marshal.dumps((tuple(stamps), tables)))
            os.replace(tmp, os.path.join(d, k + ".ffh"))
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, ValueError):
        pass


__all__ = ["directory", "key", "load", "stamp", "store"]
