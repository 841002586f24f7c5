"""bench/plot.py: the charts of `python -m fastffi bench --plot DIR` are real PNGs of the values."""
from __future__ import annotations

import pytest
from PIL import Image   # matplotlib's own dependency (matplotlib: the test and plot extras)

from fastffi.bench import plot

# matplotlib's C++ font code throws exceptions, which ASan's __cxa_throw interceptor cannot
# forward when the runtime is LD_PRELOADed into an uninstrumented CPython (CHECK failed in
# asan_interceptors.cpp): these run in every other suite.
pytestmark = pytest.mark.no_sanitizer

MACHINE = "- date: 2026-12-03\n- CPU: test CPU, 2 logical cores\n- fastffi: 0.1.0 (libffi 3.4.4)"


def ink(path) -> float:
    img = Image.open(path).convert("RGB")
    counts = img.getcolors(maxcolors=img.width * img.height)
    return 1 - max(counts)[0] / (img.width * img.height)


def test_grouped_chart(tmp_path):
    values = {("add_i32", "fastffi jit"): 30.0, ("add_i32", "ctypes"): 480.0, ("cos", "fastffi jit"): 31.0,
              ("cos", "ctypes"): 470.0, ("cos", "cffi"): 150.0}
    path = plot.grouped(tmp_path / "sub" / "ns.png", "ns per call", "ns/call", ["add_i32", "cos"],
                        ["fastffi jit", "ctypes", "cffi"], values, MACHINE)
    assert path == tmp_path / "sub" / "ns.png"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width >= 800 and img.height >= 500
    assert ink(path) > 0.02


def test_rows_chart(tmp_path):
    path = plot.rows(tmp_path / "map.png", "fn.map(): ns per row", "ns/row",
                     [("add, jit loop", 1.1), ("add, plan loop", 3.5), ("numpy", 0.4)], MACHINE)
    with Image.open(path) as img:
        assert img.format == "PNG"
    assert ink(path) > 0.02


def test_taller_bars_for_larger_values(tmp_path):
    """The bar heights follow the values: ctypes' bar is the taller one."""
    path = plot.grouped(tmp_path / "two.png", "t", "ns/call", ["c"], ["a", "b"],
                        {("c", "a"): 10.0, ("c", "b"): 100.0}, MACHINE)
    img = Image.open(path).convert("RGB")
    blue, orange = (31, 119, 180), (255, 127, 14)   # matplotlib's first two colours

    def height(colour):
        return max(sum(1 for y in range(img.height) if img.getpixel((x, y)) == colour) for x in range(img.width))
    assert height(orange) > 5 * height(blue) > 0
