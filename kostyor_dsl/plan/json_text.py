"""The plan's JSON text, part by part (what `plan.write` writes and `plan.seal` hashes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice

# JSON: byte for byte `json.dumps(plan, indent=2, ensure_ascii=False) + "\n"`, but
# without the pure-Python encoder that the standard library falls back to
# whenever `indent` is set (it costs ~5x the C encoder).  Plan steps and host
# placements (one each per host) take a hand-written path.  Anything
# unusual (numbers that are not ints, non-string keys, ...) is handed to
# `json.dumps` and re-indented, which is exact: JSON text has no newline
# but those of the indentation.

BATCH = 4096  # list items formatted and written per chunk
quote = json.encoder.encode_basestring  # the C one when available; ensure_ascii=False
_UPGRADE_KEYS = ("id", "kind", "project", "service", "hosts", "source")
_HOOK_KEYS = ("id", "kind", "when", "action", "parameters", "hosts", "source", "group", "batch")
_PLACEMENT_KEYS = ("name", "key_service", "rank", "tier", "source")


def json_fast_path(plan) -> bool:
    return type(plan) is dict and bool(plan) and all(type(key) is str for key in plan)


def plan_json_parts(plan: dict) -> Iterator[tuple[str | None, str, int]]:
    """(key, text, items) per chunk of the plan's JSON text, without its closing `}`:
    `key` is the top-level key whose value the text belongs to (None for the
    text between values), `items` how many list items the chunk holds."""
    if not json_fast_path(plan):
        raise ValueError("a plan is a mapping with string keys")
    first = True
    repeats: dict = {}
    for key, value in plan.items():
        yield None, ("{\n  " if first else ",\n  ") + quote(key) + ": ", 0
        first = False
        if type(value) is list:
            if not value:
                yield key, "[]", 0
                continue
            for start in range(0, len(value), BATCH):
                batch = value[start : start + BATCH]
                text = ",\n    ".join(_list_items(batch, repeats))
                yield key, ("[\n    " if start == 0 else ",\n    ") + text, len(batch)
            yield key, "\n  ]", 0
        elif isinstance(value, Iterator):
            opening = "[\n    "
            while batch := list(islice(value, BATCH)):
                yield key, opening + ",\n    ".join(_list_items(batch, repeats)), len(batch)
                opening = ",\n    "
            yield key, "[]" if opening == "[\n    " else "\n  ]", 0
        else:
            yield key, json_value(value, 1), 0


def _list_items(items: list, repeats: dict) -> list[str]:
    """Each item of a top-level list, as text at depth 2 (items of steps, host_order...).

    `repeats` keeps, per service, the text around the values that repeat on
    every host (kind, project, service, source; tier, rank), checked equal
    before each use: only ids, host names and what follows `source` (group,
    batch, wave, targets) are written per item.
    """
    out = []
    append = out.append
    q = quote
    for item in items:
        if type(item) is dict:
            keys = tuple(item)
            try:
                if keys[:6] == _UPGRADE_KEYS:
                    hosts = item["hosts"]
                    if type(hosts) is not list or not hosts:
                        append(json_value(item, 2))
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
                    head = f'{{\n      "id": {q(item["id"])}{known[3]}{hosts_text}{known[4]}'
                    if len(keys) == 6:
                        append(head + "\n    }")
                        continue
                    names = _own_targets(item, keys, hosts)
                    if names is None:
                        append(head + _rest(item, keys, 6, repeats))
                        continue
                    # The usual rolled-out step: one host, its own targets last.
                    middle = tuple((key, type(item[key]), item[key]) for key in keys[6:-1])
                    between = repeats.get(middle)
                    if between is None:
                        between = repeats[middle] = _rest(
                            {key: value for key, _, value in middle}, keys[6:-1], 0, repeats
                        )[: -len("\n    }")]
                    names_text = ",\n          ".join(map(q, names))
                    append(
                        f'{head}{between},\n      "targets": {{\n        {hosts_text}: [\n'
                        f"          {names_text}\n        ]\n      }}\n    }}"
                    )
                    continue
                if keys == _HOOK_KEYS and _one_host(item["hosts"]) and item["parameters"] == {}:
                    # A rollout's hook on one host: only its id and host vary.
                    batch = item["batch"]
                    shape = (
                        "hook",
                        *(item[key] for key in ("kind", "when", "action", "source", "group")),
                        type(batch),
                        batch,
                    )
                    known = repeats.get(shape)
                    if known is None:
                        known = repeats[shape] = (
                            f',\n      "kind": {q(item["kind"])},\n      "when": {q(item["when"])},'
                            f'\n      "action": {q(item["action"])},\n      "parameters": {{}},'
                            f'\n      "hosts": [\n        ',
                            f'\n      ],\n      "source": {q(item["source"])},'
                            f'\n      "group": {q(item["group"])},'
                            f'\n      "batch": {json_value(batch, 3)}\n    }}',
                        )
                    append(
                        f'{{\n      "id": {q(item["id"])}{known[0]}{q(item["hosts"][0])}{known[1]}'
                    )
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
                try:
                    append("{" + _rest(item, keys, 0, repeats)[1:])
                    continue
                except TypeError:  # a key that is not a string
                    pass
        append(json_value(item, 2))
    return out


def _one_host(hosts) -> bool:
    return type(hosts) is list and len(hosts) == 1


def _own_targets(item: dict, keys: tuple, hosts: list) -> list | None:
    """The names of an upgrade step's `targets`, when they are last and only its
    one host's (`targets: {HOST: [NAME, ...]}`); None for any other shape."""
    if keys[-1] != "targets" or len(hosts) != 1:
        return None
    targets = item["targets"]
    if type(targets) is not dict or len(targets) != 1:
        return None
    names = targets.get(hosts[0])
    return names if type(names) is list and names else None


def _rest(item: dict, keys: tuple, first: int, repeats: dict) -> str:
    """The text of `item`'s keys from index `first` on, as `,\n      "key": value`
    each, and the closing brace: any dict at depth 2 (rollout's hook, gate and
    tagged steps; what follows an upgrade step's `source`).  The text before
    each value is made once per key sequence."""
    prefixes = repeats.get(("keys", keys))
    if prefixes is None:
        if any(type(key) is not str for key in keys):
            raise TypeError  # the caller's general path
        prefixes = repeats["keys", keys] = [",\n      " + quote(key) + ": " for key in keys]
    q = quote
    parts = []
    append = parts.append
    values = iter(item.values())
    for _ in range(first):
        next(values)
    for prefix, value in zip(prefixes[first:], values, strict=True):
        kind = type(value)
        if kind is str:
            append(prefix + q(value))
        elif kind is int:
            append(prefix + int.__repr__(value))
        elif kind is list and value:
            try:
                append(prefix + "[\n        " + ",\n        ".join(map(q, value)) + "\n      ]")
            except TypeError:  # not all strings
                append(prefix + json_value(value, 3))
        elif kind is dict:
            append(prefix + _names_by_key(value))
        else:
            append(prefix + json_value(value, 3))
    append("\n    }")
    return "".join(parts)


def _names_by_key(value: dict) -> str:
    """A dict at depth 3 (a step's `targets`: host -> names; `parameters`).
    Hosts of one kind have the same names (Kolla's containers): each distinct
    list is written once."""
    if not value:
        return "{}"
    q = quote
    parts = []
    append = parts.append
    texts: dict[tuple, str] = {}
    try:
        for key, names in value.items():
            if type(names) is not list or not names:
                return json_value(value, 3)
            shared = tuple(names)
            text = texts.get(shared)
            if text is None:
                text = texts[shared] = (
                    ": [\n          " + ",\n          ".join(map(q, names)) + "\n        ]"
                )
            append(q(key) + text)
    except TypeError:  # a key or a name that is not a string
        return json_value(value, 3)
    return "{\n        " + ",\n        ".join(parts) + "\n      }"


def json_value(value, level: int) -> str:
    """`value` as json.dumps(indent=2) writes it `level` levels deep."""
    kind = type(value)
    if kind is str:
        return quote(value)
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
            parts.append(quote(key) + ": " + json_value(item, level + 1))
        return "{" + inner + ("," + inner).join(parts) + "\n" + "  " * level + "}"
    if kind is list:
        if not value:
            return "[]"
        inner = "\n" + "  " * (level + 1)
        parts = [json_value(item, level + 1) for item in value]
        return "[" + inner + ("," + inner).join(parts) + "\n" + "  " * level + "]"
    return _reindented(value, level)


def _reindented(value, level: int) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + "  " * level) if level else text
