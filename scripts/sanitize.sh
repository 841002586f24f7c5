#!/usr/bin/env bash
# Run the whole test suite against a fastffi whose C core is built with AddressSanitizer and
# UndefinedBehaviorSanitizer (issue 12: "never a crash from Python", proven).  A report fails the
# run: ASan and UBSan halt the process on the first one, so pytest dies and exits non-zero.
#
# How a run goes:
#   1. Copy the project (the files git knows, committed or not) to a scratch folder and build it
#      there, so no object of an ordinary build in ./build is linked into the sanitized core, nor
#      a sanitized object into a later ordinary build.
#   2. In a fresh venv, pip install that copy with ".[test]" and CFLAGS/LDFLAGS carrying
#      -fsanitize=address,undefined -fno-omit-frame-pointer (setuptools adds CFLAGS to both the
#      compile and the link line); check that the installed _core really links libasan.
#   3. Run pytest on this checkout's tests/ with that venv's python, deselecting the tests marked
#      no_sanitizer (tests/conftest.py: memory-growth and timing-bound tests that the sanitizer's
#      overhead, not a bug, breaks, and the disassembler-oracle tests: capstone's loader uses
#      RTLD_DEEPBIND, which the ASan runtime refuses).  The test session compiles its C fixture libraries with the
#      same flags and -fwrapv (FASTFFI_TEST_CFLAGS, read by tests/conftest.py), so a call that
#      hands C a buffer too small for what the C side reads is caught there too.  Code the JIT
#      emits and the plan tier's assembly routines are not instrumented; what they touch through
#      the C core is.
#
# The environment of the run (the same in every subprocess the tests start):
#   LD_PRELOAD=libasan       CPython is not built with ASan; its runtime must be the first library
#                            loaded, before _core (libubsan comes in as _core's dependency).
#   PYTHONMALLOC=malloc      every Python object is its own malloc block with redzones, so an
#                            overflow of a bytes/bytearray/str buffer is caught, not absorbed by
#                            pymalloc's arenas.
#   ASAN_OPTIONS             detect_leaks=0: leaks are the memory-growth tests' job (and CPython
#                            keeps much alive at exit); halt_on_error=1: stop at the first report;
#                            allocator_may_return_null=1: a huge allocation returns NULL, so
#                            CPython raises MemoryError as it does without ASan, instead of ASan
#                            aborting the process ("requested allocation size exceeds maximum").
#   UBSAN_OPTIONS            halt_on_error=1:print_stacktrace=1.
#   Both write their reports to files (log_path) that the script prints at the end; any report
#   fails the run, even one from a child process whose exit a test tolerated.
#
# Usage: scripts/sanitize.sh [PYTEST ARGS...]   (default: -q tests)
# Environment:
#   PYTHON                  the interpreter to build the venv from (default python3)
#   CC                      the compiler (default gcc; its own libasan is preloaded)
#   FASTFFI_SANITIZE_WORK   scratch folder (default: a new one under $TMPDIR, removed at the end)
#   FASTFFI_*, HYPOTHESIS_*, PYTEST_ADDOPTS   passed through to the tests as usual.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
say() { printf '[sanitize] %s\n' "$*"; }

python=${PYTHON:-python3}
cc=${CC:-gcc}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
libasan=$("$cc" -print-file-name=libasan.so)
if [[ $libasan != /* || ! -e $libasan ]]; then
    say "FAILED: $cc has no libasan.so (gcc -print-file-name=libasan.so gave '$libasan'); install libasan"
    exit 2
fi
libasan=$(readlink -f "$libasan")

if [[ -n ${FASTFFI_SANITIZE_WORK:-} ]]; then
    work=$FASTFFI_SANITIZE_WORK
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/fastffi-sanitize.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
src=$work/src venv=$work/venv
rm -rf "$src" "$venv"
mkdir -p "$src"
# The files git knows (tracked and untracked-not-ignored) that exist in the work tree.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -f $f ]] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$src"

say "building the sanitized core ($flags) with $("$python" --version 2>&1)"
t0=$SECONDS
"$python" -m venv "$venv"
CC=$cc CFLAGS="$flags" LDFLAGS="$flags" "$venv/bin/python" -m pip install -q "$src[test]"
# (Found without importing fastffi: _core cannot load before LD_PRELOAD is set.)
core=$(ls "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')"/fastffi/_core*.so)
if [[ $(ldd "$core") != *libasan* ]]; then
    say "FAILED: $core does not link libasan: the sanitizer flags did not reach the build"
    exit 2
fi
say "built in $((SECONDS - t0)) s: $core"

reports=$work/reports
rm -rf "$reports"
mkdir -p "$reports"
export LD_PRELOAD=$libasan${LD_PRELOAD:+:$LD_PRELOAD}
export PYTHONMALLOC=malloc
asan=detect_leaks=0:halt_on_error=1:allocator_may_return_null=1:log_path=$reports/asan
export ASAN_OPTIONS=$asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
# The fixtures' arithmetic wraps on purpose (the tests compute the same folds modulo 2**64):
# -fwrapv makes that defined behaviour, so UBSan reports only what fastffi hands them.
export FASTFFI_TEST_CFLAGS="$flags -fwrapv"
(($#)) || set -- -q tests
say "pytest $* (LD_PRELOAD=$LD_PRELOAD)"
status=0
t0=$SECONDS
"$venv/bin/python" -m pytest -p no:cacheprovider -m "not no_sanitizer" "$@" || status=$?
say "pytest exited with status $status after $((SECONDS - t0)) s"
# A report goes to its own file (log_path), not to stderr: pytest captures file descriptor 2 and
# loses what it holds when the process dies at the report, and a report in a child process that a
# test merely saw exit non-zero would not show at all.  Any report fails the run.
shopt -s nullglob
found=("$reports"/*)
for f in "${found[@]}"; do
    say "REPORT ${f##*/}:"
    cat "$f"
done
if ((${#found[@]})); then
    say "FAILED: ${#found[@]} sanitizer report(s)"
    ((status != 0)) || status=1
else
    say "no sanitizer reports"
fi
exit "$status"
