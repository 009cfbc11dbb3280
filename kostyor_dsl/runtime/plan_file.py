"""Load a plan (JSON or YAML) and validate it against `schemas/plan.schema.json`."""

from __future__ import annotations

import functools
import json
from importlib.resources import files
from pathlib import Path

from kostyor_dsl.runtime.errors import PlanError


@functools.cache
def plan_schema() -> dict:
    return json.loads((files("kostyor_dsl") / "schemas" / "plan.schema.json").read_text("utf-8"))


def validate_plan(plan: object, name: str = "plan") -> dict:
    import jsonschema

    validator = jsonschema.Draft202012Validator(plan_schema())
    errors = sorted(validator.iter_errors(plan), key=lambda error: list(error.absolute_path))
    if errors:
        lines = []
        for error in errors[:5]:
            where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
            lines.append(f"  at {where}: {error.message[:300]}")
        more = f"\n  ... and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise PlanError(f"{name} is not a valid kostyor plan:\n" + "\n".join(lines) + more)
    ids = [step["id"] for step in plan["steps"]]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicate = next(step_id for step_id in ids if step_id in seen or seen.add(step_id))
        raise PlanError(f"{name}: step id {duplicate!r} appears twice")
    return plan


def load_plan(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot read plan {path}: {exc.strerror or exc}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            # The compiler's loader: libyaml's C loader with the GC paused
            # (a 50,000-host plan in seconds, not tens of seconds).
            from kostyor_dsl.compiler.plan import load_plan as parse_plan_text

            plan = parse_plan_text(text)
        else:
            plan = json.loads(text)
    except Exception as exc:
        raise PlanError(
            f"plan {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}"
        ) from None
    return validate_plan(plan, str(path))
