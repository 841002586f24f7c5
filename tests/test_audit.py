"""PEP 578 audit events (README, "Audit events"): their exact names and
arguments.  Audit hooks cannot be removed, so each test runs in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

HOOK = """
import json, sys
seen = []
def hook(event, args):
    if event.startswith("fastffi.") and event != "fastffi.jit":   # code installation: tests/test_jit.py
        seen.append([event, [a if isinstance(a, (str, int, type(None))) else repr(a) for a in args]])
sys.addaudithook(hook)
"""


def run(body: str, *args: str) -> list:
    code = HOOK + textwrap.dedent(body) + "\nprint(json.dumps(seen))\n"
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_dlopen_dlsym_and_function_events(mini_path):
    events = run("""
        import fastffi
        lib = fastffi.dlopen(sys.argv[1], mode=fastffi.RTLD_NOW | fastffi.RTLD_GLOBAL)
        add = lib.function("mini_add_i32", "i32", ["i32", "i32"])
        raw = fastffi.function(add.address, "int add2(int, int)")
        assert raw(40, 2) == 42
        """, mini_path)
    mode = os.RTLD_NOW | os.RTLD_GLOBAL
    sym = [e for e in events if e[0] == "fastffi.function"][0][1][0]
    assert events == [
        ["fastffi.dlopen", [mini_path, mode]],
        ["fastffi.dlsym", [mini_path, "mini_add_i32"]],
        ["fastffi.function", [sym, "mini_add_i32"]],
        ["fastffi.function", [sym, "add2"]],
    ]
    assert isinstance(sym, int) and sym != 0


def test_running_process_definitions_and_symbol():
    events = run("""
        import fastffi
        lib = fastffi.dlopen(None, {"abs": "int abs(int)"})
        lib.symbol("labs")
        """)
    abs_address = events[2][1][0]
    assert events == [
        ["fastffi.dlopen", [None, os.RTLD_NOW | os.RTLD_LOCAL]],
        ["fastffi.dlsym", [None, "abs"]],
        ["fastffi.function", [abs_address, "abs"]],
        ["fastffi.dlsym", [None, "labs"]],
    ]
    assert isinstance(abs_address, int) and abs_address != 0


def test_a_hook_that_raises_refuses_the_operation(mini_path):
    events = run("""
        import fastffi
        def refuse(event, args):
            if event == "fastffi.dlsym" and args[1] == "mini_add_i32":
                raise PermissionError("no " + args[1])
            if event == "fastffi.dlopen" and args[0] == "forbidden.so":
                raise PermissionError("no loading")
        sys.addaudithook(refuse)
        lib = fastffi.dlopen(sys.argv[1])
        try:
            lib.function("mini_add_i32", "i32", ["i32", "i32"])
        except PermissionError as e:
            seen.append(["refused", [str(e)]])
        try:
            fastffi.dlopen("forbidden.so")
        except PermissionError as e:
            seen.append(["refused", [str(e)]])
        """, mini_path)
    assert events == [
        ["fastffi.dlopen", [mini_path, os.RTLD_NOW | os.RTLD_LOCAL]],
        ["fastffi.dlsym", [mini_path, "mini_add_i32"]],
        ["refused", ["no mini_add_i32"]],
        ["fastffi.dlopen", ["forbidden.so", os.RTLD_NOW | os.RTLD_LOCAL]],
        ["refused", ["no loading"]],
    ]

