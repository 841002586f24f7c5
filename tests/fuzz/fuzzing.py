"""The fuzz harnesses' shared budget and execution count (see README.md beside this file;
tests/conftest.py prints the count at the end of a session).

``FASTFFI_FUZZ_EXAMPLES`` is hypothesis's ``max_examples`` for every harness (default 20: a
smoke run inside the ordinary suite; CI's fuzz suite sets more, a campaign far more).
Examples are derandomized, so a run replays the same ones and a CI failure is reproducible
from the test name alone; ``FASTFFI_FUZZ_RANDOM=1`` draws new ones each run (campaigns)."""
from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FASTFFI_FUZZ_EXAMPLES", "20"))
RANDOM = os.environ.get("FASTFFI_FUZZ_RANDOM") == "1"

#: Executions run in this process, by harness (conftest.py prints the total at the end).
executions: dict[str, int] = {}


def settings_for(scale: float = 1.0):
    """The harness settings: the budget (scaled for harnesses whose example is many calls),
    no deadline (a loaded 2-core machine and the sanitizers make timings meaningless), no
    example database (CI starts clean; a failure prints its reproducer)."""
    return settings(max_examples=max(1, int(EXAMPLES * scale)), deadline=None, database=None,
                    derandomize=not RANDOM, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


def tick(harness: str, n: int = 1) -> None:
    """Count ``n`` executions of ``harness`` (one call into fastffi each)."""
    executions[harness] = executions.get(harness, 0) + n


def split_tokens(text: str) -> list[str]:
    """C text as words, runs of white space and single characters."""
    return re.findall(r"\w+|\s+|.", text, flags=re.S)


@st.composite
def mutated_text(draw, corpus, tokens, *, repeat: int = 3, characters: bool = False) -> str:
    """A text of ``corpus`` with up to 8 edits: a token of ``tokens`` inserted or put in
    another's place, a token deleted, a run of tokens repeated up to ``repeat`` times, and
    (``characters``) any character inserted anywhere."""
    toks = split_tokens(draw(st.sampled_from(corpus)))
    ops = ["insert", "delete", "replace", "duplicate"] + (["char"] if characters else [])
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(ops))
        i = draw(st.integers(0, len(toks)))
        if op == "insert":
            toks.insert(i, draw(st.sampled_from(tokens)))
        elif toks and op == "delete":
            del toks[min(i, len(toks) - 1)]
        elif toks and op == "replace":
            toks[min(i, len(toks) - 1)] = draw(st.sampled_from(tokens))
        elif toks and op == "duplicate":
            j = draw(st.integers(i, len(toks)))
            toks[i:i] = toks[i:j] * draw(st.integers(1, repeat))
        elif op == "char":
            text = "".join(toks)
            k = draw(st.integers(0, len(text)))
            text = text[:k] + draw(st.characters(codec="utf-8", exclude_categories=["Cs"])) + text[k:]
            toks = split_tokens(text)
    return "".join(toks)
