"""Writing the plan, the compiler's output and the runtime's input (schemas/plan.schema.json).

`compiler.plan_build` assembles it from a strategy and the engine's steps;
`dump_plan` writes it byte-stably: keys in a fixed, readable order (never
sorted by accident of a dict), no timestamps, no absolute paths, and the
seal last (plan_seal: what `kostyorc run` checks the plan against).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import yaml

from kostyor_dsl.gc_paused import gc_paused
from kostyor_dsl.plan.json_text import json_fast_path, json_value, plan_json_parts, quote
from kostyor_dsl.plan.seal import SEAL_KEY, PlanSealer, plan_seal

PLAN_FORMAT = "kostyor-plan/1"
YamlDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


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
            if SEAL_KEY not in plan and json_fast_path(plan):
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


def iter_plan_json(plan: dict) -> Iterator[str]:
    """The JSON text of a plan, in chunks (a few thousand list items each),
    sealed (see plan_seal) unless it has a seal already.

    A top-level list may also be an iterator (`compile_to` streams the steps
    that way): its items are made, written and dropped batch by batch, each
    part hashed for the seal as it is written.
    """
    if not json_fast_path(plan):
        yield json_value(plan, 0) + "\n"
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
    yield ",\n  " + quote(SEAL_KEY) + ": " + json_value(sealer.seal(), 1) + "\n}\n"


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
