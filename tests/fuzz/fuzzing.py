"""The fuzz harnesses' shared budget and execution count (see README.md beside this file;
tests/conftest.py prints the count at the end of a session).

``FASTFFI_FUZZ_EXAMPLES`` is hypothesis's ``max_examples`` for every harness (default 20: a
smoke run inside the ordinary suite; CI's fuzz suite sets more, a campaign far more).
Examples are derandomized, so a run replays the same ones and a CI failure is reproducible
from the test name alone; ``FASTFFI_FUZZ_RANDOM=1`` draws new ones each run (campaigns)."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
