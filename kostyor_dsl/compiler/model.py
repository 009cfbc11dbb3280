"""The resolved spec: what the engines consume.  Plain frozen data, no syntax."""

from __future__ import annotations

from dataclasses import dataclass, field

from kostyor_dsl.language.diagnostics import Span

DEFAULT_TIERS = ("controller", "compute", "storage")
DEFAULT_ENGINE = "node-by-node"
DEFAULT_DRIVER = "noop"


@dataclass(frozen=True)
class ServiceDef:
    name: str
    project: str
    roles: tuple[str, ...]
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class BarrierDef:
    """`barrier FIRST before THEN`: every step of what FIRST names is done, on every
    host, before any step of what THEN names starts (compiler/constraints.py)."""

    text: str  # as written, without the keyword: "placement before nova"
    first_services: tuple[str, ...]
    first_actions: tuple[str, ...]
    then_services: tuple[str, ...]
    then_actions: tuple[str, ...]
    span: Span = field(compare=False, repr=False)
    origin: str = ""  # "order openstack" or "strategy careful"


@dataclass(frozen=True)
class ProjectStepsDef:
    """A project's own steps (schema, checks, data migrations): `pre` before its
    first service starts, `post` after its last one is done."""

    project: str
    pre: tuple[Action, ...]
    post: tuple[Action, ...]


@dataclass(frozen=True)
class OrderDef:
    """An upgrade order: its services flattened in spec order (projects in sequence)."""

    name: str
    services: tuple[ServiceDef, ...]
    span: Span = field(compare=False, repr=False)
    # Services the order knows and leaves alone (`ignore`): neither unknown nor upgraded.
    ignored: tuple[str, ...] = ()
    barriers: tuple[BarrierDef, ...] = ()
    project_steps: tuple[ProjectStepsDef, ...] = ()


@dataclass(frozen=True)
class Action:
    """A named action the driver turns into a task (pre-upgrade steps, later hooks)."""

    name: str
    parameters: tuple[tuple[str, str | int | float], ...]
    span: Span = field(compare=False, repr=False)


# Actions every driver is expected to offer (hooks, pre/post-upgrade steps).  A
# spec names others with `actions NAME, ...`; a driver rejects what it lacks.
BUILTIN_ACTIONS = (
    "disable-scheduling",
    "enable-scheduling",
    "evacuate",
    "drain",
    "health-check",
    "reboot",
    "wait",
)


@dataclass(frozen=True)
class HostGroup:
    """A `hosts SELECTOR... { ... }` block: how the hosts it selects are rolled out."""

    name: str  # the selectors as written, e.g. "compute" or "compute,rack=r1"
    selectors: tuple  # tuple[Selector, ...]
    batches: tuple[int | str, ...]  # sizes, percentages ("20%") or "max"; the last repeats
    max_failed_hosts: int | str  # count or "P%" of the group's hosts
    max_failed_hosts_per_batch: int | str | None
    before: tuple[Action, ...]
    after: tuple[Action, ...]
    pause_after_batches: tuple[int, ...]
    span: Span = field(compare=False, repr=False)
    batch_span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Budget:
    """A `budget SELECTOR... { max-unavailable N | min-available N }` block: how many
    of the hosts it selects may be down at once (see compiler/budgets.py)."""

    name: str  # for messages: its `name`, else the selectors as written
    selectors: tuple  # tuple[Selector, ...]
    rule: str  # "max-unavailable" or "min-available"
    amount: int | str  # a count, or "P%" of the hosts it selects
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class ServiceHooks:
    """A `service NAME { before ... after ... }` block: actions around that service's steps."""

    service: str
    before: tuple[Action, ...]
    after: tuple[Action, ...]
    span: Span = field(compare=False, repr=False)


@dataclass(frozen=True)
class StrategyDef:
    name: str
    engine: str
    order: str
    driver: str
    driver_parameters: tuple[tuple[str, str | int | float], ...]
    pre_upgrade: tuple[Action, ...]
    unknown_services: str  # "error" or "warn"
    span: Span = field(compare=False, repr=False)
    groups: tuple[HostGroup, ...] = ()
    service_hooks: tuple[ServiceHooks, ...] = ()
    post_upgrade: tuple[Action, ...] = ()
    budgets: tuple[Budget, ...] = ()
    engine_span: Span | None = field(default=None, compare=False, repr=False)
    # Barriers the strategy adds to its order's (its own and inherited ones).
    barriers: tuple[BarrierDef, ...] = ()
    # Projects whose steps the strategy changes: replaces them, or adds to them.
    project_steps: tuple[ProjectStepsDef, ...] = ()
    # `undrained-hypervisors allow`: hypervisors may be upgraded without evacuation.
    undrained_hypervisors: str = "error"


@dataclass(frozen=True)
class SourceFile:
    """A spec file that took part: its display name (no absolute paths), text and digest."""

    display: str
    text: str
    sha256: str


@dataclass(frozen=True)
class Spec:
    files: tuple[SourceFile, ...]
    tiers: tuple[str, ...]
    orders: dict[str, OrderDef]
    strategies: dict[str, StrategyDef]
    default_strategy: str | None
    actions: tuple[str, ...] = BUILTIN_ACTIONS
    # Actions after which the old release cannot run (`irreversible`).
    irreversible: tuple[str, ...] = ()

    @property
    def sources(self) -> dict[str, str]:
        return {f.display: f.text for f in self.files}
