"""Markdown output: the machine, value tables, ratio tables, notes."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from typing import Mapping, Sequence

MISSING = "—"  # the peer does not run this case (see the notes)


def machine() -> str:
    """A bullet list describing where the numbers were measured."""
    lines = [
        f"- date: {datetime.date.today().isoformat()}",
        f"- CPU: {_cpu_model()}, {os.cpu_count()} logical cores",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"- C compiler: {_compiler_version()}",
        f"- cffi: {_cffi_version()}",
        f"- fastffi: {_fastffi_version()}",
    ]
    return "\n".join(lines)


def table(title: str, cases: Sequence[str], peers: Sequence[str],
          values: Mapping[tuple[str, str], float], fmt: str) -> str:
    """Rows = cases, columns = peers; cells formatted with fmt, or MISSING."""
    lines = [f"### {title}", "",
             "| benchmark | " + " | ".join(peers) + " |",
             "|---|" + "---:|" * len(peers)]
    for case in cases:
        cells = (format(values[case, p], fmt) if (case, p) in values else MISSING for p in peers)
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ratios(values: Mapping[tuple[str, str], float], base: str) -> dict[tuple[str, str], float]:
    """Each value divided by the base peer's value for the same case."""
    return {(case, peer): v / values[case, base] for (case, peer), v in values.items()
            if (case, base) in values and values[case, base] > 0}


def notes(items: Sequence[str]) -> str:
    return "### Notes\n\n" + "\n".join(f"- {item}" for item in items) if items else ""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _compiler_version() -> str:
    cc = os.environ.get("CC", "gcc")
    try:
        out = subprocess.run([*cc.split(), "--version"], capture_output=True, text=True)
    except OSError:
        return "none"
    return out.stdout.splitlines()[0] if out.returncode == 0 and out.stdout else "unknown"


def _cffi_version() -> str:
    try:
        import cffi
    except ImportError:
        return "not installed"
    return cffi.__version__


def _fastffi_version() -> str:
    try:
        import fastffi
    except ImportError:
        return "not importable"
    libffi = getattr(fastffi, "LIBFFI_VERSION", "?")
    return f"{getattr(fastffi, '__version__', '?')} (libffi {libffi})"
