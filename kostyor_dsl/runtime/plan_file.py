"""Load a plan (JSON or YAML) for a run, checked as every command checks plans
(`kostyor_dsl.plan.read`), with the runtime's error type."""

from __future__ import annotations

from pathlib import Path

from kostyor_dsl.runtime.errors import PlanError


def load_plan(path: str | Path) -> dict:
    return load_plan_and_text(path)[0]


def load_plan_and_text(path: str | Path) -> tuple[dict, str]:
    """The plan and the text it was read from (its seal is checked against the text)."""
    from kostyor_dsl.plan.read import PlanFileError, parse_plan_text

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise PlanError(f"cannot read plan {path}: {reason}") from None
    try:
        return parse_plan_text(text, str(path)), text
    except PlanFileError as exc:
        detail = str(exc).removeprefix(f"{path}: ").removeprefix(f"{path}")
        detail = detail.lstrip(": ").removeprefix("not a valid plan: ")
        raise PlanError(f"{path} is not a valid kostyor plan: {detail}") from None
