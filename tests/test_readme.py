"""The README's examples run, and every `expression  # value` line in them
evaluates to the value its comment shows."""
from __future__ import annotations

import ast
import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_examples():
    """The blocks run in order in one namespace, as a reader would type them."""
    namespace: dict = {}
    for block in BLOCKS:
        check_block(block, namespace)


def check_block(block: str, namespace: dict) -> None:
    checked = 0
    for line in block.splitlines():
        code, _, comment = line.partition("  # ")
        try:
            expected = ast.literal_eval(comment.strip()) if comment else None
        except (ValueError, SyntaxError):
            expected = None
        if expected is not None and not code.lstrip().startswith(("import", "from")):
            value = eval(code.strip(), namespace)
            assert value == expected, line
            checked += 1
        else:
            exec(line, namespace)
    assert checked >= 1 or "import" in block


def test_readme_has_examples():
    assert len(BLOCKS) >= 2
