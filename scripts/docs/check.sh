#!/usr/bin/env bash
# The documentation site and the types, checked (CI runs it: .ci/run), in a venv where fastffi is
# installed with the docs extra (pip install ".[docs]"):
#   1. the stubs against the built core (stubtest) and the package against the stubs (mypy);
#   2. every ```python example of README.md and docs/*.md type-checked (mypy; the examples are
#      run by tests/test_docs_examples.py in every suite);
#   3. the site built with `python -m sphinx -W` (a warning fails it) into OUT/html;
#   4. the index and one guide page rendered by headless Chromium to OUT/*.png, each checked to be
#      a real page (scripts/docs/nonblank.py), not an empty or error screen.
# Usage: scripts/docs/check.sh [OUT]   (default docs/_build)
set -Eeuo pipefail
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
PROJECT=$(dirname "$(dirname "$HERE")")
OUT=$(readlink -f "${1:-$PROJECT/docs/_build}")
say() { printf '[docs] %s\n' "$*"; }
die() { printf '[docs] FAILED: %s\n' "$*" >&2; exit 1; }
cd "$PROJECT"
rm -rf "$OUT" && mkdir -p "$OUT/examples"

say "stubtest: src/fastffi/_core.pyi against the built core"
MYPYPATH=src python -m mypy.stubtest --mypy-config-file pyproject.toml fastffi._core
say "mypy: the package against its stubs"
MYPYPATH=src python -m mypy --config-file pyproject.toml -p fastffi

say "mypy: the examples of README.md and docs/*.md"
python - "$OUT/examples" <<'PY'
import pathlib, sys
sys.path.insert(0, "tests")
from test_docs_examples import PAGES, blocks
out = pathlib.Path(sys.argv[1])
for page in PAGES:
    if blocks(page):
        (out / f"docs_{page.stem.replace('-', '_')}.py").write_text("\n".join(blocks(page)))
PY
# As on 3.12+, where fastffi objects are typed buffers (PEP 688's __buffer__, which 3.10 and 3.11
# do not have at run time, so the stub gives it from 3.12 only).
(cd "$OUT/examples" && MYPYPATH="$PROJECT/src" python -m mypy --config-file "$PROJECT/pyproject.toml" \
    --python-version 3.12 .)

say "sphinx -W: docs -> $OUT/html"
python -m sphinx -W --keep-going -q -b html docs "$OUT/html"

browser=$(command -v chromium || command -v chromium-browser || true)
[[ -n $browser ]] || die "no chromium (apt-get install chromium)"
for page in index callbacks; do
    # A fresh profile per shot; --no-sandbox because CI runs as root.
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$OUT/profile-$page" \
        --window-size=1280,1400 --screenshot="$OUT/$page.png" "file://$OUT/html/$page.html" >"$OUT/$page.log" 2>&1 \
        || { cat "$OUT/$page.log"; die "chromium could not render $page.html"; }
    python "$HERE/nonblank.py" "$OUT/$page.png"
done
rm -rf "$OUT"/profile-*
say "site built and rendered: $OUT/html, $OUT/index.png, $OUT/callbacks.png"
