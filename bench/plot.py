"""``python -m fastffi bench --plot DIR``: the measured numbers as PNG bar charts.

One chart per measurement: ns/call and instructions/call (a group of bars per benchmark case,
one bar per peer: the fastffi tiers, ctypes, cffi, the hand-written extension), and fn.map's
ns/row.  Each chart's caption names the machine (report.machine()), so a picture is never
separated from where it was measured.  matplotlib is the optional ``plot`` extra."""
from __future__ import annotations

import pathlib
from typing import Mapping, Sequence


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise RuntimeError("--plot needs matplotlib: pip install 'fastffi[plot]'") from e
    matplotlib.use("Agg")   # files only, no display
    import matplotlib.pyplot as plt
    return plt


def grouped(path: pathlib.Path, title: str, unit: str, cases: Sequence[str], peers: Sequence[str],
            values: Mapping[tuple[str, str], float], machine: str) -> pathlib.Path:
    """Bars of ``values[case, peer]``, grouped by case; a missing pair leaves a gap."""
    plt = _pyplot()
    width = 0.8 / max(len(peers), 1)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.3 * len(cases) + 3), 5.0), dpi=110)
    for i, peer in enumerate(peers):
        xs = [c + (i - (len(peers) - 1) / 2) * width for c in range(len(cases))
              if (cases[c], peer) in values]
        ys = [values[case, peer] for case in cases if (case, peer) in values]
        ax.bar(xs, ys, width, label=peer)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(unit)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    _caption(fig, machine)
    return _save(fig, path)


def rows(path: pathlib.Path, title: str, unit: str, values: Sequence[tuple[str, float]],
         machine: str) -> pathlib.Path:
    """One horizontal bar per (label, value), in the order given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9.0, 0.35 * len(values) + 1.8), dpi=110)
    labels = [label for label, _ in values]
    ax.barh(range(len(values)), [v for _, v in values], color="tab:blue")
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    _caption(fig, machine)
    return _save(fig, path)


def _caption(fig, machine: str) -> None:
    # The machine's bullet list, on one line under the chart.
    text = "; ".join(line.lstrip("- ") for line in machine.splitlines())
    fig.text(0.01, 0.005, text, fontsize=5.5, color="0.35", wrap=True)


def _save(fig, path: pathlib.Path) -> pathlib.Path:
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return path


__all__ = ["grouped", "rows"]
