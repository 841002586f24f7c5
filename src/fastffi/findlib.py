"""Short library names: ``dlopen("z")`` finds ``libz.so.1`` the way the
dynamic linker would (ld.so(8): ``LD_LIBRARY_PATH``, then ldconfig's cache,
then the default directories), as ctypes' ``find_library`` does -- without
running a compiler.  The answer is the soname when the cache knows one, so
the loader itself still resolves it."""
from __future__ import annotations

import functools
import glob
import os
import platform
import re
import subprocess

#: ldconfig -p's word for this machine's ABI
_CACHE_ARCH = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(platform.machine(), "")
_DEFAULT_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


def is_short_name(name) -> bool:
    """``"z"``, ``"sqlite3"``: no directory, no suffix, no ``lib`` prefix to say it is a file name."""
    return isinstance(name, str) and bool(re.fullmatch(r"[A-Za-z0-9_+-]+", name)) and not name.startswith("lib")


@functools.lru_cache(maxsize=1)
def _ldconfig_cache() -> tuple[tuple[str, str], ...]:
    """(soname, path) of every library in ldconfig's cache for this ABI."""
    for ldconfig in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, check=False).stdout
        except OSError:
            continue
        entries = []
        for m in re.finditer(r"^\s+(\S+) \(([^)]*)\) => (\S+)$", out, re.M):
            if not _CACHE_ARCH or _CACHE_ARCH in m.group(2) or "," not in m.group(2):
                entries.append((m.group(1), m.group(3)))
        return tuple(entries)
    return ()


def _version_key(path: str):
    return [int(p) if p.isdigit() else 0 for p in re.findall(r"\d+", os.path.basename(path).split(".so", 1)[-1])]


def find_library(name: str) -> str | None:
    """The file or soname the dynamic linker would load for ``-l{name}``, or None."""
    stem = f"lib{name}.so"
    for d in [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p]:
        found = sorted(glob.glob(os.path.join(d, stem + "*")), key=_version_key)
        if found:
            return found[-1]
    cached = [soname for soname, _ in _ldconfig_cache() if soname == stem or soname.startswith(stem + ".")]
    if cached:
        versioned = [s for s in cached if s != stem]   # the soname a program linked with -l{name} records
        return max(versioned or cached, key=_version_key)
    multiarch = f"{platform.machine()}-linux-gnu"
    for d in _DEFAULT_DIRS + (f"/lib/{multiarch}", f"/usr/lib/{multiarch}"):
        found = sorted(glob.glob(os.path.join(d, stem + "*")), key=_version_key)
        if found:
            return found[-1]
    return None


__all__ = ["find_library", "is_short_name"]
