"""Ansible-style variables for Kolla-Ansible's role defaults: lazy, templated, native.

Kolla-Ansible decides where a service runs with Jinja2 expressions over its
variables (`enabled: "{{ enable_cinder_backup | bool }}"`, `host_in_groups:
"{{ inventory_hostname in groups['compute'] }}"`), variables that are
themselves templates of other variables.  `Variables` renders a variable only
when an expression asks for it, with Jinja2's native types (a list stays a
list, as in Ansible), and with the few Ansible filters those expressions use.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.nativetypes import NativeEnvironment


class EvaluationError(Exception):
    """An expression that cannot be evaluated (unknown variable, filter, or a cycle)."""


def to_bool(value: Any) -> bool:
    """Ansible's `bool` filter (an undefined variable is an error, as in Ansible)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "on", "1", "true", "y", "t")
    return False


def _ternary(value: Any, true_value: Any, false_value: Any, none_value: Any = None) -> Any:
    if value is None and none_value is not None:
        return none_value
    return true_value if value else false_value


def _union(a, b):
    return list(dict.fromkeys([*a, *b]))


def _difference(a, b):
    return [x for x in dict.fromkeys(a) if x not in b]


def _intersect(a, b):
    return [x for x in dict.fromkeys(a) if x in b]


@functools.lru_cache(maxsize=1)
def environment() -> NativeEnvironment:
    env = NativeEnvironment(undefined=StrictUndefined)
    env.filters.update(
        {
            "bool": to_bool,
            "ternary": _ternary,
            "union": _union,
            "difference": _difference,
            "intersect": _intersect,
            "unique": lambda a: list(dict.fromkeys(a)),
            "flatten": lambda a: [y for x in a for y in (x if isinstance(x, list) else [x])],
        }
    )
    return env


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


@functools.lru_cache(maxsize=4096)
def _compile(text: str):
    return environment().from_string(text)


class Variables(Mapping):
    """Variables by name, each rendered (once) when first asked for.

    `overlay` holds per-evaluation names (`inventory_hostname`, `groups`) that
    are not cached; everything else is host-independent and cached.
    """

    # Overlay names whose value differs per host: what reads them is not cached.
    PER_HOST = frozenset({"inventory_hostname", "hostvars", "group_names"})

    def __init__(self, raw: Mapping[str, Any], overlay: Mapping[str, Any] | None = None):
        self._raw = raw
        self._overlay = dict(overlay or {})
        self._cache: dict[str, Any] = {}
        self._busy: set[str] = set()
        self._per_host: set[str] = set()

    def with_overlay(self, **overlay: Any) -> Variables:
        scoped = Variables(self._raw, {**self._overlay, **overlay})
        scoped._cache = self._cache  # the raw variables are the same: share what is rendered
        return scoped

    def __contains__(self, key: object) -> bool:
        return key in self._overlay or key in self._raw

    def __getitem__(self, key: str) -> Any:
        if key in self._overlay:
            if key in self.PER_HOST:
                self._per_host |= self._busy
            return self._overlay[key]
        if key in self._cache:
            return self._cache[key]
        value = self._raw[key]
        if key in self._busy:
            raise EvaluationError(f"variable '{key}' refers to itself")
        self._busy.add(key)
        try:
            rendered = self.render(value)
        finally:
            self._busy.discard(key)
        if key not in self._per_host:
            self._cache[key] = rendered
        return rendered

    def __iter__(self) -> Iterator[str]:
        return iter({**self._raw, **self._overlay})

    def __len__(self) -> int:
        return len(set(self._raw) | set(self._overlay))

    def render(self, value: Any) -> Any:
        """A value with its templates rendered (strings, and inside lists and dicts)."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            try:
                template = _compile(value)
                context = template.new_context(self, shared=True)
                result = environment().concat(template.root_render_func(context))
            except EvaluationError:
                raise
            except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
                raise EvaluationError(f"{value.strip()!r}: {exc}") from None
            if isinstance(result, Undefined):  # a lone `{{ name }}` is not rendered to text
                raise EvaluationError(f"{value.strip()!r}: {result._undefined_message}")
            return result
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        return value
