"""The plan tier (not built yet on this branch)."""
from __future__ import annotations

NAME = "plan"


def abi_name() -> str | None:
    return None


def platform_refusal() -> str | None:
    return "the plan tier is not built yet"


def refusal(sig) -> str | None:
    return platform_refusal()


def prepare(sig) -> dict:
    raise NotImplementedError


def describe(sig) -> list[str]:
    return []
