"""A thread C created keeps one Python thread state across its callbacks and
gives it back when it exits (callbacks/threads.c).  glibc clears CPython's
own thread-specific value before it runs fastffi's key destructor, so the
destructor must not look the state up through PyGILState: it once aborted the
process at the exit of every such thread.  In a child process, so an abort
is a failed assertion, not a dead test run."""
from __future__ import annotations

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import threading
    import fastffi

    libc = fastffi.dlopen("libc.so.6")
    create = libc.function("int pthread_create(void *thread, void *attr, void *start, void *arg)")
    join = libc.function("int pthread_join(unsigned long thread, void *retval)", release_gil=True)
    local = threading.local()
    seen = []

    def start(arg):
        # Twice in one thread would be the same state: threading.local persists.
        local.value = getattr(local, "value", 0) + arg
        seen.append((threading.get_ident(), local.value))
        return arg * 2

    routine = fastffi.callback("void *start(void *arg)", start)
    again = fastffi.callback("void *again(void *arg)", lambda arg: start(arg) and start(arg))
    results = []
    for i in range(1, 201):
        tid, ret = fastffi.new("u64"), fastffi.new("pointer")
        assert create(tid, None, (again if i % 2 else routine).address, i) == 0
        assert join(tid.value, ret) == 0
        results.append(ret.value)
    assert results == [2 * i for i in range(1, 201)], results[:4]
    # odd threads ran the callback twice: the second call saw the first's local
    firsts = [v for _, v in seen]
    assert firsts[:3] == [1, 2, 2] and firsts[3:5] == [3, 6], firsts[:6]
    print("ok", len(seen))
""")


def test_threads_c_created_exit_cleanly_after_callbacks():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", "300"]
