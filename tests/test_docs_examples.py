"""Every ```python block in README.md and docs/*.md runs, and every `expression  # value` line in
them evaluates to the value its comment shows -- so an example that no longer does what the page
says fails CI (the site, docs/conf.py, renders the same files)."""
from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# Pages whose examples need what another branch is still building: expected to fail, strictly,
# so the day they pass this list must shrink.
PENDING: dict[str, str] = {}   # page -> why its examples cannot run yet (a strict xfail)


def blocks(page: pathlib.Path) -> list[str]:
    return FENCE.findall(page.read_text())


def page_param(page: pathlib.Path):
    marks = [pytest.mark.xfail(reason=PENDING[page.name], strict=True)] if page.name in PENDING else []
    return pytest.param(page, marks=marks, id=page.name)


@pytest.mark.parametrize("page", [page_param(p) for p in PAGES if blocks(p)])
def test_page_examples(page):
    """A page's blocks run in order in one namespace, as a reader would type them."""
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    for number, block in enumerate(blocks(page), 1):
        checked = check_block(block, namespace, f"{page.name} block {number}")
        assert checked >= 1 or "import" in block or "print(" in block, \
            f"{page.name} block {number} shows nothing it checks"


def check_block(block: str, namespace: dict, where: str) -> int:
    """Runs the block statement by statement; returns how many values it compared."""
    checked = 0
    tree = ast.parse(block, where)
    lines = block.splitlines()
    for node in tree.body:
        expected = expected_value(lines[node.end_lineno - 1]) if isinstance(node, ast.Expr) else None
        if expected is not None:
            value = eval(compile(ast.Expression(node.value), where, "eval"), namespace)
            assert value == expected[0], f"{where}: {ast.unparse(node)} gave {value!r}, the page says {expected[0]!r}"
            checked += 1
        else:
            exec(compile(ast.Module([node], []), where, "exec"), namespace)
    return checked


def expected_value(line: str):
    """(value,) when the line ends with `  # <a Python literal>`, else None."""
    _, sep, comment = line.partition("  # ")
    if not sep:
        return None
    try:
        return (ast.literal_eval(comment.strip()),)
    except (ValueError, SyntaxError):
        return None


def test_every_page_is_collected():
    """The README and the guides with examples are all here."""
    names = {p.name for p in PAGES if blocks(p)}
    assert {"README.md", "index.md", "getting-started.md", "callbacks.md"} <= names


def test_a_wrong_value_fails():
    """The checker itself can fail: a comment that disagrees with the value is an AssertionError."""
    with pytest.raises(AssertionError, match=r"x block: 1 \+ 1 gave 2, the page says 3"):
        check_block("1 + 1  # 3\n", {}, "x block")


def test_comment_without_literal_is_not_a_check():
    assert check_block("x = 1  # the first\nx  # 1\n", {}, "b") == 1
