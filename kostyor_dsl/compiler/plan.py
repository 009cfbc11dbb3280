"""The plan: the compiler's output and the runtime's input (schemas/plan.schema.json).

`build_plan` assembles it from a strategy and the engine's steps;
`dump_plan` writes it byte-stably: keys in a fixed, readable order (never
sorted by accident of a dict), no timestamps, no absolute paths, and the
seal last (plan_seal: what `kostyorc run` checks the plan against).
"""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import chain, islice

import yaml

from kostyor_dsl.compiler.diagnostics import Diagnostic
from kostyor_dsl.compiler.engines import EngineResult
from kostyor_dsl.compiler.inventory import Inventory
from kostyor_dsl.compiler.model import Spec, StrategyDef
from kostyor_dsl.compiler.plan_seal import SEAL_KEY, PlanSealer, plan_seal

PLAN_FORMAT = "kostyor-plan/1"
YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _phase_steps(phase: str, actions) -> list[dict]:
    return [
        {
            "id": f"{phase}:{action.name}",
            "kind": phase,
            "action": action.name,
            "parameters": dict(action.parameters),
            "source": action.span.ref,
        }
        for action in actions
    ]


def build_plan(
    spec: Spec,
    strategy: StrategyDef,
    inventory: Inventory,
    result: EngineResult,
    warnings: list[Diagnostic],
    steps: list[dict] | None = None,
    groups: list[dict] | None = None,
    limit: list[str] | None = None,
    budgets: list[dict] | None = None,
) -> dict:
    """`steps` (the rolled-out steps) default to the engine's own."""
    inventory_digest = {"file": inventory.display, "sha256": inventory.sha256}
    if inventory.cluster is not None:
        inventory_digest["cluster"] = inventory.cluster
    plan: dict = {
        "format": PLAN_FORMAT,
        "strategy": strategy.name,
        "engine": strategy.engine,
        "driver": {"name": strategy.driver, "parameters": dict(strategy.driver_parameters)},
        "inputs": {
            "spec": [{"file": f.display, "sha256": f.sha256} for f in spec.files],
            "inventory": inventory_digest,
        },
    }
    if limit:
        plan["limit"] = list(limit)
    if warnings:
        plan["warnings"] = [_warning_text(d) for d in warnings]
    if groups:
        plan["groups"] = groups
    if budgets:
        plan["budgets"] = budgets
    if result.host_order is not None:
        plan["host_order"] = result.host_order
    main_steps = result.steps if steps is None else steps
    if inventory.targets:
        with_targets = _with_targets(main_steps, inventory.targets)
        main_steps = with_targets if isinstance(main_steps, Iterator) else list(with_targets)
    if isinstance(main_steps, Iterator):  # streamed by compile_to: chained, not copied
        plan["steps"] = chain(
            _phase_steps("pre-upgrade", strategy.pre_upgrade),
            main_steps,
            _phase_steps("post-upgrade", strategy.post_upgrade),
        )
        return plan
    plan["steps"] = (
        _phase_steps("pre-upgrade", strategy.pre_upgrade)
        + main_steps
        + _phase_steps("post-upgrade", strategy.post_upgrade)
    )
    return plan


def _with_targets(steps, targets) -> Iterator[dict]:
    """Upgrade steps with what the driver addresses their service by on each host
    (`targets: {HOST: [NAME, ...]}`, from the inventory's `targets`)."""
    for step in steps:
        if step["kind"] == "upgrade":
            service = step["service"]
            found = {
                host: list(targets[host][service])
                for host in step["hosts"]
                if host in targets and service in targets[host]
            }
            if found:
                step = {**step, "targets": found}
        yield step


def _warning_text(d: Diagnostic) -> str:
    where = d.span.ref if d.span else (d.subject or "")
    return f"{d.code} {where}: {d.message}" if where else f"{d.code}: {d.message}"


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector for the duration (restored after).

    The compiler builds hundreds of thousands of small acyclic dicts and
    lists; every few hundred allocations the collector would rescan all the
    live ones, which costs more than building them (and makes PyYAML's
    loader several times slower).  Reference counting frees all of it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def dump_plan(plan: dict, fmt: str = "yaml") -> str:
    """The plan's text, sealed (plan_seal) unless it has a seal already."""
    with gc_paused():
        if fmt == "json":
            return "".join(iter_plan_json(plan))
        if fmt == "yaml":
            header = (
                f"# kostyor upgrade plan: strategy {plan['strategy']}, engine {plan['engine']}.\n"
                "# Written by `kostyorc compile`; edit the spec or the inventory, not this file.\n"
            )
            if SEAL_KEY not in plan and _json_fast_path(plan):
                plan = {**plan, SEAL_KEY: plan_seal(plan)}
            return header + _yaml_text(plan)
    raise ValueError(f"unknown plan format {fmt!r}")


_YAML_OPTIONS = {"allow_unicode": True, "width": 1 << 16}


def _yaml_text(plan: dict) -> str:
    """Byte for byte `yaml.dump(plan, Dumper=YamlDumper, sort_keys=False,
    default_flow_style=False, **_YAML_OPTIONS)`, through the same emitter
    (libyaml's, when present), fed events directly.

    yaml.dump builds a node per value with PyYAML's Python representer and
    resolves each scalar's tag with regular expressions, and that costs
    ten times the emitting: at 50,000 hosts, seconds.  Here each distinct
    value is resolved and made into an event once.  Plans holding anything
    but dicts, lists, strings, ints, bools and None, or the same dict or
    list twice (yaml.dump would write an anchor), go through yaml.dump.
    """
    out = io.StringIO()
    dumper = YamlDumper(out, default_flow_style=False, sort_keys=False, **_YAML_OPTIONS)
    try:
        _emit_yaml(plan, dumper.emit, dumper.resolve)
    except _NotSimple:
        return yaml.dump(
            plan, Dumper=YamlDumper, sort_keys=False, default_flow_style=False, **_YAML_OPTIONS
        )
    finally:
        dumper.dispose()
    return out.getvalue()


class _NotSimple(Exception):
    """The plan holds something the event path does not write like yaml.dump."""


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_START = yaml.MappingStartEvent(None, "tag:yaml.org,2002:map", True, flow_style=False)
_SEQ_START = yaml.SequenceStartEvent(None, "tag:yaml.org,2002:seq", True, flow_style=False)
_MAP_END = yaml.MappingEndEvent()
_SEQ_END = yaml.SequenceEndEvent()


def _emit_yaml(plan, emit, resolve) -> None:
    scalar_node = yaml.ScalarNode
    make_event = yaml.ScalarEvent
    strings: dict[str, yaml.ScalarEvent] = {}
    others: dict[tuple, yaml.ScalarEvent] = {}
    seen: set[int] = set()

    def string(value: str) -> yaml.ScalarEvent:
        event = strings.get(value)
        if event is None:
            plain = resolve(scalar_node, value, (True, False)) == _STR_TAG
            event = strings[value] = make_event(None, _STR_TAG, (plain, True), value)
        return event

    def other(value) -> yaml.ScalarEvent:
        kind = type(value)
        event = others.get((kind, value))
        if event is None:
            if kind is bool:
                tag, text = "tag:yaml.org,2002:bool", "true" if value else "false"
            elif kind is int:
                tag, text = "tag:yaml.org,2002:int", str(value)
            elif value is None:
                tag, text = "tag:yaml.org,2002:null", "null"
            else:
                raise _NotSimple
            plain = resolve(scalar_node, text, (True, False)) == tag
            event = others[kind, value] = make_event(None, tag, (plain, False), text)
        return event

    def node(value) -> None:
        kind = type(value)
        if kind is str:
            emit(string(value))
        elif kind is dict:
            if id(value) in seen:
                raise _NotSimple
            seen.add(id(value))
            emit(_MAP_START)
            for key, item in value.items():
                emit(string(key) if type(key) is str else other(key))
                if type(item) is str:
                    emit(string(item))
                else:
                    node(item)
            emit(_MAP_END)
        elif kind is list:
            if id(value) in seen:
                raise _NotSimple
            seen.add(id(value))
            emit(_SEQ_START)
            for item in value:
                if type(item) is str:
                    emit(string(item))
                else:
                    node(item)
            emit(_SEQ_END)
        else:
            emit(other(value))

    emit(yaml.StreamStartEvent())
    emit(yaml.DocumentStartEvent(explicit=False))
    node(plan)
    emit(yaml.DocumentEndEvent(explicit=False))
    emit(yaml.StreamEndEvent())


# JSON: byte for byte `json.dumps(plan, indent=2, ensure_ascii=False) + "\n"`, but
# without the pure-Python encoder that the standard library falls back to
# whenever `indent` is set (it costs ~5x the C encoder).  Plan steps and host
# placements (one each per host) take a hand-written path.  Anything
# unusual (numbers that are not ints, non-string keys, ...) is handed to
# `json.dumps` and re-indented, which is exact: JSON text has no newline
# but those of the indentation.

_quote = json.encoder.encode_basestring  # the C one when available; ensure_ascii=False
_UPGRADE_KEYS = ("id", "kind", "project", "service", "hosts", "source")
_GROUPED_UPGRADE_KEYS = (*_UPGRADE_KEYS, "group", "batch")
_PLACEMENT_KEYS = ("name", "key_service", "rank", "tier", "source")


_BATCH = 4096  # list items formatted and written per chunk


def iter_plan_json(plan: dict) -> Iterator[str]:
    """The JSON text of a plan, in chunks (a few thousand list items each),
    sealed (see plan_seal) unless it has a seal already.

    A top-level list may also be an iterator (`compile_to` streams the steps
    that way): its items are made, written and dropped batch by batch, each
    part hashed for the seal as it is written.
    """
    if not _json_fast_path(plan):
        yield _json_value(plan, 0) + "\n"
        return
    if SEAL_KEY in plan:
        for _, text, _ in plan_json_parts(plan):
            yield text
        yield "\n}\n"
        return
    sealer = PlanSealer()
    for key, text, items in plan_json_parts(plan):
        if key is not None:
            sealer.update(key, text, items)
        yield text
    yield ",\n  " + _quote(SEAL_KEY) + ": " + _json_value(sealer.seal(), 1) + "\n}\n"


def _json_fast_path(plan) -> bool:
    return type(plan) is dict and bool(plan) and all(type(key) is str for key in plan)


def plan_json_parts(plan: dict) -> Iterator[tuple[str | None, str, int]]:
    """(key, text, items) per chunk of the plan's JSON text, without its closing `}`:
    `key` is the top-level key whose value the text belongs to (None for the
    text between values), `items` how many list items the chunk holds."""
    if not _json_fast_path(plan):
        raise ValueError("a plan is a mapping with string keys")
    first = True
    repeats: dict = {}
    for key, value in plan.items():
        yield None, ("{\n  " if first else ",\n  ") + _quote(key) + ": ", 0
        first = False
        if type(value) is list:
            if not value:
                yield key, "[]", 0
                continue
            for start in range(0, len(value), _BATCH):
                batch = value[start : start + _BATCH]
                text = ",\n    ".join(_list_items(batch, repeats))
                yield key, ("[\n    " if start == 0 else ",\n    ") + text, len(batch)
            yield key, "\n  ]", 0
        elif isinstance(value, Iterator):
            opening = "[\n    "
            while batch := list(islice(value, _BATCH)):
                yield key, opening + ",\n    ".join(_list_items(batch, repeats)), len(batch)
                opening = ",\n    "
            yield key, "[]" if opening == "[\n    " else "\n  ]", 0
        else:
            yield key, _json_value(value, 1), 0


def _list_items(items: list, repeats: dict) -> list[str]:
    """Each item of a top-level list, as text at depth 2 (items of steps, host_order...).

    `repeats` keeps, per service, the text around the values that repeat on
    every host (kind, project, service, source; tier, rank), checked equal
    before each use: only ids and host names are quoted per item.
    """
    out = []
    append = out.append
    q = _quote
    for item in items:
        if type(item) is dict:
            keys = tuple(item)
            try:
                if keys in (_UPGRADE_KEYS, _GROUPED_UPGRADE_KEYS):
                    hosts = item["hosts"]
                    if type(hosts) is not list or not hosts:
                        append(_json_value(item, 2))
                        continue
                    kind, project, service, source = (
                        item["kind"],
                        item["project"],
                        item["service"],
                        item["source"],
                    )
                    known = repeats.get(("step", service))
                    if known is None or known[:3] != (kind, project, source):
                        known = repeats["step", service] = (
                            kind,
                            project,
                            source,
                            f',\n      "kind": {q(kind)},\n      "project": {q(project)},'
                            f'\n      "service": {q(service)},\n      "hosts": [\n        ',
                            f'\n      ],\n      "source": {q(source)}',
                        )
                    hosts_text = (
                        q(hosts[0]) if len(hosts) == 1 else ",\n        ".join(map(q, hosts))
                    )
                    if len(keys) == 6:
                        tail = "\n    }"
                    elif type(item["batch"]) is int:  # a step of a rollout batch
                        tail = (
                            f',\n      "group": {q(item["group"])},'
                            f'\n      "batch": {int.__repr__(item["batch"])}\n    }}'
                        )
                    else:
                        raise TypeError  # the general path
                    append(f'{{\n      "id": {q(item["id"])}{known[3]}{hosts_text}{known[4]}{tail}')
                    continue
                if keys == _PLACEMENT_KEYS and type(item["rank"]) is int:
                    key_service, rank, tier, source = (
                        item["key_service"],
                        item["rank"],
                        item["tier"],
                        item["source"],
                    )
                    known = repeats.get(("placement", key_service))
                    if known is None or known[:3] != (rank, tier, source):
                        known = repeats["placement", key_service] = (
                            rank,
                            tier,
                            source,
                            f',\n      "key_service": {q(key_service)},'
                            f'\n      "rank": {int.__repr__(rank)},'
                            f'\n      "tier": {q(tier)},'
                            f'\n      "source": {q(source)}\n    }}',
                        )
                    append(f'{{\n      "name": {q(item["name"])}{known[3]}')
                    continue
            except TypeError:  # a value that is not a string: the general path
                pass
            if keys:
                append(_flat_item(item, keys, repeats))
                continue
        append(_json_value(item, 2))
    return out


def _flat_item(item: dict, keys: tuple, repeats: dict) -> str:
    """A dict at depth 2 of any other shape (rollout's hook, gate and tagged steps):
    the text before each value made once per key sequence, strings and string
    lists written directly, the rest by `_json_value`."""
    prefixes = repeats.get(("keys", keys))
    if prefixes is None:
        if any(type(key) is not str for key in keys):
            return _json_value(item, 2)
        prefixes = repeats["keys", keys] = [
            ("{\n      " if i == 0 else ",\n      ") + _quote(key) + ": "
            for i, key in enumerate(keys)
        ]
    q = _quote
    parts = []
    append = parts.append
    for prefix, value in zip(prefixes, item.values(), strict=True):
        kind = type(value)
        if kind is str:
            append(prefix + q(value))
        elif kind is int:
            append(prefix + int.__repr__(value))
        elif kind is list and value:
            try:
                append(prefix + "[\n        " + ",\n        ".join(map(q, value)) + "\n      ]")
            except TypeError:  # not all strings
                append(prefix + _json_value(value, 3))
        else:
            append(prefix + _json_value(value, 3))
    append("\n    }")
    return "".join(parts)


def _json_value(value, level: int) -> str:
    """`value` as json.dumps(indent=2) writes it `level` levels deep."""
    kind = type(value)
    if kind is str:
        return _quote(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is dict:
        if not value:
            return "{}"
        inner = "\n" + "  " * (level + 1)
        parts = []
        for key, item in value.items():
            if type(key) is not str:
                return _reindented(value, level)
            parts.append(_quote(key) + ": " + _json_value(item, level + 1))
        return "{" + inner + ("," + inner).join(parts) + "\n" + "  " * level + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = "\n" + "  " * (level + 1)
        parts = [_json_value(item, level + 1) for item in value]
        return "[" + inner + ("," + inner).join(parts) + "\n" + "  " * level + "]"
    return _reindented(value, level)


def _reindented(value, level: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + "  " * level) if level else text


def write_plan(plan: dict, fmt: str, stream) -> None:
    """Write the plan to a text stream, the same text as `dump_plan`.

    For JSON the text is written a few thousand list items at a time, never
    held whole; top-level lists may be iterators (see `iter_plan_json`).
    """
    if fmt != "json":
        stream.write(dump_plan(plan, fmt))
        return
    with gc_paused():
        for chunk in iter_plan_json(plan):
            stream.write(chunk)


def load_plan(text: str) -> dict:
    """Read a plan written by `dump_plan` (either format)."""
    with gc_paused():  # a big YAML plan is millions of nodes: see gc_paused
        if text.lstrip().startswith("{"):
            return json.loads(text)
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
