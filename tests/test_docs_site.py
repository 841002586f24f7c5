"""The documentation site's sources: every public name has its reference entry, and every guide
page is in the table of contents (so sphinx -W, which CI runs, renders all of them)."""
from __future__ import annotations

import pathlib
import re

import fastffi

DOCS = pathlib.Path(__file__).parent.parent / "docs"


def test_api_reference_covers_every_public_name():
    api = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^\.\. auto(?:function|class|exception):: fastffi\.(\w+)\b", api, re.M))
    for block in re.findall(r"^\.\. data:: (.*?)\n\n", api, re.M | re.S):
        documented.update(block.split())
    assert sorted(set(fastffi.__all__) - documented) == []
    assert sorted(documented - set(fastffi.__all__)) == []


def test_every_page_is_in_the_toctree():
    index = (DOCS / "index.md").read_text()
    listed = set(re.findall(r"^([\w-]+)$", "\n".join(re.findall(r"```\{toctree\}\n(.*?)```", index, re.S)), re.M))
    pages = {p.stem for p in DOCS.glob("*.md")} - {"index"}
    assert sorted(pages - listed) == []
    assert sorted(listed - pages) == []
