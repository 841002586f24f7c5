#!/usr/bin/env bash
# Run the fastffi test suite on arm64 Linux, under qemu-user emulation, on an x86-64 Debian host.
#
# How a run goes:
#   1. Check that we can run at all (root, Linux, binfmt_misc); refuse loudly otherwise.
#   2. Install qemu-user-static, binfmt-support and debootstrap with apt-get when missing.
#   3. Mount binfmt_misc and make sure the qemu-aarch64 handler is registered and enabled.
#   4. Re-enter this script in a private mount namespace, so every mount made below vanishes
#      with the process, even if it is killed (a trap unmounts too, for the namespace-less case).
#   5. Build an arm64 Debian root in a cache folder outside the work tree, only when it is
#      missing or was left half-built (a marker file is written after a successful debootstrap).
#   6. Copy the project (the files git knows, committed or not) into ROOT/work/fastffi, mount
#      /proc, /dev and a fresh /dev/shm in the root, give it the host's resolv.conf and CA bundle.
#   7. In a venv inside the root: pip install ".[test]", then python -m pytest -q tests ARGS.
#   8. Print the summary; the exit status is pytest's (non-zero on any failure, or on no tests).
#
# Usage: scripts/test-aarch64.sh [OPTIONS] [--] [PYTEST ARGS...]
#   --check          exit 0 if this machine can run the suite (root, binfmt_misc mountable), else 1
#   --prepare-only   build the root (and its venv) and smoke-test it, then stop (for a CI cache)
#   --smoke          also run the smoke test (aarch64 python, libffi call from C) before the suite
#   --rebuild        throw the cached root away and build it again
#   --fresh-venv     recreate the venv inside the root (it is kept between runs otherwise)
#   -h, --help       this text
#
# Environment:
#   FASTFFI_ARM64_ROOT    where the root lives (default /var/cache/fastffi/arm64-bookworm)
#   FASTFFI_ARM64_MIRROR  Debian mirror for debootstrap (default http://deb.debian.org/debian)
#   FASTFFI_*, HYPOTHESIS_*, PYTEST_ADDOPTS, CI   passed through to the tests, e.g.
#                         FASTFFI_DIFF_COUNT=200 to shrink the differential tests.
# Inside the root the tests also see FASTFFI_EMULATOR=qemu-user. What emulation cannot show
# (measured with scripts/aarch64/emulation_probe.c under Debian bookworm's qemu-user-static 7.2):
# a guest seccomp filter is refused (prctl PR_SET_SECCOMP fails with EINVAL), so a test that denies
# executable memory with seccomp must use a test hook there; rewritten code always runs the new
# instructions, so a missing instruction-cache flush never shows. PROT_EXEC is enforced (a jump into
# a read-write page faults, also after the page ran as code and was made read-write again).
#
# Measured on the 2-core x86-64 machine: the root builds in 4-8 minutes (473 MB; 594 MB with the
# venv), the first pip install inside it takes about 2.5 minutes, a later one about 1 minute (the
# extension is rebuilt under emulation), and the suite about 3-4 minutes.
set -Eeuo pipefail

SUITE=bookworm
ARCH=arm64
INCLUDE=python3,python3-dev,python3-venv,gcc,libc6-dev,libffi-dev,pkg-config,zlib1g,libsqlite3-0,ca-certificates,binutils-x86-64-linux-gnu
# Bump when the recipe of the root changes, so cached roots built by an older recipe are rebuilt.
RECIPE="v1 $SUITE $ARCH minbase $INCLUDE"
ROOT=${FASTFFI_ARM64_ROOT:-/var/cache/fastffi/arm64-bookworm}
MIRROR=${FASTFFI_ARM64_MIRROR:-http://deb.debian.org/debian}
MARKER=.fastffi-root-ok
VENV=/opt/fastffi-venv            # inside the root
WORKDIR=/work/fastffi             # inside the root
HOST_DEPS="qemu-user-static binfmt-support debootstrap"
BINFMT=/proc/sys/fs/binfmt_misc
HANDLER=$BINFMT/qemu-aarch64

export _FASTFFI_AARCH64_T0=${_FASTFFI_AARCH64_T0:-$(date +%s)}   # kept across the re-exec below
elapsed() { echo $(($(date +%s) - _FASTFFI_AARCH64_T0)); }
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SCRIPT")
PROJECT=$(dirname "$HERE")

say() { printf '[test-aarch64] %s\n' "$*" >&2; }
die() { printf '[test-aarch64] ERROR: %s\n' "$*" >&2; exit 2; }
trap 'die "failed at line $LINENO: $BASH_COMMAND"' ERR

usage() { sed -n '2,/^set -Eeuo/p' "$SCRIPT" | sed '$d' | sed 's/^# \{0,1\}//'; }

MODE=test SMOKE=0 REBUILD=0 FRESH_VENV=0
PYTEST_ARGS=()
while (($#)); do
    case $1 in
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
# 1. Can this machine run it?

# Prints why this machine cannot run the suite and returns 1, or returns 0.
can_run() {
    if [[ $(uname -s) != Linux ]]; then echo "not Linux"; return 1; fi
    if ((EUID != 0)); then echo "not root (chroot, mounts and binfmt_misc need root)"; return 1; fi
    if ! command -v apt-get >/dev/null && ! command -v debootstrap >/dev/null; then
        echo "neither apt-get nor debootstrap found (needs a Debian-like host)"; return 1
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

if [[ ${_FASTFFI_AARCH64_INNER:-} != 1 ]]; then
    if ! why=$(can_run); then
        if [[ $MODE == check ]]; then say "cannot run the arm64 suite here: $why"; exit 1; fi
        die "cannot run the arm64 suite here: $why"
    fi
    if [[ $MODE == check ]]; then say "this machine can run the arm64 suite (root, binfmt_misc)"; exit 0; fi
    [[ $(uname -m) == x86_64 ]] || say "warning: host is $(uname -m), not x86_64; carrying on"

    # -----------------------------------------------------------------------------------------
    # 2. Host packages.
    missing=()
    for p in $HOST_DEPS; do
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

    # -----------------------------------------------------------------------------------------
    # 4. Everything below runs in a private mount namespace when unshare is available.
    if command -v unshare >/dev/null && unshare --mount --propagation private true 2>/dev/null; then
        export _FASTFFI_AARCH64_INNER=1
        args=()
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
    mkdir -p "$ROOT/proc" "$ROOT/dev" "$ROOT/tmp"
    mount -t proc proc "$ROOT/proc"
    mount --bind /dev "$ROOT/dev"
    if [[ -d /dev/pts ]]; then mount --bind /dev/pts "$ROOT/dev/pts"; fi
    # A private /dev/shm for POSIX semaphores and shared memory (multiprocessing).
    mkdir -p "$ROOT/dev/shm" 2>/dev/null || true
    mount -t tmpfs -o mode=1777 shm "$ROOT/dev/shm"
}
trap 'unmount_all' EXIT

mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -n 9 || { say "waiting for another run using $ROOT"; flock 9; }

# Leftovers of a killed namespace-less run.
unmount_all

# ---------------------------------------------------------------------------------------------
# 5. The arm64 root.

in_root() {  # runs a command in the root with a clean environment
    local env=(HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM="${TERM:-dumb}"
               PATH=$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
               PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_DEFAULT_TIMEOUT=180
               PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1 FASTFFI_EMULATOR=qemu-user)
    if [[ -s $ROOT/etc/ssl/certs/fastffi-host-ca.crt ]]; then
        env+=(PIP_CERT=/etc/ssl/certs/fastffi-host-ca.crt SSL_CERT_FILE=/etc/ssl/certs/fastffi-host-ca.crt
              REQUESTS_CA_BUNDLE=/etc/ssl/certs/fastffi-host-ca.crt)
    fi
    local v
    while IFS= read -r v; do env+=("$v"); done < <(env | grep -E '^(FASTFFI_[A-Z0-9_]*|HYPOTHESIS_[A-Z0-9_]*|PYTEST_ADDOPTS|CI)=' \
                                                   | grep -vE '^FASTFFI_(ARM64_|EMULATOR=)' || true)
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
    local interp
    interp=$(awk '$1 == "interpreter" { print $2 }' "$HANDLER")
    if ! grep -q '^flags:.*F' "$HANDLER" && [[ -n $interp && ! -e $ROOT$interp ]]; then
        mkdir -p "$ROOT$(dirname "$interp")"
        cp -L "$interp" "$ROOT$interp"
    fi
}

root_ok() { [[ -f $ROOT/$MARKER && $(head -n1 "$ROOT/$MARKER") == "$RECIPE" ]]; }

if ((REBUILD)) && [[ -e $ROOT ]]; then
    say "--rebuild: removing $ROOT"
    safe_rm "$ROOT"
fi
if ! root_ok; then
    if [[ -e $ROOT ]]; then
        say "$ROOT is half-built or from an older recipe: rebuilding it"
        safe_rm "$ROOT"
    fi
    say "building the $ARCH $SUITE root in $ROOT from $MIRROR (about 5 minutes)"
    t0=$SECONDS
    mkdir -p "$ROOT"
    if ! debootstrap --arch="$ARCH" --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" \
            >"$ROOT.debootstrap.log" 2>&1; then
        tail -n 30 "$ROOT.debootstrap.log" >&2 || true
        if [[ -f $ROOT/debootstrap/debootstrap.log ]]; then tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2; fi
        unmount_all
        die "debootstrap failed (full log: $ROOT.debootstrap.log); the half-built root will be rebuilt next time"
    fi
    unmount_all
    rm -f "$ROOT"/var/cache/apt/archives/*.deb
    printf '%s\nbuilt %s in %ss from %s\n' "$RECIPE" "$(date -u +%FT%TZ)" $((SECONDS - t0)) "$MIRROR" >"$ROOT/$MARKER"
    say "root built in $((SECONDS - t0))s, $(du -sh --one-file-system "$ROOT" | cut -f1)"
fi

host_files_into_root
mount_into_root

machine=$(in_root uname -m) || die "cannot execute arm64 binaries in $ROOT (binfmt/qemu not working)"
[[ $machine == aarch64 ]] || die "the root reports machine '$machine', expected aarch64"

# The venv (Debian's python refuses system-wide pip installs).
if ((FRESH_VENV)) && [[ -e $ROOT$VENV ]]; then safe_rm "$ROOT$VENV"; mount_into_root; fi
if [[ ! -x $ROOT$VENV/bin/python || ! -f $ROOT$VENV/.fastffi-venv-ok ]]; then
    say "creating the venv $VENV inside the root"
    [[ -e $ROOT$VENV ]] && rm -rf --one-file-system -- "${ROOT:?}$VENV"
    in_root python3 -m venv "$VENV" || die "python3 -m venv failed inside the root"
    touch "$ROOT$VENV/.fastffi-venv-ok"
fi

smoke() {
    say "smoke test: python's machine, a libffi call from C, the venv's pip"
    in_root python3 -c 'import platform, sys; print("python", sys.version.split()[0], "on", platform.machine())'
    [[ $(in_root python3 -c 'import platform; print(platform.machine())') == aarch64 ]] \
        || die "python in the root does not report aarch64"
    mkdir -p "$ROOT/tmp/fastffi-smoke"
    cp "$HERE/aarch64/ffi_smoke.c" "$ROOT/tmp/fastffi-smoke/"
    in_root gcc -O2 -Wall -o /tmp/fastffi-smoke/ffi_smoke /tmp/fastffi-smoke/ffi_smoke.c -lffi \
        || die "gcc could not build the libffi smoke test in the root"
    in_root /tmp/fastffi-smoke/ffi_smoke || die "the libffi smoke test failed in the root"
    # What emulation shows of seccomp, PROT_EXEC and icache coherence (a report, never a failure).
    cp "$HERE/aarch64/emulation_probe.c" "$ROOT/tmp/fastffi-smoke/"
    in_root gcc -O2 -o /tmp/fastffi-smoke/emulation_probe /tmp/fastffi-smoke/emulation_probe.c \
        && in_root /tmp/fastffi-smoke/emulation_probe || say "warning: the emulation probe did not run"
    in_root "$VENV/bin/python" -m pip --version || die "pip does not work in the root's venv"
    rm -rf --one-file-system -- "${ROOT:?}/tmp/fastffi-smoke"
}

if [[ $MODE == prepare ]]; then
    smoke
    say "root ready: $ROOT ($(du -sh --one-file-system "$ROOT" | cut -f1))"
    exit 0
fi
((SMOKE)) && smoke

# ---------------------------------------------------------------------------------------------
# 6. The project, copied in fresh: git's files (tracked and untracked-but-not-ignored, as they
# are in the work tree), or the whole tree when this is no git checkout; build products of the
# host (build/, *.so, *.o, *.egg-info, __pycache__, .venv) are left out either way.
[[ -f $PROJECT/pyproject.toml || -f $PROJECT/setup.py ]] || die "no pyproject.toml or setup.py in $PROJECT"
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
say "copied $(find "$ROOT$WORKDIR" -type f | wc -l) files of $PROJECT into the root"

# ---------------------------------------------------------------------------------------------
# 7. Install and test.
t0=$SECONDS
say "pip install '.[test]' inside the root (builds the extension with the root's gcc)"
if ! in_root sh -c "cd '$WORKDIR' && '$VENV/bin/python' -m pip install -q '.[test]'"; then
    die "pip install '.[test]' failed inside the arm64 root"
fi
say "installed in $((SECONDS - t0))s"
in_root sh -c "cd / && '$VENV/bin/python' -c 'import fastffi, platform; print(\"fastffi\", getattr(fastffi, \"__version__\", \"?\"), \"on\", platform.machine())'" \
    || die "the installed fastffi does not import inside the root"

t0=$SECONDS
say "python -m pytest -q tests ${PYTEST_ARGS[*]}"
status=0
in_root bash -c 'cd "$0" && exec "$1" -m pytest -q tests "${@:2}"' "$WORKDIR" "$VENV/bin/python" "${PYTEST_ARGS[@]}" \
    || status=$?
if ((status == 0)); then
    say "arm64 suite PASSED in $((SECONDS - t0))s ($(elapsed)s in all)"
else
    say "arm64 suite FAILED (pytest exit status $status) after $((SECONDS - t0))s ($(elapsed)s in all)"
fi
exit "$status"
