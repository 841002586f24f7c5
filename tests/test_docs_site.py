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


def _nonblank():
    import importlib.util
    spec = importlib.util.spec_from_file_location("nonblank", DOCS.parent / "scripts" / "docs" / "nonblank.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshot_check_refuses_blank_and_unstyled_pages(tmp_path):
    """CI's screenshot check (scripts/docs/nonblank.py) fails an empty page and a page without
    its theme, and passes a page-like picture."""
    from PIL import Image, ImageDraw

    check = _nonblank().check
    blank = tmp_path / "blank.png"
    Image.new("RGB", (1280, 1400), "white").save(blank)
    assert check(str(blank)) == "1 colours: no antialiased text"

    def page(sidebar: str, path):
        img = Image.new("RGB", (1280, 1400), "white")
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, 0, 250, 1400), fill=sidebar)
        for y in range(40, 1300, 24):   # lines of "text" in many shades
            for x in range(320, 1200, 9):
                draw.text((x, y), "Ag", fill=((x * 7) % 200, (y * 3) % 200, (x + y) % 200))
        img.save(path)
        return str(path)

    assert check(page("white", tmp_path / "unstyled.png")) == \
        "the sidebar and the body look the same: the theme did not load"
    assert check(page("#f8f9fb", tmp_path / "page.png")) is None
