"""Reading a plan file: parsed, checked against the plan schema, one clear line on failure.

Every command that reads a plan (run, diff, graph, explain, codegen) goes through
this module, so they all agree on what a valid plan is: the plan schema
(schemas/plan.schema.json) plus the step kinds this version knows.  A later
plan format may add kinds (gates, parallel batches); until the review tools
learn them they stop with a message naming the kind, never a traceback or a
silently wrong picture.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from importlib import resources

KNOWN_KINDS = ("pre-upgrade", "upgrade", "hook", "gate", "post-upgrade")


class PlanFileError(Exception):
    """A plan that cannot be read or is not a valid plan; `str()` is one line for a user."""


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    text = resources.files("kostyor_dsl").joinpath("schemas/plan.schema.json").read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema), defs_digest(schema)


def read_plan_file(path: str) -> dict:
    """The plan in `path` (YAML or JSON, as `kostyorc compile` writes it), validated."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise PlanFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PlanFileError(f"{path}: is a directory, not a plan file") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: not a text file (expected a YAML or JSON plan)") from None
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_plan_text(text, path)


def parse_plan_text(text: str, path: str = "<plan>") -> dict:
    from kostyor_dsl.inventory.documents import DocumentError, load_plan_document

    try:
        plan = load_plan_document(text)
    except DocumentError as exc:
        raise PlanFileError(
            f"{path}{exc.where()}: not a YAML or JSON plan: {exc.describe()}"
        ) from None
    check_plan(plan, path)
    return plan


def check_plan(plan: object, path: str = "<plan>") -> None:
    """Raise PlanFileError, naming the first problem, unless `plan` is a plan we can review."""
    if not isinstance(plan, dict):
        raise PlanFileError(f"{path}: not a plan (expected a mapping, found {_kind_of(plan)})")
    steps = plan.get("steps")
    if isinstance(steps, list):
        # Before the schema: an unknown kind would otherwise read as "matches no oneOf branch".
        for index, step in enumerate(steps):
            kind = step.get("kind") if isinstance(step, dict) else None
            if isinstance(kind, str) and kind not in KNOWN_KINDS:
                raise PlanFileError(
                    f"{path}: steps[{index}] has kind {kind!r}, which this kostyorc cannot "
                    f"review (it knows {', '.join(KNOWN_KINDS)}); upgrade kostyor_dsl"
                )
    error = _schema_problem(plan)
    if error is not None:
        raise PlanFileError(f"{path}: not a valid plan: {error}")
    seen: set[str] = set()
    for index, step in enumerate(plan["steps"]):
        if step["id"] in seen:
            raise PlanFileError(f"{path}: steps[{index}]: step id {step['id']!r} appears twice")
        seen.add(step["id"])


# jsonschema needs about a minute for a 100k-step plan; the review tools must
# answer in seconds.  So the plan's skeleton goes through jsonschema, and each
# step and host placement through the checks below, which mirror the schema's
# `$defs` they cover.  Those checks are used only while the schema's `$defs`
# still hash to MIRRORED_DEFS_SHA256: when the schema changes, everything goes
# through jsonschema again until the mirror is updated (a test pins this).
MIRRORED_DEFS = (
    "name",
    "parameters",
    "source",
    "step",
    "pre_upgrade_step",
    "post_upgrade_step",
    "upgrade_step",
    "hook_step",
    "gate_step",
    "host_placement",
)
MIRRORED_DEFS_SHA256 = "eb832bf701a675eee335ec696e3ff93ce32aad37a876f8c6396f55dd45772fe0"
_SOURCE = re.compile(r"^.+:[0-9]+$")
# kind -> (required keys, optional keys, id pattern or None)
_STEP_SHAPES = {
    "pre-upgrade": (
        frozenset({"id", "kind", "action", "parameters", "source"}),
        frozenset({"project", "waits_for"}),
        re.compile(r"^pre-upgrade:.+$"),
    ),
    "post-upgrade": (
        frozenset({"id", "kind", "action", "parameters", "source"}),
        frozenset({"project", "waits_for"}),
        re.compile(r"^post-upgrade:.+$"),
    ),
    "upgrade": (
        frozenset({"id", "kind", "project", "service", "hosts", "source"}),
        frozenset({"group", "batch", "wave", "targets", "state", "waits_for"}),
        None,
    ),
    "hook": (
        frozenset({"id", "kind", "when", "action", "parameters", "hosts", "source"}),
        frozenset({"group", "batch", "waits_for"}),
        re.compile(r"^(before|after):.+$"),
    ),
    "gate": (
        frozenset({"id", "kind", "message", "source"}),
        frozenset({"group", "batch", "waits_for"}),
        re.compile(r"^gate:.+$"),
    ),
}
_PLACEMENT_KEYS = frozenset({"name", "key_service", "rank", "tier", "source"})
_PHASED_PLACEMENT_KEYS = _PLACEMENT_KEYS | {"phase"}


def defs_digest(schema: dict) -> str:
    defs = schema.get("$defs", {})
    picked = {k: defs.get(k) for k in MIRRORED_DEFS}
    return hashlib.sha256(json.dumps(picked, sort_keys=True).encode()).hexdigest()


def _name_ok(value) -> bool:
    return type(value) is str and len(value) >= 1


def _source_ok(value) -> bool:
    return type(value) is str and _SOURCE.search(value) is not None


def _parameters_ok(value) -> bool:
    return type(value) is dict and all(
        type(k) is str and type(v) in (str, int, float, bool) for k, v in value.items()
    )


def _hosts_ok(value) -> bool:
    return type(value) is list and len(value) >= 1 and all(_name_ok(h) for h in value)


def _targets_ok(value) -> bool:
    return type(value) is dict and all(
        type(names) is list and all(_name_ok(n) for n in names) for names in value.values()
    )


def _state_ok(value) -> bool:
    return type(value) is dict and all(
        type(what) is list and what and all(w in ("disabled", "down") for w in what)
        for what in value.values()
    )


def step_ok(step) -> bool:
    """True only for a step the schema's `step` accepts (False: ask jsonschema why)."""
    if type(step) is not dict:
        return False
    kind = step.get("kind")
    shape = _STEP_SHAPES.get(kind) if type(kind) is str else None
    if shape is None:
        return False
    required, optional, id_pattern = shape
    keys = step.keys()
    if not (required <= keys and keys <= required | optional):
        return False
    sid = step["id"]
    if not _name_ok(sid) or (id_pattern is not None and id_pattern.search(sid) is None):
        return False
    if not _source_ok(step["source"]):
        return False
    if "group" in step and not _name_ok(step["group"]):
        return False
    if "batch" in step and not (type(step["batch"]) is int and step["batch"] >= 1):
        return False
    if "wave" in step and not (type(step["wave"]) is int and step["wave"] >= 1):
        return False
    if "targets" in step and not _targets_ok(step["targets"]):
        return False
    if "state" in step and not _state_ok(step["state"]):
        return False
    if "waits_for" in step and not _hosts_ok(step["waits_for"]):  # non-empty names
        return False
    if "project" in step and not _name_ok(step["project"]):
        return False
    if kind == "upgrade":
        return _name_ok(step["project"]) and _name_ok(step["service"]) and _hosts_ok(step["hosts"])
    if kind == "gate":
        return type(step["message"]) is str
    if kind == "hook" and (step["when"] not in ("before", "after") or not _hosts_ok(step["hosts"])):
        return False
    return _name_ok(step["action"]) and _parameters_ok(step["parameters"])


def placement_ok(entry) -> bool:
    """True only for a `host_order` entry the schema's `host_placement` accepts."""
    return (
        type(entry) is dict
        and (
            entry.keys() == _PLACEMENT_KEYS
            or (
                entry.keys() == _PHASED_PLACEMENT_KEYS
                and type(entry["phase"]) is int
                and entry["phase"] >= 1
            )
        )
        and _name_ok(entry["name"])
        and _name_ok(entry["key_service"])
        and type(entry["rank"]) is int
        and entry["rank"] >= 1
        and _name_ok(entry["tier"])
        and _source_ok(entry["source"])
    )


def _schema_problem(plan: dict) -> str | None:
    """The first schema violation in `plan`, as text, or None."""
    _, digest = _validator()
    steps = plan.get("steps")
    host_order = plan.get("host_order")
    if (
        digest != MIRRORED_DEFS_SHA256
        or not isinstance(steps, list)
        or not (host_order is None or isinstance(host_order, list))
    ):
        return _first_error(plan)
    skeleton = dict(plan, steps=[])
    if host_order is not None:
        skeleton["host_order"] = []
    problem = _first_error(skeleton)
    if problem is not None:
        return problem
    for index, step in enumerate(steps):
        if not step_ok(step):
            # The mirror is strict (2.0 as a batch number, say): jsonschema decides.
            problem = _first_error(dict(skeleton, steps=[step]), ("steps", index))
            if problem is not None:
                return problem
    for index, entry in enumerate(host_order or ()):
        if not placement_ok(entry):
            problem = _first_error(dict(skeleton, host_order=[entry]), ("host_order", index))
            if problem is not None:
                return problem
    return None


def _first_error(plan: dict, renumber: tuple[str, int] | None = None) -> str | None:
    import jsonschema

    validator, _ = _validator()
    extra_path = None
    errors = list(validator.iter_errors(plan))
    if not errors:
        return None
    best = jsonschema.exceptions.best_match(errors)
    if best.validator == "oneOf" and isinstance(best.instance, dict):
        # A step: say what is wrong for the kind it claims, not "matches no branch".
        kind = best.instance.get("kind")
        def_name = f"{kind.replace('-', '_')}_step" if isinstance(kind, str) else None
        schema = validator.schema
        if def_name is not None and def_name in schema.get("$defs", {}):
            by_kind = type(validator)({"$ref": f"#/$defs/{def_name}", "$defs": schema["$defs"]})
            inner = jsonschema.exceptions.best_match(by_kind.iter_errors(best.instance))
            if inner is not None:
                inner_path = list(best.absolute_path) + list(inner.absolute_path)
                best, extra_path = inner, inner_path
    parts = extra_path if extra_path is not None else list(best.absolute_path)
    if renumber and len(parts) >= 2 and parts[0] == renumber[0]:
        parts[1] = renumber[1]  # the item was checked alone, as item 0
    where = _json_path(parts)
    message = best.message
    if best.validator == "oneOf" and isinstance(best.instance, dict):
        # A step matching neither step shape: say which fields it has.
        message = (
            f"not a step of a known shape (kinds: {', '.join(KNOWN_KINDS)}; "
            f"fields: {', '.join(sorted(map(str, best.instance)))})"
        )
    if len(message) > 200:
        message = message[:197] + "..."
    return f"at {where}: {message}" if where else message


def _json_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _kind_of(value: object) -> str:
    if value is None:
        return "an empty document"
    return {list: "a list", str: "a string"}.get(type(value), type(value).__name__)
