"""Sphinx configuration for fastffi's documentation site.

Every guide page is one Markdown file in docs/ (MyST); the API reference is generated from the
docstrings of the installed package (autodoc), so build it in a venv where fastffi is installed:

    pip install ".[docs]" && python -m sphinx -W -b html docs docs/_build/html
"""
from __future__ import annotations

import fastffi

project = "fastffi"
author = "the fastffi authors"
copyright = "2026, the fastffi authors"
release = fastffi.__version__
version = ".".join(release.split(".")[:2])

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# README.md is not a page (its examples are run by tests/test_docs_examples.py); _build is output.
exclude_patterns = ["_build", "README.md", "_static/bench/README.md"]

# Headings become link targets ("errors.md#calls"), as GitHub renders them.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
# The signatures are shown as the functions declare them, not evaluated annotations.
autodoc_typehints = "signature"
autodoc_preserve_defaults = True


html_theme = "furo"
html_title = f"fastffi {release}"
html_static_path = ["_static"]
