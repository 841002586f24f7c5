"""Differential testing of fastffi's call tiers against the C compiler.

signatures.py  the random signature model and its seeded, edge-case-biased generator
csource.py     C emission: declarations, checksum functions, the layout (offsetof) program
oracle.py      expected values from the compiler's offsets with the struct module (no fastffi)
runner.py      chunked compilation (cached), per-tier checks, crash isolation in child processes
worker.py      the child process of runner.check_chunk
__main__.py    command line: PYTHONPATH=tests python -m gen --help
"""
