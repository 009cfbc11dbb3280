"""The rollout blocks of a strategy: `hosts SELECTOR... { ... }` and `service NAME { ... }`.

Shape checks (what a block may hold), merging an extending strategy's block
into the inherited one, and building the model from the AST.  Checks that
need the whole spec (known actions, tiers, services, the engine) are in
resolve.py.  Building never fails: a value the checks refused is left out
(its diagnostic is already reported).

Long because each block key has its shape check, its merge and its model builder, kept next to each other.
"""

from __future__ import annotations

import math
from dataclasses import replace

from kostyor_dsl.compiler.model import Action, Budget, HostGroup, ServiceHooks
from kostyor_dsl.compiler.selectors import Selector
from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import DiagnosticSink, Label, error
from kostyor_dsl.language.suggest import did_you_mean

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
HOOK_KEYS = ("before", "after")
# `KEY none`: no value for a setting whose default is nothing, and, in an
# extending strategy, not the inherited one (`before none`: no inherited
# `before` hooks).  Not an action name.
NONE = "none"
NONE_KEYS = ("before", "after", "pause-after-batch", "max-failed-hosts-per-batch")
# Digits a number may have before its decimal point: plans are JSON, and
# JSON readers keep integers exact only to 2**53.
MAX_DIGITS = 15


def _bad(sink: DiagnosticSink, code: str, message: str, span, *hints: str) -> None:
    sink.add(error(code, message, span, hints=tuple(hints)))


def _given_twice(sink: DiagnosticSink, item: ast.Setting, first: ast.Setting, what: str) -> None:
    sink.add(
        error(
            "K025",
            f"setting '{what}' is given twice",
            item.key.span,
            labels=(Label(first.key.span, "first given here"),),
        )
    )


def _check_selectors(setting: ast.Setting, sink: DiagnosticSink) -> None:
    for value in setting.values:
        if value.kind not in ("name", "pair"):
            _bad(
                sink,
                "K025",
                f"{value.raw} is not a host selector",
                value.span,
                "selectors: TIER, tier=T, name=GLOB, service=GLOB, LABEL=GLOB",
            )


def is_none(item: ast.Setting) -> bool:
    """`before none`, `pause-after-batch none`: see NONE."""
    return len(item.values) == 1 and item.values[0].kind == "name" and item.values[0].raw == NONE


def too_large(value: ast.Value) -> bool:
    """A number, percentage or duration with more than MAX_DIGITS digits before its
    point (leading zeros count: Python's int() refuses 4,300 of them too)."""
    if value.kind not in ("number", "percent", "duration"):
        return False
    return len(value.raw.split(".", 1)[0].rstrip("%smh")) > MAX_DIGITS


def check_numbers(settings, sink: DiagnosticSink) -> None:
    """Every number in these settings and their blocks is small enough to be exact."""
    stack = list(settings)
    while stack:
        setting = stack.pop()
        for value in setting.values:
            if too_large(value):
                shown = value.raw if len(value.raw) <= 24 else value.raw[:20] + "..."
                _bad(
                    sink,
                    "K025",
                    f"{shown} has too many digits: a number has at most {MAX_DIGITS} "
                    "before its decimal point",
                    value.span,
                )
        stack.extend(setting.block or ())


def whole_number(value: ast.Value) -> int | None:
    """The value as a whole number, or None when it is not one (or too large)."""
    if value.kind != "number" or not value.raw.isdigit() or too_large(value):
        return None
    return int(value.raw)


def check_parameters(block, sink: DiagnosticSink) -> None:
    """A driver's or an action's parameters: `KEY VALUE` lines, each key once."""
    seen: dict[str, ast.Setting] = {}
    for param in block or ():
        key = param.key.value
        if len(param.values) != 1 or param.block is not None:
            _bad(
                sink,
                "K025",
                f"parameter '{key}' takes exactly one value",
                param.key.span,
                f'write: {key} "value"',
            )
        if key in seen:
            sink.add(
                error(
                    "K025",
                    f"parameter '{key}' is given twice",
                    param.key.span,
                    labels=(Label(seen[key].key.span, "first given here"),),
                    hints=("remove one of the two lines",),
                )
            )
        else:
            seen[key] = param


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
    _check_selectors(setting, sink)
    seen: dict[str, ast.Setting] = {}
    for item in setting.block:
        key = item.key.value
        if key in HOSTS_KEYS and is_none(item) and item.block is None:
            if key in NONE_KEYS:
                continue
            _bad(
                sink,
                "K025",
                f"'{key}' cannot be none",
                item.values[0].span,
                f"{key} has a default; give the value you want instead",
            )
            continue
        if key not in HOSTS_KEYS:
            _bad(
                sink,
                "K023",
                f"unknown setting '{key}' in a hosts block",
                item.key.span,
                *(did_you_mean(key, HOSTS_KEYS) or ("hosts settings: " + ", ".join(HOSTS_KEYS),)),
            )
            continue
        # Each setting once, each hook (`before evacuate`) once; a malformed hook
        # is reported by _check_hook.
        if key not in HOOK_KEYS or len(item.values) == 1:
            ident = _identity(item)
            if ident in seen:
                _given_twice(sink, item, seen[ident], ident)
                continue
            seen[ident] = item
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
                if too_large(value):
                    continue
                number = whole_number(value)
                if number is None or number < 1:
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
    seen: dict[str, ast.Setting] = {}
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
        if is_none(item) and item.block is None:
            continue
        if len(item.values) == 1:
            ident = f"{item.key.value} {item.values[0].raw}"
            if ident in seen:
                _given_twice(sink, item, seen[ident], ident)
                continue
            seen[ident] = item
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
    if item.values[0].raw == NONE and item.block is not None:
        _bad(
            sink,
            "K025",
            f"'{item.key.value} none' takes no parameters",
            item.values[0].span,
            f"'{item.key.value} none' means: no {item.key.value} hooks (none inherited)",
        )
    check_parameters(item.block, sink)


def _check_sizes(
    item: ast.Setting, sink: DiagnosticSink, allow_zero: bool, allow_max: bool = False
) -> None:
    if not item.values:
        _bad(sink, "K025", f"'{item.key.value}' takes a number or a percentage", item.key.span)
    for value in item.values:
        if allow_max and value.kind == "name" and value.raw == BATCH_MAX:
            continue
        if too_large(value):
            continue  # reported by check_numbers
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


def _identity(item: ast.Setting) -> str:
    """What a setting in a hosts or service block is, for merging: a hook is its
    kind and action (`before evacuate`), anything else its key."""
    if item.key.value in HOOK_KEYS and len(item.values) == 1:
        return f"{item.key.value} {item.values[0].raw}"
    return item.key.value


def merge_block(inherited: ast.Setting, own: ast.Setting) -> ast.Setting:
    """An extending strategy's `hosts` or `service` block over the inherited block
    of the same selectors (or service), key by key: what `own` does not mention
    is kept.  A setting replaces the inherited one of its key in its place; a hook
    replaces the inherited hook of the same kind and action (with its
    parameters as written), or is added after the inherited ones; `before none`
    and `after none` drop the inherited hooks of that kind."""
    own_block = own.block or ()
    dropped = {
        item.key.value for item in own_block if item.key.value in HOOK_KEYS and is_none(item)
    }
    merged = [item for item in inherited.block or () if item.key.value not in dropped]
    for item in own_block:
        if item.key.value in HOOK_KEYS and is_none(item):
            continue
        ident = _identity(item)
        at = next((i for i, old in enumerate(merged) if _identity(old) == ident), None)
        if at is None:
            merged.append(item)
        else:
            merged[at] = item
    return replace(own, block=tuple(merged))


def _size(value: ast.Value) -> int | str | None:
    if value.kind == "name" and value.raw == BATCH_MAX:
        return BATCH_MAX
    if value.kind == "percent" and not too_large(value):
        return value.raw
    return whole_number(value)


def _actions(block, when: str) -> tuple[Action, ...]:
    return tuple(
        Action(item.values[0].raw, parameters(item.block), span=item.values[0].span)
        for item in block
        if item.key.value == when and len(item.values) == 1 and not is_none(item)
    )


def build_group(setting: ast.Setting) -> HostGroup:
    block = setting.block or ()
    by_key = {item.key.value: item for item in block}

    def sizes(key: str) -> tuple[int | str, ...]:
        item = by_key.get(key)
        if item is None:
            return ()
        return tuple(size for size in map(_size, item.values) if size is not None)

    fails = sizes("max-failed-hosts")
    per_batch = sizes("max-failed-hosts-per-batch")
    pauses = by_key.get("pause-after-batch")
    gates = {whole_number(v) for v in pauses.values} if pauses else set()
    return HostGroup(
        name=",".join(v.raw for v in setting.values),
        selectors=tuple(Selector.parse(v.raw) for v in setting.values),
        batches=sizes("batch") or (1,),
        max_failed_hosts=fails[0] if fails else 0,
        max_failed_hosts_per_batch=per_batch[0] if per_batch else None,
        before=_actions(block, "before"),
        after=_actions(block, "after"),
        pause_after_batches=tuple(sorted(n for n in gates if n is not None and n >= 1)),
        span=setting.key.span,
        batch_span=by_key["batch"].key.span if "batch" in by_key else None,
    )


def check_budget(setting: ast.Setting, sink: DiagnosticSink) -> None:
    span = setting.key.span
    example = "write: budget service=nova-api {\\n  max-unavailable 1\\n}"
    if not setting.values or setting.block is None:
        _bad(sink, "K025", "'budget' takes one or more selectors and a block", span, example)
        return
    _check_selectors(setting, sink)
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
            _given_twice(sink, item, seen[key], key)
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
    amount = _size(by_key[rule].values[0])
    if amount is None or amount == BATCH_MAX:
        return None
    named = by_key.get("name")
    selectors = ",".join(v.raw for v in setting.values)
    return Budget(
        name=named.values[0].text if named and named.values else selectors,
        selectors=tuple(Selector.parse(v.raw) for v in setting.values),
        rule=rule,
        amount=amount,
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
    """A block's parameters, sorted by key; a key given twice counts once (the first,
    as check_parameters reports the second)."""
    out: dict[str, str | int | float] = {}
    for param in block or ():
        if len(param.values) != 1 or param.key.value in out or too_large(param.values[0]):
            continue
        out[param.key.value] = _plain_value(param.values[0])
    return tuple(sorted(out.items()))


def _plain_value(value: ast.Value) -> str | int | float:
    if value.kind == "number":
        return float(value.raw) if "." in value.raw else int(value.raw)
    return value.text
