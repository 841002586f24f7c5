"""The fuzz suite's session hooks: the executions every harness ran, printed at the end
("fuzz: N executions ...") for CI's log and the closing note."""
from __future__ import annotations

import fuzzing


def pytest_terminal_summary(terminalreporter):
    if not fuzzing.executions:
        return
    total = sum(fuzzing.executions.values())
    parts = ", ".join(f"{name} {n}" for name, n in sorted(fuzzing.executions.items()))
    terminalreporter.write_line(f"fuzz: {total} executions ({parts}; FASTFFI_FUZZ_EXAMPLES={fuzzing.EXAMPLES})")
