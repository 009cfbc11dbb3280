"""Ansible-style variables for Kolla-Ansible's role defaults: lazy, templated, native.

Kolla-Ansible decides where a service runs with Jinja2 expressions over its
variables (`enabled: "{{ enable_cinder_backup | bool }}"`, `host_in_groups:
"{{ inventory_hostname in groups['compute'] }}"`), variables that are
themselves templates of other variables.  `Variables` renders a variable only
when an expression asks for it, with Jinja2's native types (a list stays a
list, as in Ansible), and with the few Ansible filters those expressions use.

The values come from operators' files (globals.yml, --names) and pull
requests: evaluating them must never run code nor exhaust the machine.  The
environment is Jinja2's immutable sandbox (no attribute starting with `_`,
no `mro`, no method that changes a value), native types, and limits: a
template of at most 20,000 characters and no `{% ... %}` statement in an
operator's value, a variable chain at most 100 deep, no string or list over
100,000 items, no power beyond 2**64, no range over 100,000.  What breaks a
limit, divides by zero or overflows is a "hard" EvaluationError: the
importer reports it as an error, never a traceback.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.nativetypes import NativeCodeGenerator, NativeTemplate, native_concat
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_TEMPLATE = 20_000  # characters of one template
MAX_ITEMS = 100_000  # characters of a string, items of a list a template builds
MAX_DEPTH = 100  # variables referring to variables
_MAX_POWER = 2**64


class EvaluationError(Exception):
    """An expression that cannot be evaluated (unknown variable, filter, or a cycle).

    `hard`: it broke a limit or the sandbox, or its arithmetic failed: the input
    is wrong, not merely incomplete (an undefined variable is soft)."""

    def __init__(self, message: str, hard: bool = False):
        super().__init__(message)
        self.hard = hard


_BOOLEAN_WORDS = {
    "yes": True,
    "on": True,
    "1": True,
    "true": True,
    "y": True,
    "t": True,
    "no": False,
    "off": False,
    "0": False,
    "false": False,
    "n": False,
    "f": False,
    "": False,
}


def to_bool(value: Any) -> bool:
    """Ansible's `bool` filter (an undefined variable is an error, as in Ansible).

    A value that is no boolean word (`maybe`, a list) is a hard error, not False:
    Ansible would read it as False and drop the project without a word."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.strip().lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[value.strip().lower()]
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise EvaluationError(f"{shown} is not a boolean (yes/no, true/false)", hard=True)


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


def _sized(value: Any) -> Any:
    if isinstance(value, (str, list, tuple, dict)) and len(value) > MAX_ITEMS:
        raise EvaluationError(f"a value over {MAX_ITEMS} items or characters", hard=True)
    return value


class SafeEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with native types and size limits."""

    code_generator_class = NativeCodeGenerator
    template_class = NativeTemplate
    concat = staticmethod(native_concat)
    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "/"})

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            for number in (left, right):
                if not isinstance(number, (int, float)) or abs(number) > _MAX_POWER:
                    raise EvaluationError("a power beyond 2**64", hard=True)
            if isinstance(right, int) and abs(right) > 64 and abs(left) > 1:
                raise EvaluationError("a power beyond 2**64", hard=True)
        if operator == "*":
            for count, other in ((left, right), (right, left)):
                if (
                    isinstance(count, int)
                    and isinstance(other, (str, list, tuple))
                    and count * len(other) > MAX_ITEMS
                ):
                    raise EvaluationError(
                        f"a value over {MAX_ITEMS} items or characters", hard=True
                    )
        return _sized(super().call_binop(context, operator, left, right))


@functools.lru_cache(maxsize=1)
def environment() -> SafeEnvironment:
    env = SafeEnvironment(undefined=StrictUndefined)
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
    if len(text) > MAX_TEMPLATE:
        raise EvaluationError(f"a template over {MAX_TEMPLATE} characters", hard=True)
    return environment().from_string(text)


def refuse_statements(value: Any) -> None:
    """An operator's value (globals.yml, --names) is data or an expression: a `{% %}`
    statement (a loop) is refused, as Kolla-Ansible's variables need none."""
    if isinstance(value, str) and "{%" in value:
        raise EvaluationError("a `{% ... %}` statement (only `{{ expressions }}`)", hard=True)
    if isinstance(value, list):
        for item in value:
            refuse_statements(item)
    elif isinstance(value, dict):
        for item in value.values():
            refuse_statements(item)


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
        if len(self._busy) >= MAX_DEPTH:
            raise EvaluationError(
                f"variable '{key}': variables refer to each other over {MAX_DEPTH} deep",
                hard=True,
            )
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
            except SecurityError as exc:
                raise EvaluationError(f"{_short(value)}: refused: {exc}", hard=True) from None
            except (ArithmeticError, RecursionError, MemoryError) as exc:
                reason = type(exc).__name__ if not str(exc) else str(exc)
                raise EvaluationError(f"{_short(value)}: {reason}", hard=True) from None
            except (TemplateError, TypeError, ValueError, KeyError, AttributeError) as exc:
                raise EvaluationError(f"{_short(value)}: {exc}") from None
            _sized(result)
            if isinstance(result, Undefined):  # a lone `{{ name }}` is not rendered to text
                raise EvaluationError(f"{_short(value)}: {result._undefined_message}")
            return result
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        return value


def _short(value: str) -> str:
    text = value.strip()
    return repr(text if len(text) <= 80 else text[:77] + "...")
