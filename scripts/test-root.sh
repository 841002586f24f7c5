#!/usr/bin/env bash
# Run the fastffi test suite in a Debian root built with debootstrap: another release (for CPython
# versions the host has not got) or arm64 under qemu-user emulation, on an x86-64 Debian host.
#
# How a run goes:
#   1. Check that we can run at all (root, Linux, a Debian-like host, binfmt_misc for arm64).
#   2. Install debootstrap (and, for arm64, qemu-user-static and binfmt-support) when missing.
#   3. arm64 only: mount binfmt_misc, make sure the qemu-aarch64 handler is registered and enabled.
#   4. Re-enter this script in a private mount namespace, so every mount made below vanishes
#      with the process, even if it is killed (a trap unmounts too, for the namespace-less case).
#   5. Take the root's lock; build the root in the cache folder, only when it is missing, was left
#      half-built or comes from another recipe (a marker is written after a successful debootstrap).
#   6. For each interpreter: copy the project (the files git knows, committed or not) into
#      ROOT/work/fastffi, mount /proc, /dev and a fresh /dev/shm, give the root the host's
#      resolv.conf and CA bundle; in that interpreter's venv inside the root, pip install ".[test]",
#      then python -m pytest -q tests ARGS.
#   7. Print one summary line per interpreter; the exit status is non-zero if any suite failed.
#
# Usage: scripts/test-root.sh [--suite SUITE] [--arch ARCH] [--python PY]... [OPTIONS] [--] [PYTEST ARGS...]
#   --suite SUITE    Debian release of the root (default bookworm)
#   --arch ARCH      amd64 (natively) or arm64 (under qemu-user); default arm64
#   --python PY      an interpreter of the root, by command name; repeat for several, each with its
#                    own venv, run in turn in one root (default: every interpreter the root carries)
#   --check          exit 0 if this machine can run this root's suite, else 1 (saying why)
#   --prepare-only   build the root (and the venvs) and smoke-test it, then stop (for a CI cache)
#   --smoke          also run the smoke test (machine, a libffi call from C, pip) before the suite
#   --rebuild        throw the cached root away and build it again
#   --fresh-venv     recreate the venvs inside the root (they are kept between runs otherwise)
#   -h, --help       this text
#
# The roots and their interpreters (the Debian packages python3.X, -dev and -venv):
#   bookworm: python3 (3.11)          forky: python3.14 (its python3) and python3.15
#   any other suite: python3
# bookworm's debootstrap has no script for newer releases; they are built with its sid script.
#
# Environment:
#   FASTFFI_ROOT_CACHE    where roots live (default /var/cache/fastffi): CACHE/SUITE-ARCH, with
#                         SUITE-ARCH.lock and SUITE-ARCH.debootstrap.log beside it
#   FASTFFI_ROOT_MIRROR   Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   FASTFFI_*, HYPOTHESIS_*, PYTEST_ADDOPTS, CI   passed through to the tests, e.g.
#                         FASTFFI_DIFF_COUNT=200 to shrink the differential tests.
#                         FASTFFI_WERROR=1 builds with warnings as errors (setup.py), as CI does.
# Inside an arm64 root the tests also see FASTFFI_EMULATOR=qemu-user. What emulation cannot show
# (measured with scripts/aarch64/emulation_probe.c under Debian bookworm's qemu-user-static 7.2):
# a guest seccomp filter is refused (prctl PR_SET_SECCOMP fails with EINVAL), so a test that denies
# executable memory with seccomp must use a test hook there; rewritten code always runs the new
# instructions, so a missing instruction-cache flush never shows. PROT_EXEC is enforced (a jump into
# a read-write page faults, also after the page ran as code and was made read-write again).
#
# Measured on the 2-core x86-64 machine: the bookworm arm64 root builds in 4-8 minutes when the
# machine is quiet, up to 20 under other load (490 MB; 510 MB with the venv); the first pip install
# inside it takes about 2 minutes, a later one about 1 minute (the extension is rebuilt under
# emulation), and the suite about 4 minutes. The forky amd64 root builds in 1.5-2.5 minutes
# (740 MB with both venvs); pip install takes 20 s and each suite 2-2.5 minutes.
set -Eeuo pipefail

SUITE=bookworm ARCH=arm64
MODE=test SMOKE=0 REBUILD=0 FRESH_VENV=0
PYTHONS=() PYTEST_ARGS=()
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SCRIPT")
PROJECT=$(dirname "$HERE")

say() { printf '[test-root] %s\n' "$*" >&2; }
die() { printf '[test-root] ERROR: %s\n' "$*" >&2; exit 2; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR
usage() { sed -n '2,/^set -Eeuo/p' "$SCRIPT" | sed '$d' | sed 's/^# \{0,1\}//'; }

while (($#)); do
    case $1 in
        --suite) SUITE=${2:?--suite needs a value}; shift ;;
        --arch) ARCH=${2:?--arch needs a value}; shift ;;
        --python) PYTHONS+=("${2:?--python needs a value}"); shift ;;
        --check) MODE=check ;;
        --prepare-only) MODE=prepare ;;
        --smoke) SMOKE=1 ;;
        --rebuild) REBUILD=1 ;;
        --fresh-venv) FRESH_VENV=1 ;;
        -h|--help) usage; exit 0 ;;
        --) shift; PYTEST_ARGS+=("$@"); break ;;
        *) PYTEST_ARGS+=("$1") ;;
    esac
    shift
done

# ---------------------------------------------------------------------------------------------
# The recipe: what a root of SUITE/ARCH holds.

case $SUITE in
    forky) ROOT_PYTHONS=(python3.14 python3.15) ;;
    *) ROOT_PYTHONS=(python3) ;;
esac
((${#PYTHONS[@]})) || PYTHONS=("${ROOT_PYTHONS[@]}")
for py in "${PYTHONS[@]}"; do
    [[ " ${ROOT_PYTHONS[*]} " == *" $py "* ]] || die "the $SUITE root carries ${ROOT_PYTHONS[*]}, not $py"
done

# valgrind only where it runs natively (CI's benchmarks); the cross objdump for the other ISA's
# encoder tests (tests/test_jit.py, tests/test_jit_aarch64_encoding.py).
case $ARCH in
    amd64) MACHINE=x86_64 EMULATED=0 ARCH_PKGS=valgrind,binutils-aarch64-linux-gnu ;;
    arm64) MACHINE=aarch64 EMULATED=1 ARCH_PKGS=binutils-x86-64-linux-gnu ;;
    *) die "--arch must be amd64 or arm64, not $ARCH" ;;
esac
INCLUDE=gcc,libc6-dev,libffi-dev,pkg-config,zlib1g,libsqlite3-0,zlib1g-dev,libsqlite3-dev,libssl-dev,ca-certificates,$ARCH_PKGS
for py in "${ROOT_PYTHONS[@]}"; do INCLUDE+=,$py,$py-dev,$py-venv; done
# The first line of the marker; any change to it rebuilds cached roots.
RECIPE="v2 $SUITE $ARCH minbase $INCLUDE"

CACHE=${FASTFFI_ROOT_CACHE:-/var/cache/fastffi}
ROOT=$CACHE/$SUITE-$ARCH
MIRROR=${FASTFFI_ROOT_MIRROR:-http://deb.debian.org/debian}
MARKER=.fastffi-root-ok
WORKDIR=/work/fastffi             # inside the root
BINFMT=/proc/sys/fs/binfmt_misc
HANDLER=$BINFMT/qemu-aarch64
venv_of() { echo "/opt/fastffi-venv-$1"; }   # inside the root, one per interpreter

export _FASTFFI_ROOT_T0=${_FASTFFI_ROOT_T0:-$(date +%s)}   # kept across the re-exec below
elapsed() { echo $(($(date +%s) - _FASTFFI_ROOT_T0)); }

# ---------------------------------------------------------------------------------------------
# 1. Can this machine run it?

# Prints why this machine cannot run the suite and returns 1, or returns 0.
can_run() {
    if [[ $(uname -s) != Linux ]]; then echo "not Linux"; return 1; fi
    if ((EUID != 0)); then echo "not root (chroot and mounts need root)"; return 1; fi
    if ! command -v apt-get >/dev/null && ! command -v debootstrap >/dev/null; then
        echo "neither apt-get nor debootstrap found (needs a Debian-like host)"; return 1
    fi
    if ((!EMULATED)); then
        [[ $(uname -m) == "$MACHINE" ]] || { echo "an $ARCH root runs natively only on $MACHINE"; return 1; }
        return 0
    fi
    if [[ -e $BINFMT/status ]]; then return 0; fi
    if ! grep -qw binfmt_misc /proc/filesystems 2>/dev/null && ! modprobe binfmt_misc 2>/dev/null; then
        echo "the kernel has no binfmt_misc"; return 1
    fi
    if ! mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || [[ ! -e $BINFMT/status ]]; then
        echo "binfmt_misc cannot be mounted on $BINFMT (a container without the privilege?)"; return 1
    fi
    return 0
}

if [[ ${_FASTFFI_ROOT_INNER:-} != 1 ]]; then
    if ! why=$(can_run); then
        if [[ $MODE == check ]]; then say "cannot run the $SUITE $ARCH suite here: $why"; exit 1; fi
        die "cannot run the $SUITE $ARCH suite here: $why"
    fi
    if [[ $MODE == check ]]; then say "this machine can run the $SUITE $ARCH suite"; exit 0; fi

    # -----------------------------------------------------------------------------------------
    # 2. Host packages.
    missing=()
    host_deps=(debootstrap)
    ((EMULATED)) && host_deps+=(qemu-user-static binfmt-support)
    for p in "${host_deps[@]}"; do
        dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
            || die "apt-get install ${missing[*]} failed"
    fi

    # -----------------------------------------------------------------------------------------
    # 3. The qemu-aarch64 binfmt handler. With the F flag the kernel opens the interpreter at
    # registration, so the chroot needs no copy of qemu (Debian's qemu-user-static uses F).
    if ((EMULATED)); then
        if [[ ! -e $HANDLER ]]; then
            update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
        fi
        if [[ ! -e $HANDLER ]]; then
            qemu=$(command -v qemu-aarch64-static || true)
            [[ -n $qemu ]] || die "qemu-aarch64-static not found after installing qemu-user-static"
            say "registering qemu-aarch64 in binfmt_misc by hand ($qemu, flags F)"
            printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$qemu"':F' \
                >"$BINFMT/register" || die "could not register qemu-aarch64 in $BINFMT/register"
        fi
        [[ -e $HANDLER ]] || die "the qemu-aarch64 binfmt handler is not registered"
        if [[ $(head -n1 "$HANDLER") != enabled ]]; then
            echo 1 >"$HANDLER" || die "could not enable $HANDLER"
        fi
        [[ $(head -n1 "$BINFMT/status") == enabled ]] || echo 1 >"$BINFMT/status"
    fi

    # -----------------------------------------------------------------------------------------
    # 4. Everything below runs in a private mount namespace when unshare is available.
    if command -v unshare >/dev/null && unshare --mount --propagation private true 2>/dev/null; then
        export _FASTFFI_ROOT_INNER=1
        args=(--suite "$SUITE" --arch "$ARCH")
        for py in "${PYTHONS[@]}"; do args+=(--python "$py"); done
        [[ $MODE == prepare ]] && args+=(--prepare-only)
        ((SMOKE)) && args+=(--smoke)
        ((REBUILD)) && args+=(--rebuild)
        ((FRESH_VENV)) && args+=(--fresh-venv)
        exec unshare --mount --propagation private -- "$SCRIPT" "${args[@]}" -- "${PYTEST_ARGS[@]}"
    fi
    say "unshare unavailable: mounts are undone by a trap instead"
fi

# ---------------------------------------------------------------------------------------------
# Mounts under ROOT, and removing things inside ROOT without ever following a bind mount.

mounts_under() {  # prints mount points at or below $1, deepest first
    awk -v r="$1" '{ p = $2; gsub(/\\040/, " ", p); if (p == r || index(p, r "/") == 1) print p }' \
        /proc/self/mounts | sort -r
}
unmount_all() {
    local m
    for m in $(mounts_under "$ROOT"); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "warning: could not unmount $m"
    done
}
safe_rm() {  # rm -rf inside the root, refusing when anything is still mounted below it
    local target=$1
    unmount_all
    [[ -z $(mounts_under "$target") ]] || die "refusing to delete $target: something is mounted in it"
    rm -rf --one-file-system -- "$target"
}
mount_into_root() {
    unmount_all
    mkdir -p "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"
    mount -t proc proc "$ROOT/proc"
    mount --bind /dev "$ROOT/dev"
    if [[ -d /dev/pts ]]; then mount --bind /dev/pts "$ROOT/dev/pts"; fi
    # A private /dev/shm for POSIX semaphores and shared memory (multiprocessing).
    mkdir -p "$ROOT/dev/shm" 2>/dev/null || true
    mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm"
}
trap 'unmount_all' EXIT

mkdir -p "$CACHE"
exec 9>"$ROOT.lock"
flock -n 9 || { say "waiting for another run using $ROOT"; flock 9; }

# Leftovers of a killed namespace-less run.
unmount_all

# ---------------------------------------------------------------------------------------------
# 5. The root.

in_root() {  # runs a command in the root with a clean environment; PY_VENV, if set, comes first on PATH
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    local env=(HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM="${TERM:-dumb}"
               PATH=${PY_VENV:+$PY_VENV/bin:}$path
               PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_DEFAULT_TIMEOUT=180
               PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1)
    ((EMULATED)) && env+=(FASTFFI_EMULATOR=qemu-user)
    if [[ -s $ROOT/etc/ssl/certs/fastffi-host-ca.crt ]]; then
        env+=(PIP_CERT=/etc/ssl/certs/fastffi-host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/fastffi-host-ca.crt
              REQUESTS_CA_BUNDLE=/etc/ssl/certs/fastffi-host-ca.crt)
    fi
    local v
    while IFS= read -r v; do env+=("$v"); done < <(env | grep -E '^(FASTFFI_[A-Z0-9_]*|HYPOTHESIS_[A-Z0-9_]*|PYTEST_ADDOPTS|CI)=' \
                                                   | grep -vE '^FASTFFI_(ROOT_|EMULATOR=)' || true)
    chroot "$ROOT" /usr/bin/env -i "${env[@]}" "$@"
}

host_files_into_root() {
    # Name resolution and the host's CA bundle (which may hold a proxy's CA) for pip.
    rm -f "$ROOT/etc/resolv.conf"
    cat /etc/resolv.conf >"$ROOT/etc/resolv.conf"
    [[ -r /etc/hosts ]] && cat /etc/hosts >"$ROOT/etc/hosts"
    if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
        mkdir -p "$ROOT/etc/ssl/certs"
        cat /etc/ssl/certs/ca-certificates.crt >"$ROOT/etc/ssl/certs/fastffi-host-ca.crt"
    fi
    # If the handler was registered without F, the interpreter must exist inside the root.
    ((EMULATED)) || return 0
    local interp
    interp=$(awk '$1 == "interpreter" { print $2 }' "$HANDLER")
    if ! grep -q '^flags:.*F' "$HANDLER" && [[ -n $interp && ! -e $ROOT$interp ]]; then
        mkdir -p "$ROOT$(dirname "$interp")"
        cp -L "$interp" "$ROOT$interp"
    fi
}

root_ok() { [[ -f $ROOT/$MARKER && $(head -n1 "$ROOT/$MARKER") == "$RECIPE" ]]; }
version_of() { in_root "$1" -c 'import platform; print(platform.python_version())'; }

if ((REBUILD)) && [[ -e $ROOT ]]; then
    say "--rebuild: removing $ROOT"
    safe_rm "$ROOT"
fi
if ! root_ok; then
    if [[ -e $ROOT ]]; then
        say "$ROOT is half-built or from another recipe: rebuilding it"
        safe_rm "$ROOT"
    fi
    script=()
    if [[ ! -e /usr/share/debootstrap/scripts/$SUITE ]]; then
        [[ -e /usr/share/debootstrap/scripts/sid ]] || die "this debootstrap knows neither $SUITE nor sid"
        say "this debootstrap has no script for $SUITE: using its sid script"
        script=(/usr/share/debootstrap/scripts/sid)
    fi
    say "building the $SUITE $ARCH root in $ROOT from $MIRROR (minutes)"
    t0=$SECONDS
    mkdir -p "$ROOT"
    # Everything the suite needs is in --include: a testing release's index expires, so the root
    # is never updated after this (were it ever, apt needs -o Acquire::Check-Valid-Until=false).
    if ! debootstrap --arch="$ARCH" --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" \
            "${script[@]}" >"$ROOT.debootstrap.log" 2>&1; then
        tail -n 30 "$ROOT.debootstrap.log" >&2 || true
        if [[ -f $ROOT/debootstrap/debootstrap.log ]]; then tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2; fi
        unmount_all
        die "debootstrap failed (full log: $ROOT.debootstrap.log); the half-built root will be rebuilt next time"
    fi
    unmount_all
    rm -f "$ROOT"/var/cache/apt/archives/*.deb
    versions=()
    for py in "${ROOT_PYTHONS[@]}"; do
        v=$(version_of "$py") || die "$py does not run in the new root"
        versions+=("$py $v")
    done
    printf '%s\n' "$RECIPE" "${versions[@]}" \
        "built $(date -u +%FT%TZ) in $((SECONDS - t0))s from $MIRROR" >"$ROOT/$MARKER"
    say "root built in $((SECONDS - t0))s, $(du -sh --one-file-system "$ROOT" | cut -f1): ${versions[*]}"
fi

host_files_into_root
mount_into_root

machine=$(in_root uname -m) || die "cannot execute $ARCH binaries in $ROOT"
[[ $machine == "$MACHINE" ]] || die "the root reports machine '$machine', expected $MACHINE"

# The venvs (Debian's python refuses system-wide pip installs).
for py in "${PYTHONS[@]}"; do
    venv=$(venv_of "$py")
    if ((FRESH_VENV)) && [[ -e $ROOT$venv ]]; then safe_rm "$ROOT$venv"; mount_into_root; fi
    # bin/python links to the root's interpreter by an absolute path: resolve it in the root.
    if [[ ! -f $ROOT$venv/.fastffi-venv-ok ]] || ! in_root test -x "$venv/bin/python"; then
        say "creating the venv $venv inside the root"
        [[ -e $ROOT$venv ]] && rm -rf --one-file-system -- "${ROOT:?}$venv"
        in_root "$py" -m venv "$venv" || die "$py -m venv failed inside the root"
        touch "$ROOT$venv/.fastffi-venv-ok"
    fi
done

smoke() {
    say "smoke test: the machine, a libffi call from C, each venv's pip"
    mkdir -p "$ROOT/tmp/fastffi-smoke"
    cp "$HERE/aarch64/ffi_smoke.c" "$ROOT/tmp/fastffi-smoke/"
    in_root gcc -O2 -Wall -o /tmp/fastffi-smoke/ffi_smoke /tmp/fastffi-smoke/ffi_smoke.c -lffi \
        || die "gcc could not build the libffi smoke test in the root"
    in_root /tmp/fastffi-smoke/ffi_smoke || die "the libffi smoke test failed in the root"
    if ((EMULATED)); then
        # What emulation shows of seccomp, PROT_EXEC and icache coherence (a report, never a failure).
        cp "$HERE/aarch64/emulation_probe.c" "$ROOT/tmp/fastffi-smoke/"
        in_root gcc -O2 -o /tmp/fastffi-smoke/emulation_probe /tmp/fastffi-smoke/emulation_probe.c \
            && in_root /tmp/fastffi-smoke/emulation_probe || say "warning: the emulation probe did not run"
    fi
    local py
    for py in "${PYTHONS[@]}"; do
        [[ $(in_root "$py" -c 'import platform; print(platform.machine())') == "$MACHINE" ]] \
            || die "$py in the root does not report $MACHINE"
        in_root "$(venv_of "$py")/bin/python" -m pip --version || die "pip does not work in $py's venv"
    done
    rm -rf --one-file-system -- "${ROOT:?}/tmp/fastffi-smoke"
}

if [[ $MODE == prepare ]]; then
    smoke
    say "root ready: $ROOT ($(du -sh --one-file-system "$ROOT" | cut -f1))"
    exit 0
fi
((SMOKE)) && smoke

# ---------------------------------------------------------------------------------------------
# 6. Per interpreter: the project, copied in fresh -- git's files (tracked and untracked-but-not-
# ignored, as they are in the work tree), or the whole tree when this is no git checkout; build
# products (build/, *.so, *.o, *.egg-info, __pycache__, .venv) are left out either way -- then
# install and test.
[[ -f $PROJECT/pyproject.toml || -f $PROJECT/setup.py ]] || die "no pyproject.toml or setup.py in $PROJECT"
copy_project() {
    safe_rm "$ROOT$WORKDIR"
    mount_into_root
    mkdir -p "$ROOT$WORKDIR"
    if git -C "$PROJECT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$PROJECT" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do
                  case /$f in */build/*|*/.venv/*|*/__pycache__/*|*.so|*.o|*.egg-info/*) continue ;; esac
                  if [[ -e $f || -L $f ]]; then printf '%s\0' "$f"; fi
              done \
            | tar --null -T - -cf -) | tar -xf - -C "$ROOT$WORKDIR"
    else
        (cd "$PROJECT" && tar --exclude=./.git --exclude=build --exclude='*.so' --exclude='*.o' \
            --exclude='*.egg-info' --exclude=__pycache__ --exclude=.venv -cf - .) | tar -xf - -C "$ROOT$WORKDIR"
    fi
}

failed=0
summaries=()
for py in "${PYTHONS[@]}"; do
    PY_VENV=$(venv_of "$py")
    what="$SUITE $ARCH $py (Python $(version_of "$py"))"
    copy_project
    t0=$SECONDS
    say "$what: pip install '.[test]' inside the root"
    if ! in_root sh -c "cd '$WORKDIR' && python -m pip install -q '.[test]'"; then
        say "$what: pip install '.[test]' FAILED"
        summaries+=("$what: pip install failed")
        failed=1
        continue
    fi
    say "$what: installed in $((SECONDS - t0))s"
    t0=$SECONDS
    say "$what: python -m pytest -q tests ${PYTEST_ARGS[*]}"
    status=0
    in_root bash -c 'cd "$0" && exec python -m pytest -q tests "$@"' "$WORKDIR" "${PYTEST_ARGS[@]}" || status=$?
    if ((status == 0)); then
        summaries+=("$what: PASSED in $((SECONDS - t0))s")
    else
        summaries+=("$what: FAILED (pytest exit status $status) after $((SECONDS - t0))s")
        failed=1
    fi
    unset PY_VENV
done

# ---------------------------------------------------------------------------------------------
# 7. Summary.
for s in "${summaries[@]}"; do say "$s"; done
say "$(elapsed)s in all"
exit "$failed"
