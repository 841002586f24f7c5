"""fastffi's benchmark harness: ``python -m fastffi bench`` (see run.py).

Installed as ``fastffi.bench``; from a source checkout it also runs as
``python -m bench`` in the repository root.
"""
