"""Build of the C core (fastffi._core) against the system libffi.

pyproject.toml holds the metadata; this file only describes the extension,
because its flags come from pkg-config and the libffi version must be
recorded at build time (libffi 3.4 has no run-time version call)."""
import os
import pathlib
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CORE = pathlib.Path("src/fastffi/_core")


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "libffi"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def libffi_flags():
    cflags = shlex.split(pkg_config("--cflags") or "")
    libs = shlex.split(pkg_config("--libs") or "-lffi")
    version = pkg_config("--modversion") or "unknown"
    include_dirs = [f[2:] for f in cflags if f.startswith("-I")]
    libraries = [f[2:] for f in libs if f.startswith("-l")]
    library_dirs = [f[2:] for f in libs if f.startswith("-L")]
    return include_dirs, libraries, library_dirs, version


include_dirs, libraries, library_dirs, ffi_version = libffi_flags()

core = Extension(
    "fastffi._core",
    # The tree below _core/ (runtime/, tiers/, ...) is read whole; includes
    # are written from _core/ ("tiers/plan.h"), hence the -I.
    sources=sorted(str(p) for p in CORE.rglob("*.c")) + sorted(str(p) for p in CORE.rglob("*.S")),
    depends=sorted(str(p) for p in CORE.rglob("*.h")),
    include_dirs=[str(CORE)] + include_dirs,
    libraries=libraries + ["dl"],
    library_dirs=library_dirs,
    define_macros=[("FASTFFI_LIBFFI_VERSION", f'"{ffi_version}"')],
    extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers", "-fvisibility=hidden"]
    # CI holds every CPython it runs to a build without warnings.
    + (["-Werror"] if os.environ.get("FASTFFI_WERROR") == "1" else []),
)



class BuildExt(build_ext):
    """build_ext that also assembles the plan tier's call routines (*.S)."""

    def build_extensions(self):
        if ".S" not in self.compiler.src_extensions:
            self.compiler.src_extensions.append(".S")
        super().build_extensions()


setup(ext_modules=[core], cmdclass={"build_ext": BuildExt})
