"""`kostyorc codegen`: a plan as code, through jinja2 templates shipped as package data.

`--target celery` renders `templates/celery.py.j2`: a standalone module whose
`build_canvas(app)` builds exactly the chains `kostyorc run` builds for the
plan, because both come from `kostyor_dsl.runtime.canvas.describe` (pure, no
Celery import): same task names, arguments, ids, queues and order.

Nothing from the plan is pasted into code as text.  The environment's
`finalize` refuses any printed value that did not go through the `py` filter
(a Python literal made by `repr`) or the `comment` filter (text for a `#`
comment with every line break and control character escaped), and undefined
names fail (`StrictUndefined`).
"""

from __future__ import annotations

import functools
import hashlib
import json

TARGETS = {"celery": "celery.py.j2"}


class CodegenError(Exception):
    """The plan cannot be generated for (an unknown target)."""


class Code(str):
    """Text that a filter made safe to print into generated code."""


def py_literal(value) -> Code:
    """A Python literal for plain data (str, int, float, bool, None, and tuples,
    lists and dicts of those), by `repr`; anything else is refused."""
    _check_plain(value)
    return Code(repr(value))


def _check_plain(value) -> None:
    import jinja2

    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined: raises UndefinedError naming the missing variable
    if value is None or type(value) in (str, int, float, bool):
        return
    if type(value) in (tuple, list):
        for item in value:
            _check_plain(item)
        return
    if type(value) is dict:
        for key, item in value.items():
            _check_plain(key)
            _check_plain(item)
        return
    raise TypeError(f"codegen writes only plain data as literals, not {type(value).__name__}")


def comment_text(value) -> Code:
    """Text for the inside of a `#` comment: one line whatever it holds."""
    text = str(value)  # StrictUndefined raises here
    return Code("".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text))


def _finalize(value):
    if isinstance(value, Code):
        return value
    raise TypeError(
        f"template printed a raw {type(value).__name__}: pass it through |py or |comment"
    )


@functools.lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("kostyor_dsl", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters["py"] = py_literal
    env.filters["comment"] = comment_text
    return env


def default_run_id(plan: dict) -> str:
    """A run id that depends only on the plan's content, so the output is deterministic."""
    digest = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()
    return f"plan-{digest[:12]}"


def generate(
    plan: dict, target: str = "celery", run_id: str | None = None, route: str = "run"
) -> str:
    """The generated module's source for `plan` (already validated)."""
    from kostyor_dsl.runtime import canvas

    if target not in TARGETS:
        raise CodegenError(f"unknown codegen target {target!r}; known: {', '.join(TARGETS)}")
    if route not in canvas.ROUTES:
        raise CodegenError(f"unknown route {route!r}; known: {', '.join(canvas.ROUTES)}")
    run_id = run_id if run_id is not None else default_run_id(plan)
    sources = {step["id"]: step["source"] for step in plan["steps"]}
    units = canvas.units_of(plan, run_id, route)
    segments = [
        {
            "index": segment.index,
            "queue": segment.queue,
            "stage": segment.stage,
            "lane": segment.lane,
            "calls": [
                {
                    "index": call.index,
                    "unit_id": units[call.index].id,
                    "source": sources[units[call.index].step_id],
                    "task": call.task,
                    "args": tuple(call.args),
                    "kwargs": dict(call.kwargs),
                    "task_id": call.task_id,
                    "queue": call.queue,
                    "options": dict(call.options),
                }
                for call in segment.calls
            ],
        }
        for segment in canvas.describe(plan, run_id, route)
    ]
    template = environment().get_template(TARGETS[target])
    return template.render(plan=plan, run_id=run_id, route=route, segments=segments)
