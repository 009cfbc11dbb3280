"""The rollout blocks of a strategy: `hosts SELECTOR... { ... }` and `service NAME { ... }`.

Shape checks (what a block may hold) and building the model from the AST.
Checks that need the whole spec (known actions, tiers, services, the engine)
are in resolve.py.
"""

from __future__ import annotations

import math

from kostyor_dsl.compiler import ast
from kostyor_dsl.compiler.diagnostics import DiagnosticSink, Label, error
from kostyor_dsl.compiler.model import Action, Budget, HostGroup, ServiceHooks
from kostyor_dsl.compiler.selectors import Selector
from kostyor_dsl.compiler.suggest import did_you_mean

HOSTS_KEYS = (
    "batch",
    "max-failed-hosts",
    "max-failed-hosts-per-batch",
    "before",
    "after",
    "pause-after-batch",
)
SERVICE_KEYS = ("before", "after")
BUDGET_RULES = ("max-unavailable", "min-available")
BUDGET_KEYS = (*BUDGET_RULES, "name")
# `batch max`: each batch as large as the strategy's budgets allow.
BATCH_MAX = "max"


def _bad(sink: DiagnosticSink, code: str, message: str, span, *hints: str) -> None:
    sink.add(error(code, message, span, hints=tuple(hints)))


def check_hosts(setting: ast.Setting, sink: DiagnosticSink) -> None:
    span = setting.key.span
    if not setting.values or setting.block is None:
        _bad(
            sink,
            "K025",
            "'hosts' takes one or more selectors and a block",
            span,
            "write: hosts compute {\\n  batch 1, 5, 20%\\n}",
        )
        return
    for value in setting.values:
        if value.kind not in ("name", "pair"):
            _bad(
                sink,
                "K025",
                f"{value.raw} is not a host selector",
                value.span,
                "selectors: TIER, tier=T, name=GLOB, service=GLOB, LABEL=GLOB",
            )
    seen: dict[str, ast.Setting] = {}
    for item in setting.block:
        key = item.key.value
        if key not in HOSTS_KEYS:
            _bad(
                sink,
                "K023",
                f"unknown setting '{key}' in a hosts block",
                item.key.span,
                *(did_you_mean(key, HOSTS_KEYS) or ("hosts settings: " + ", ".join(HOSTS_KEYS),)),
            )
            continue
        if key not in ("before", "after"):
            if key in seen:
                sink.add(
                    error(
                        "K025",
                        f"setting '{key}' is given twice",
                        item.key.span,
                        labels=(Label(seen[key].key.span, "first given here"),),
                    )
                )
                continue
            seen[key] = item
        if key == "batch":
            _check_sizes(item, sink, allow_zero=False, allow_max=True)
        elif key.startswith("max-failed-hosts"):
            if len(item.values) != 1:
                _bad(sink, "K025", f"'{key}' takes one count or percentage", item.key.span)
            else:
                _check_sizes(item, sink, allow_zero=True)
        elif key in ("before", "after"):
            _check_hook(item, sink)
        elif key == "pause-after-batch":
            if not item.values:
                _bad(sink, "K025", "'pause-after-batch' takes batch numbers", item.key.span)
            for value in item.values:
                if value.kind != "number" or not value.raw.isdigit() or int(value.raw) < 1:
                    _bad(
                        sink,
                        "K030",
                        f"'{value.raw}' is not a batch number (1 is the first batch)",
                        value.span,
                    )


def check_service(setting: ast.Setting, sink: DiagnosticSink) -> None:
    if len(setting.values) != 1 or setting.values[0].kind != "name" or setting.block is None:
        _bad(
            sink,
            "K025",
            "'service' takes one service name and a block of hooks",
            setting.key.span,
            "write: service nova-compute {\\n  before drain\\n}",
        )
        return
    for item in setting.block:
        if item.key.value not in SERVICE_KEYS:
            _bad(
                sink,
                "K023",
                f"unknown setting '{item.key.value}' in a service block",
                item.key.span,
                "a service block holds: before ACTION, after ACTION",
            )
            continue
        _check_hook(item, sink)


def _check_hook(item: ast.Setting, sink: DiagnosticSink) -> None:
    if len(item.values) != 1 or item.values[0].kind != "name":
        _bad(
            sink,
            "K025",
            f"'{item.key.value}' takes one action and an optional block of parameters",
            item.key.span,
            f"write: {item.key.value} evacuate {{\\n  timeout 30m\\n}}",
        )
        return
    for param in item.block or ():
        if len(param.values) != 1 or param.block is not None:
            _bad(
                sink,
                "K025",
                f"parameter '{param.key.value}' takes exactly one value",
                param.key.span,
            )


def _check_sizes(
    item: ast.Setting, sink: DiagnosticSink, allow_zero: bool, allow_max: bool = False
) -> None:
    if not item.values:
        _bad(sink, "K025", f"'{item.key.value}' takes a number or a percentage", item.key.span)
    for value in item.values:
        if allow_max and value.kind == "name" and value.raw == BATCH_MAX:
            continue
        if value.kind == "number":
            if not value.raw.isdigit():
                _bad(sink, "K030", f"'{value.raw}' is not a whole number of hosts", value.span)
            elif int(value.raw) == 0 and not allow_zero:
                _bad(
                    sink,
                    "K030",
                    "a batch of 0 hosts would never finish",
                    value.span,
                    "the smallest batch is 1 host",
                )
        elif value.kind == "percent":
            pct = float(value.raw[:-1])
            if pct > 100:
                _bad(sink, "K031", f"{value.raw} is over 100%", value.span)
            elif pct == 0 and not allow_zero:
                _bad(sink, "K031", "a batch of 0% would never finish", value.span, "use 1 or more")
        else:
            _bad(
                sink,
                "K025",
                f"'{value.raw}' is not a number or a percentage",
                value.span,
                f"write: {item.key.value} 1, 5, 20%",
            )


def _size(value: ast.Value) -> int | str:
    return value.raw if value.kind in ("percent", "name") else int(value.raw)


def _actions(block, when: str) -> tuple[Action, ...]:
    return tuple(
        Action(item.values[0].raw, parameters(item.block), span=item.values[0].span)
        for item in block
        if item.key.value == when and len(item.values) == 1
    )


def build_group(setting: ast.Setting) -> HostGroup:
    block = setting.block or ()
    by_key = {item.key.value: item for item in block}

    def sizes(key: str) -> tuple[int | str, ...]:
        item = by_key.get(key)
        return tuple(_size(v) for v in item.values) if item else ()

    fails = sizes("max-failed-hosts")
    per_batch = sizes("max-failed-hosts-per-batch")
    pauses = by_key.get("pause-after-batch")
    return HostGroup(
        name=",".join(v.raw for v in setting.values),
        selectors=tuple(Selector.parse(v.raw) for v in setting.values),
        batches=sizes("batch") or (1,),
        max_failed_hosts=fails[0] if fails else 0,
        max_failed_hosts_per_batch=per_batch[0] if per_batch else None,
        before=_actions(block, "before"),
        after=_actions(block, "after"),
        pause_after_batches=tuple(sorted({int(v.raw) for v in pauses.values})) if pauses else (),
        span=setting.key.span,
        batch_span=by_key["batch"].key.span if "batch" in by_key else None,
    )


def check_budget(setting: ast.Setting, sink: DiagnosticSink) -> None:
    span = setting.key.span
    example = "write: budget service=nova-api {\\n  max-unavailable 1\\n}"
    if not setting.values or setting.block is None:
        _bad(sink, "K025", "'budget' takes one or more selectors and a block", span, example)
        return
    for value in setting.values:
        if value.kind not in ("name", "pair"):
            _bad(
                sink,
                "K025",
                f"{value.raw} is not a host selector",
                value.span,
                "selectors: TIER, tier=T, name=GLOB, service=GLOB, LABEL=GLOB",
            )
    rules = []
    seen: dict[str, ast.Setting] = {}
    for item in setting.block:
        key = item.key.value
        if key not in BUDGET_KEYS:
            _bad(
                sink,
                "K023",
                f"unknown setting '{key}' in a budget block",
                item.key.span,
                *(
                    did_you_mean(key, BUDGET_KEYS)
                    or ("budget settings: " + ", ".join(BUDGET_KEYS),)
                ),
            )
            continue
        if key in seen:
            sink.add(
                error(
                    "K025",
                    f"setting '{key}' is given twice",
                    item.key.span,
                    labels=(Label(seen[key].key.span, "first given here"),),
                )
            )
            continue
        seen[key] = item
        if key == "name":
            if len(item.values) != 1 or item.values[0].kind not in ("string", "name"):
                _bad(sink, "K025", "'name' takes one name or string", item.key.span)
            continue
        rules.append(item)
        if len(item.values) != 1 or item.block is not None:
            _bad(sink, "K025", f"'{key}' takes one count or percentage", item.key.span)
        else:
            _check_sizes(item, sink, allow_zero=True)
    if len(rules) != 1 and not sink.has_errors:
        _bad(
            sink,
            "K025",
            "a budget takes one of max-unavailable or min-available"
            + (" (not both)" if rules else ""),
            span,
            example,
        )


def build_budget(setting: ast.Setting) -> Budget | None:
    by_key = {item.key.value: item for item in setting.block or ()}
    rule = next((key for key in BUDGET_RULES if key in by_key), None)
    if rule is None or len(by_key[rule].values) != 1:
        return None
    named = by_key.get("name")
    selectors = ",".join(v.raw for v in setting.values)
    return Budget(
        name=named.values[0].text if named and named.values else selectors,
        selectors=tuple(Selector.parse(v.raw) for v in setting.values),
        rule=rule,
        amount=_size(by_key[rule].values[0]),
        span=setting.key.span,
    )


def build_service_hooks(setting: ast.Setting) -> ServiceHooks:
    block = setting.block or ()
    return ServiceHooks(
        setting.values[0].raw,
        _actions(block, "before"),
        _actions(block, "after"),
        span=setting.values[0].span,
    )


def batch_sizes(ramp: tuple[int | str, ...], hosts: int) -> list[int]:
    """The ramp made concrete for a group of `hosts` hosts: percentages of the group,
    rounded up, at least 1; the last entry repeats until every host has a batch."""
    sizes: list[int] = []
    left = hosts
    i = 0
    while left > 0:
        entry = ramp[min(i, len(ramp) - 1)]
        if entry == BATCH_MAX:  # sized by the budgets, in rollout; unbounded here
            sizes.append(left)
            break
        size = (
            entry if isinstance(entry, int) else max(1, math.ceil(float(entry[:-1]) * hosts / 100))
        )
        size = min(size, left)
        sizes.append(size)
        left -= size
        i += 1
    return sizes


def parameters(block) -> tuple[tuple[str, str | int | float], ...]:
    out = []
    for param in block or ():
        if len(param.values) != 1:
            continue
        out.append((param.key.value, _plain_value(param.values[0])))
    return tuple(sorted(out))


def _plain_value(value: ast.Value) -> str | int | float:
    if value.kind == "number":
        return float(value.raw) if "." in value.raw else int(value.raw)
    return value.text
