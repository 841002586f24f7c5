"""Shared fixtures: the C fixture library, compiled once per test session with the
machine's C compiler, and the tier parameter that runs a test on every tier this
process can use."""
from __future__ import annotations

import os
import pathlib
import tempfile
import re
import shlex
import subprocess
import sys
import sysconfig
import threading

import pytest

import fastffi
from fastffi.tiers import callback as callback_mechanisms

FIXTURE_DIR = pathlib.Path(__file__).parent / "fixture"
DATA = pathlib.Path(__file__).parent / "data"


def pytest_configure(config):
    # include()'s on-disk cache goes to a directory of this session, not the user's cache
    os.environ["FASTFFI_CACHE_DIR"] = tempfile.mkdtemp(prefix="fastffi-cache-")
    # scripts/sanitize.sh deselects these: tests that the sanitizers' overhead breaks
    # (memory growth measured in RSS, wall-clock bounds, an instrumented callee's stack on a
    # small thread) and the disassembler-oracle tests (capstone's loader uses RTLD_DEEPBIND,
    # which the ASan runtime refuses); not tests that find bugs.
    config.addinivalue_line("markers", "no_sanitizer: not run under ASan/UBSan (scripts/sanitize.sh): "
                            "tests the sanitizer's overhead or runtime breaks")


def pytest_terminal_summary(terminalreporter):
    # The fuzz harnesses' execution count (tests/fuzz/fuzzing.py), when they ran: read from
    # the module they share, never imported here.  (A conftest.py in tests/fuzz would take
    # the name "conftest" that the test modules import helpers from.)
    fuzzing = sys.modules.get("fuzzing")
    if fuzzing is not None and fuzzing.executions:
        total = sum(fuzzing.executions.values())
        parts = ", ".join(f"{name} {n}" for name, n in sorted(fuzzing.executions.items()))
        terminalreporter.write_line(f"fuzz: {total} executions ({parts}; FASTFFI_FUZZ_EXAMPLES={fuzzing.EXAMPLES})")


def compile_shared(sources, out_dir, name, extra_flags=()):
    """Compile C/assembly sources into a shared library; returns its path."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC").split()[0] or "cc"
    out = pathlib.Path(out_dir) / f"lib{name}.so"
    # -ffp-contract=off: no fused multiply-add (GCC's default on AArch64), so the
    # C side rounds exactly as the Python expectations do.  FASTFFI_TEST_CFLAGS:
    # scripts/sanitize.sh instruments the fixtures too, so C reading past a buffer
    # fastffi handed it is reported.
    cmd = [cc, "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o", str(out), *map(str, sources), *extra_flags,
           *shlex.split(os.environ.get("FASTFFI_TEST_CFLAGS", ""))]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return str(out)


@pytest.fixture(scope="session")
def fixture_lib_path(tmp_path_factory):
    """Path of the compiled fixture library (tests/fixture/*.c and *.S)."""
    sources = sorted(FIXTURE_DIR.glob("*.c")) + sorted(FIXTURE_DIR.glob("*.S"))
    return compile_shared(sources, tmp_path_factory.mktemp("fixture"), "fastffi_fixture", ["-lm"])


@pytest.fixture(scope="session")
def mini_path(tmp_path_factory):
    """Path of the small library of tests/data/mini.c (no global state)."""
    return compile_shared([DATA / "mini.c"], tmp_path_factory.mktemp("mini"), "fastffi_mini")


@pytest.fixture(params=fastffi.available_tiers())
def tier(request):
    """Every tier available in this process, fastest first."""
    return request.param


@pytest.fixture(params=callback_mechanisms.available_mechanisms())
def callback_tier(request):
    """Each callback mechanism this process can use (tiers/callback.py)."""
    return request.param


@pytest.fixture(scope="module")
def fixture_lib(fixture_lib_path):
    """The fixture library, open for a whole module (what hypothesis tests can use)."""
    with fastffi.dlopen(fixture_lib_path) as handle:
        yield handle


@pytest.fixture(scope="module")
def libc():
    """libc.so.6, open for a whole module."""
    with fastffi.dlopen("libc.so.6") as handle:
        yield handle


@pytest.fixture(scope="module")
def process():
    """The process's global namespace (dlopen(None)), not dlopen("libc.so.6"): under a
    sanitizer's LD_PRELOAD, malloc and free resolve to its interceptors there, so memory a
    libc function allocates and the free called on it agree."""
    with fastffi.dlopen(None) as handle:
        yield handle


@pytest.fixture
def unraisable(monkeypatch):
    """The reports (``sys.UnraisableHookArgs``) sys.unraisablehook receives during the test."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


@pytest.fixture
def lib(fixture_lib_path):
    """The fixture library, opened for one test and closed after it."""
    with fastffi.dlopen(fixture_lib_path) as handle:
        yield handle


#: Each scalar kind's extreme values (a pointer's as addresses), as arguments and results
#: take them (tests/callbacks/).
SCALAR_LIMITS = {
    "bool": [False, True],
    "i8": [-128, 127], "u8": [0, 255],
    "i16": [-2**15, 2**15 - 1], "u16": [0, 2**16 - 1],
    "i32": [-2**31, 2**31 - 1], "u32": [0, 2**32 - 1],
    "i64": [-2**63, 2**63 - 1], "u64": [0, 2**64 - 1],
    "f32": [-3.4028234663852886e38, 1.401298464324817e-45],
    "f64": [-1.7976931348623157e308, 5e-324],
    "pointer": [0, 2**64 - 1],
}


def raises_exact(exc, message):
    """pytest.raises for exactly this message (docs/errors.md: tests assert the texts exactly)."""
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def struct_tier(tier):
    """The tier to request for a signature with structs by value: the tier under
    test, or -- for the JIT, which takes scalars only (tests/test_jit.py checks
    that refusal) -- the fastest tier below it that is available."""
    if tier != "jit":
        return tier
    return next(t for t in fastffi.available_tiers() if t != "jit")


def start_together(n, target):
    """Run target(0..n-1) in n threads released together; the exceptions they raised."""
    barrier = threading.Barrier(n)
    errors = []

    def wrapper(i):
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=wrapper, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return errors
