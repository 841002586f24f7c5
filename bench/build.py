"""Compile the benchmark's C parts into a cache directory keyed by their inputs.

Four artifacts, built together:

- ``libfastffi_bench_targets.so`` from targets.c: the functions benchmarked.
  It is compiled followed by the prototypes of cases.py, so a prototype in
  the table that disagrees with targets.c fails the build.
- ``libfastffi_bench_callbacks.so`` from callback_drivers.c: the C loops that
  call a callback (callbacks.py).
- the hand-written extension from handwritten.c (it dlopens the targets at
  run time, so it does not link to them).
- the cffi API-mode module, linked to the targets library.

The directory is ``$XDG_CACHE_HOME/fastffi-bench/<key>`` (``~/.cache`` by
default), where the key hashes every input: sources, the generated
declarations, this file (flags), the Python build and the cffi version.  It
is built under a temporary name and renamed into place, so concurrent runs
never see half a build.  A missing compiler or cffi, or an extension that
fails to build, is recorded as a note and that peer is skipped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import cases

SOURCE_DIR = Path(__file__).resolve().parent
TARGETS_NAME = "fastffi_bench_targets"
TARGETS_LIB = f"lib{TARGETS_NAME}.so"
CALLBACKS_LIB = "libfastffi_bench_callbacks.so"
HANDWRITTEN_MODULE = "_fastffi_bench_handwritten"
CFFI_MODULE = "_fastffi_bench_cffi"
EXT_SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")
CFLAGS = ["-O2", "-fPIC", "-shared", "-Wall"]
INCLUDES = "#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n"
NOTES_FILE = "notes.json"


class BuildError(RuntimeError):
    """A compiler run failed; the message holds the command and its output."""


@dataclass
class Artifacts:
    """What a build produced: paths (None when not built) and notes on why not."""

    directory: Path
    targets: Path | None = None
    callbacks: Path | None = None
    handwritten: Path | None = None
    cffi_api: Path | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> Artifacts:
        """The artifacts of a finished build directory (no compiling)."""
        directory = Path(directory)

        def existing(name: str) -> Path | None:
            path = directory / name
            return path if path.exists() else None

        return cls(
            directory=directory,
            targets=existing(TARGETS_LIB),
            callbacks=existing(CALLBACKS_LIB),
            handwritten=existing(HANDWRITTEN_MODULE + EXT_SUFFIX),
            cffi_api=existing(CFFI_MODULE + EXT_SUFFIX),
            notes=json.loads((directory / NOTES_FILE).read_text()),
        )


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fastffi-bench"


def build(root: Path | None = None) -> Artifacts:
    """Build (or reuse) the artifacts for the current sources and Python."""
    root = root or cache_root()
    final = root / _cache_key()
    if not final.exists():
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=final.name + ".tmp", dir=root))
        try:
            _build_into(tmp)
            try:
                tmp.rename(final)
            except OSError:  # a concurrent build renamed its copy first
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return Artifacts.load(final)


def side_library(name: str, source: str) -> str:
    """A shared library of one benchmark's own C file (bench/SOURCE), built once
    per content of the file: its path.  The key is a digest, not hash(): str and
    bytes hashes change with every process (PYTHONHASHSEED)."""
    text = (SOURCE_DIR / source).read_bytes()
    root = cache_root() / name
    root.mkdir(parents=True, exist_ok=True)
    out = root / f"lib{name}_{hashlib.sha256(text).hexdigest()[:12]}.so"
    if not out.exists():
        cc = _compiler()
        if cc is None:
            raise RuntimeError(f"a C compiler is needed for the {name} benchmarks")
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        _run_compiler([*cc, "-O2", "-fPIC", "-shared", str(SOURCE_DIR / source), "-o", str(tmp)])
        tmp.rename(out)   # atomic: a concurrent run sees the whole library or none
    return str(out)


def import_extension(name: str, path: Path):
    """Import the extension module ``name`` from the file ``path``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _compiler() -> list[str] | None:
    command = shlex.split(os.environ.get("CC", "gcc"))
    return command if command and shutil.which(command[0]) else None


def _cffi_version() -> str | None:
    try:
        import cffi
    except ImportError:
        return None
    return cffi.__version__


def _cache_key() -> str:
    h = hashlib.sha256()
    for name in ("targets.c", "callback_drivers.c", "handwritten.c", "build.py"):
        h.update((SOURCE_DIR / name).read_bytes())
    for part in (cases.c_declarations(), sys.version, EXT_SUFFIX,
                 str(_compiler()), str(_cffi_version())):
        h.update(part.encode())
    return h.hexdigest()[:16]


def _build_into(directory: Path) -> None:
    notes: list[str] = []
    cc = _compiler()
    if cc is None:
        notes.append("no C compiler (gcc, or $CC): the targets library, the hand-written "
                     "extension and cffi API mode are not built; only libc cases run")
    else:
        _build_targets(cc, directory)
        _run_compiler([*cc, *CFLAGS, str(SOURCE_DIR / "callback_drivers.c"),
                       "-o", str(directory / CALLBACKS_LIB), "-pthread"])
        try:
            _build_handwritten(cc, directory)
        except BuildError as e:
            notes.append(f"hand-written extension not built: {e}")
        try:
            _build_cffi(directory)
        except ImportError:
            notes.append("cffi is not installed: cffi API mode not built")
        except Exception as e:  # cffi reports compile failures with several classes
            notes.append(f"cffi API module not built: {type(e).__name__}: {e}")
    (directory / NOTES_FILE).write_text(json.dumps(notes))


def _run_compiler(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{shlex.join(command)}\n{done.stderr.strip()}")


def _build_targets(cc: list[str], directory: Path) -> None:
    # Redeclaring a defined function with other types is a compile error.
    checked = directory / "targets_checked.c"
    checked.write_text(f'#include "{SOURCE_DIR / "targets.c"}"\n' + cases.c_prototypes())
    _run_compiler([*cc, *CFLAGS, f"-Wl,-soname,{TARGETS_LIB}", str(checked),
                   "-o", str(directory / TARGETS_LIB)])


def _build_handwritten(cc: list[str], directory: Path) -> None:
    include = sysconfig.get_paths()["include"]
    _run_compiler([*cc, *CFLAGS, f"-I{include}", str(SOURCE_DIR / "handwritten.c"),
                   "-o", str(directory / (HANDWRITTEN_MODULE + EXT_SUFFIX)), "-ldl", "-pthread"])


def _build_cffi(directory: Path) -> None:
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cases.c_declarations())
    # The module is linked to the targets library and finds it next to
    # itself ($ORIGIN), wherever the cache directory ends up.
    ffi.set_source(CFFI_MODULE, INCLUDES + cases.c_declarations(),
                   libraries=[TARGETS_NAME], library_dirs=[str(directory)],
                   extra_link_args=["-Wl,-rpath,$ORIGIN"])
    ffi.compile(tmpdir=str(directory), verbose=False)
