"""`python -m fastffi info` and `python -m fastffi explain`."""
from __future__ import annotations

import os
import platform
import re
import subprocess
import sys

import fastffi


def run(*args):
    env = dict(os.environ)
    env.pop("FASTFFI_TIER", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.run([sys.executable, "-m", "fastffi", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_info():
    proc = run("info")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"fastffi {fastffi.__version__}"
    by_key = {}
    for line in lines[1:]:
        key, sep, value = line.partition(": ")
        if sep:
            by_key[key] = value
    # what setup.py recorded from pkg-config at build time: a version, not "unknown"
    assert by_key.get("libffi") == fastffi.LIBFFI_VERSION
    assert re.fullmatch(r"\d+\.\d+(\.\d+)*", fastffi.LIBFFI_VERSION)
    assert platform.machine() in by_key.get("platform", "") or platform.machine() in by_key.get("abi", ""), lines
    assert by_key.get("abi"), lines
    assert re.split(r"[,\s]+", by_key.get("tiers", "").strip()) == list(fastffi.available_tiers())
    assert [line.partition(":")[0] for line in lines[1:5]] == ["platform", "abi", "libffi", "tiers"]


def test_version_matches_metadata():
    from importlib.metadata import version

    assert fastffi.__version__ == version("fastffi")


def test_explain():
    proc = run("explain", "double cos(double)", "--lib", "libm.so.6")
    assert proc.returncode == 0, proc.stderr
    with fastffi.dlopen("libm.so.6") as libm:
        text = libm.function("double cos(double)").explain()
    assert "f64 cos(f64)" in proc.stdout
    assert f"tier: {fastffi.available_tiers()[0]}" in [line.strip() for line in proc.stdout.splitlines()]
    # the same text as fn.explain() in this process (addresses may differ between processes)
    def mask(s):
        return re.sub(r"0x[0-9a-fA-F]+", "0x?", s.strip())

    assert mask(proc.stdout) == mask(text)


def test_unknown_command_fails():
    proc = run("no-such-command")
    assert proc.returncode != 0
