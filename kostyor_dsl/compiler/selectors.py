"""Host selectors: which hosts a `hosts` block (or `--limit`) is about.

    compute            the host's tier (see `host_tier`)
    tier=compute       the same, spelled out
    name=cmp-*         the host's name, a glob (fnmatch, case-sensitive)
    service=nova-api   the host runs this service (a glob too)
    rack=r1            the host's label `rack` (a glob too)

Several selectors on one line must all match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from kostyor_dsl.compiler.model import OrderDef
from kostyor_dsl.inventory.model import Host

SELECTOR_KEYS = ("tier", "name", "service")


@dataclass(frozen=True)
class Selector:
    key: str  # tier, name, service, or a label's name
    pattern: str

    @classmethod
    def parse(cls, text: str) -> Selector:
        key, sep, pattern = text.partition("=")
        if not sep:
            return cls("tier", text)
        return cls(key, pattern)

    def __str__(self) -> str:
        return self.pattern if self.key == "tier" else f"{self.key}={self.pattern}"

    def matches(self, host: Host, tier: str | None) -> bool:
        if self.key == "tier":
            return tier is not None and fnmatchcase(tier, self.pattern)
        if self.key == "name":
            return fnmatchcase(host.name, self.pattern)
        if self.key == "service":
            return any(fnmatchcase(s, self.pattern) for s in host.services)
        return any(k == self.key and fnmatchcase(str(v), self.pattern) for k, v in host.labels)


def matches_all(selectors: Sequence[Selector], host: Host, tier: str | None) -> bool:
    return all(s.matches(host, tier) for s in selectors)


class HostTiers:
    """A host's tier: the first tier (in ranking) on which all its services may run;
    when there is none (an all-in-one host), the tier of its earliest-ranked service.

    So a compute node running nova-compute and an L2 agent (controller, compute)
    is a compute host, and an all-in-one node counts as a controller.
    """

    def __init__(self, order: OrderDef, tiers: Sequence[str]):
        self.tiers = tuple(tiers)
        self.roles = {s.name: frozenset(s.roles) for s in order.services}
        rank = {t: i for i, t in enumerate(self.tiers)}
        self.first = {
            s.name: min((rank.get(r, len(rank)) for r in s.roles[:1]), default=len(rank))
            for s in order.services
        }
        self._cache: dict[tuple[str, ...], str | None] = {}

    def __call__(self, host: Host) -> str | None:
        key = host.services
        if key not in self._cache:
            self._cache[key] = self._tier(key)
        return self._cache[key]

    def _tier(self, services: tuple[str, ...]) -> str | None:
        known = [s for s in services if s in self.roles]
        if not known:
            return None
        common = frozenset.intersection(*(self.roles[s] for s in known))
        for tier in self.tiers:
            if tier in common:
                return tier
        best = min(self.first[s] for s in known)
        return self.tiers[best] if best < len(self.tiers) else None
