"""What may be written at a cursor in a spec, for editors' completion.

Works on text that does not parse (a line half typed): the enclosing blocks
come from the lines above the cursor (one brace per line is the grammar's
rule), and the words already on the cursor's line say whether a key or a
value is being written.  The names offered come from the model resolved so
far (`workspace.TextCheck.partial`), so they are there while the file has
errors.  Setting keys carry their documentation (`SETTING_DOCS`, the tables
of docs/language.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kostyor_dsl.compiler.engines import available_engines, service_ranks
from kostyor_dsl.compiler.model import BUILTIN_ACTIONS, Spec
from kostyor_dsl.compiler.selectors import SELECTOR_KEYS
from kostyor_dsl.compiler.strategy_blocks import BUDGET_KEYS, HOSTS_KEYS, SERVICE_KEYS
from kostyor_dsl.compiler.strategy_settings import STRATEGY_KEYS, UNKNOWN_SERVICE_POLICIES
from kostyor_dsl.language.imports import shipped_specs

TOP_KEYWORDS = ("import", "tiers", "actions", "order", "strategy", "default")

# (where, key) -> what the setting means; a test checks every key has one.
SETTING_DOCS: dict[tuple[str, str], str] = {
    ("strategy", "engine"): "How hosts and services are ordered: `node-by-node` (default), "
    "`service-by-service`, `phased` (node by node inside each phase the barriers cut), "
    "or a third-party engine.",
    ("strategy", "project"): "`project NAME { pre-upgrade add|replace { ACTION } }`: add to "
    "or replace a project's own steps (database steps, checks).",
    ("strategy", "undrained-hypervisors"): "`error` (default) or `allow`: whether nova-compute "
    "may be upgraded on a host the strategy does not drain (K075).",
    ("strategy", "order"): "Which order to follow (default: the only order, if there is one).",
    ("strategy", "driver"): "What runs the steps (default `noop`), with an optional block of "
    'parameters passed to the driver: `driver shell { command "..." }`.',
    ("strategy", "pre-upgrade"): "A block of actions, one per line, run once before any "
    "service is upgraded.",
    ("strategy", "post-upgrade"): "A block of actions, one per line, run once after the last "
    "upgrade step.",
    ("strategy", "unknown-services"): "`error` (default) or `warn`: what a host running a "
    "service the order does not know gets (K042).",
    ("strategy", "hosts"): "`hosts SELECTOR[, SELECTOR] { ... }`: a host group (batches, "
    "failure policy, hooks, gates) for the hosts all the selectors match; a host belongs to "
    "the first group that matches it.",
    ("strategy", "service"): "`service NAME { before ACTION  after ACTION }`: actions around "
    "every step of one service.",
    ("strategy", "budget"): "`budget SELECTOR[, SELECTOR] { max-unavailable N }` (or "
    "`min-available N`): how many of the hosts the selectors match may be down at once; the "
    "compiler proves every stage keeps it (K060).",
    ("budget", "max-unavailable"): "A count or a percentage (rounded down, at least 1) of the "
    "budget's hosts that may be down at once.",
    ("budget", "min-available"): "A count or a percentage (rounded up) of the budget's hosts "
    "that must stay up.",
    ("budget", "name"): "The budget's name in messages (default: its selectors as written).",
    ("hosts", "batch"): "The ramp: sizes, percentages and `max` (`1, 5, 20%`); the last size "
    "repeats; `max` is the largest batch the budgets allow. Default 1.",
    ("hosts", "max-failed-hosts"): "A count or a percentage of the group's hosts: how many "
    "failed hosts are tolerated in total (default 0: the first failure pauses the run).",
    ("hosts", "max-failed-hosts-per-batch"): "A count or a percentage: how many failed hosts "
    "one batch tolerates.",
    ("hosts", "before"): "`before ACTION [{ params }]`: runs on each host of the group before "
    "its services, in the order written.",
    ("hosts", "after"): "`after ACTION [{ params }]`: runs on each host after its services.",
    ("hosts", "pause-after-batch"): "Batch numbers: a manual gate after those batches; the "
    "run pauses until an operator resumes it.",
    ("service", "before"): "`before ACTION`: runs before each step of the service, on the "
    "step's hosts.",
    ("service", "after"): "`after ACTION`: runs after each step of the service.",
}
ACTION_PARAMETERS = {
    "timeout": "A number of seconds or a duration (`30m`): bounds this one step in the "
    "`shell` driver instead of its per-step timeout.",
}
KEYS_OF = {
    "strategy": STRATEGY_KEYS,
    "hosts": HOSTS_KEYS,
    "service": SERVICE_KEYS,
    "budget": BUDGET_KEYS,
}

_CODE_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|(#.*)')
_WORDS_RE = re.compile(r"[^\s,{}]+")


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword, spec, tier, order, strategy, service, action, setting, engine, driver, value, selector
    detail: str = ""
    documentation: str = ""


@dataclass(frozen=True)
class Cursor:
    """Where a cursor is: its enclosing blocks' headers, the words before it on its line,
    and the word being typed (what a completion replaces)."""

    blocks: tuple[tuple[str, ...], ...]
    words: tuple[str, ...]
    prefix: str
    in_comment: bool = False


def cursor_at(text: str, line: int, column: int) -> Cursor:
    """The cursor at a 1-based line and column of `text`."""
    lines = text.split("\n")
    blocks: list[tuple[str, ...]] = []
    for raw in lines[: max(0, line - 1)]:
        code = _CODE_RE.sub(lambda m: "" if m.group(1) else '""', raw)  # no braces in strings
        if "{" in code:
            blocks.append(tuple(_WORDS_RE.findall(code.split("{", 1)[0])))
        elif "}" in code and blocks:
            blocks.pop()
    current = lines[line - 1] if 0 < line <= len(lines) else ""
    before = current[: max(0, column - 1)]
    code = _code(before)
    in_comment = len(code) < len(before)
    words = _WORDS_RE.findall(code)
    prefix = ""
    if words and code and not code[-1].isspace() and code[-1] != ",":
        prefix = words.pop()
    return Cursor(tuple(blocks), tuple(words), prefix, in_comment)


def _code(line: str) -> str:
    """The line without its comment (strings kept, so a `#` in a string is not one)."""
    m = next((m for m in _CODE_RE.finditer(line) if m.group(1)), None)
    return line[: m.start(1)] if m else line


def completions(
    text: str, line: int, column: int, spec: Spec | None, drivers: Sequence[str] = ()
) -> list[Completion]:
    """What may be written at a 1-based position; `drivers` are the installed drivers'
    names (the runtime's entry points: the compiler does not load drivers)."""
    cursor = cursor_at(text, line, column)
    if cursor.in_comment:
        return []
    offer = _Offer(spec, drivers)
    heads = [b[0] if b else "" for b in cursor.blocks]
    words = cursor.words
    if not heads:
        return offer.top(words)
    if heads[0] == "order":
        if len(heads) == 1:
            return [Completion("project", "keyword", "project NAME { ... }")] if not words else []
        if len(heads) == 2 and words:
            return offer.keyword("on") if len(words) == 1 else offer.tiers()
        return []
    if "strategy" not in cursor.blocks[0]:
        return []
    strategy = _strategy_name(cursor.blocks[0])
    if len(heads) == 1:
        return offer.strategy_setting(words, strategy)
    inner = heads[1]
    if len(heads) == 2 and inner in ("hosts", "service"):
        if not words:
            return offer.keys(inner)
        if words[0] in ("before", "after") and len(words) == 1:
            return offer.actions()
        return []
    if len(heads) == 2 and inner in ("pre-upgrade", "post-upgrade"):
        return [] if words else offer.actions()
    if len(heads) == 3 and not words:  # the parameter block of an action
        return [Completion(k, "setting", "parameter", doc) for k, doc in ACTION_PARAMETERS.items()]
    return []


def _strategy_name(header: tuple[str, ...]) -> str | None:
    words = list(header)
    if "strategy" in words and words.index("strategy") + 1 < len(words):
        return words[words.index("strategy") + 1]
    return None


class _Offer:
    def __init__(self, spec: Spec | None, drivers: Sequence[str]):
        self.spec = spec
        self.drivers = drivers

    def keyword(self, *words: str) -> list[Completion]:
        return [Completion(w, "keyword") for w in words]

    def top(self, words: tuple[str, ...]) -> list[Completion]:
        if not words:
            return self.keyword(*TOP_KEYWORDS)
        if words == ("import",):
            return [Completion(n, "spec", "shipped spec") for n in shipped_specs()]
        if words == ("default",):
            return self.keyword("strategy")
        if words[-1] == "extends":
            return self.strategies()
        head = words[1:] if words[0] == "default" else words
        if len(head) == 2 and head[0] == "strategy":
            return self.keyword("extends")
        return []

    def tiers(self) -> list[Completion]:
        tiers = self.spec.tiers if self.spec else ()
        return [Completion(t, "tier", f"tier {i}") for i, t in enumerate(tiers, start=1)]

    def strategies(self) -> list[Completion]:
        spec = self.spec
        if spec is None:
            return []
        return [
            Completion(name, "strategy", f"engine {s.engine}, order {s.order}")
            for name, s in sorted(spec.strategies.items())
        ]

    def actions(self) -> list[Completion]:
        names = self.spec.actions if self.spec else BUILTIN_ACTIONS
        return [
            Completion(
                n, "action", "built-in action" if n in BUILTIN_ACTIONS else "declared action"
            )
            for n in names
        ]

    def keys(self, scope: str) -> list[Completion]:
        return [
            Completion(k, "setting", f"{scope} setting", SETTING_DOCS[scope, k])
            for k in KEYS_OF[scope]
        ]

    def strategy_setting(self, words: tuple[str, ...], strategy: str | None) -> list[Completion]:
        if not words:
            return self.keys("strategy")
        if len(words) > 1 and words[0] != "hosts":
            return []
        key = words[0]
        spec = self.spec
        if key == "engine":
            return [Completion(e, "engine") for e in available_engines()]
        if key == "order":
            return [Completion(o, "order") for o in sorted(spec.orders)] if spec else []
        if key == "driver":
            return [Completion(d, "driver") for d in self.drivers]
        if key == "unknown-services":
            return [Completion(p, "value") for p in UNKNOWN_SERVICE_POLICIES]
        if key == "hosts":
            selectors = [
                Completion(f"{k}=", "selector", f"selector {k}=GLOB") for k in SELECTOR_KEYS
            ]
            return self.tiers() + selectors
        if key == "service":
            return self.services(strategy)
        return []

    def services(self, strategy: str | None) -> list[Completion]:
        spec = self.spec
        if spec is None:
            return []
        chosen = spec.strategies.get(strategy or "")
        orders = [spec.orders[chosen.order]] if chosen and chosen.order in spec.orders else []
        if not orders:
            orders = list(spec.orders.values())
        out = []
        for order in orders:
            ranks = service_ranks(order, spec.tiers)
            out.extend(
                Completion(s.name, "service", f"{s.project}, rank {ranks[s.name]} in {order.name}")
                for s in order.services
            )
        return out
