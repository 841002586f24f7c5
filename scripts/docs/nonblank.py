"""nonblank.py PNG: exit 0 when the screenshot shows a rendered page, else 1 with the reason.

A real page of the site has its text and sidebar: many colours, and a good share of pixels that
are not the background.  An empty page, a browser error screen or a page whose stylesheet did not
load fails one of the checks."""
from __future__ import annotations

import sys

from PIL import Image


def check(path: str) -> str | None:
    img = Image.open(path).convert("RGB")
    width, height = img.size
    if (width, height) < (800, 600):
        return f"{width}x{height}: smaller than the window asked for"
    counts = img.getcolors(maxcolors=width * height)
    background = max(counts)[0]
    ink = 1 - background / (width * height)
    if len(counts) < 64:
        return f"{len(counts)} colours: no antialiased text"
    if ink < 0.03:
        return f"{ink:.1%} of the pixels differ from the background: nearly empty"
    # The furo sidebar's background and the body's differ in shade: a page without its CSS has
    # one background everywhere.
    def background(box):
        region = img.crop(box)
        return max(region.getcolors(maxcolors=region.width * region.height))[1]
    left = background((0, 0, width // 5, height))
    middle = background((2 * width // 5, 0, 3 * width // 5, height))
    if left == middle:
        return "the sidebar and the body look the same: the theme did not load"
    print(f"{path}: {width}x{height}, {len(counts)} colours, {ink:.1%} ink")
    return None


if __name__ == "__main__":
    reason = check(sys.argv[1])
    if reason is not None:
        print(f"{sys.argv[1]}: not a rendered page: {reason}", file=sys.stderr)
        sys.exit(1)
