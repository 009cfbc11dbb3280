"""A plan as a graph: Graphviz DOT and Mermaid.

One cluster per host (pre-upgrade steps in a cluster of their own), the steps
chained in execution order.  A step on several hosts (a parallel group, as
service-by-service makes) becomes one node per host, side by side on one rank,
fanning out from the step before and joining in a small dot before the next.

Names from the plan only ever appear inside quoted, escaped labels; node and
cluster ids are invented from counters (`s3`, `h1`), so a host called
`a"; evil [x` is just text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

from kostyor_dsl.plan.read import KNOWN_KINDS

PRE_UPGRADE = "before the upgrade"
POST_UPGRADE = "after the upgrade"


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    tooltip: str
    parallel: bool = False
    gate: bool = False


@dataclass
class Layout:
    """Clusters (label, node ids) in first-use order, the nodes, and the edges."""

    clusters: list[tuple[str, list[str]]] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    # Nodes drawn on one rank: the hosts of one parallel step or batch.
    same_rank: list[list[str]] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)
    # Nodes in no cluster: gates.
    loose: list[str] = field(default_factory=list)


def _label(number: int, step: dict) -> str:
    kind = step["kind"]
    if kind == "upgrade":
        return f"{number}. {step['service']}"
    if kind == "hook":
        return f"{number}. {step['when']} {step['action']}"
    if kind == "gate":
        return f"{number}. gate {step['id'].removeprefix('gate:')}"
    return f"{number}. {step['action']}"


def _units(steps: list[dict]) -> list[list[tuple[int, dict]]]:
    """Steps cut into what runs as one: a batch (consecutive steps of one group and
    batch, gates apart) or a single step."""
    units: list[list[tuple[int, dict]]] = []
    current_key = None
    for number, step in enumerate(steps, start=1):
        kind = step["kind"]
        if kind not in KNOWN_KINDS:
            raise ValueError(f"step {step['id']!r} has kind {kind!r}, which graph cannot draw")
        key = None
        if kind != "gate" and step.get("batch") is not None:
            key = (step.get("group"), step["batch"])
        if key is not None and key == current_key:
            units[-1].append((number, step))
        else:
            units.append([(number, step)])
        current_key = key
    return units


def layout(plan: dict) -> Layout:
    out = Layout()
    cluster_of: dict[str, int] = {}

    def add(cluster: str | None, node: Node) -> None:
        out.nodes[node.id] = node
        if cluster is None:
            out.loose.append(node.id)
            return
        if cluster not in cluster_of:
            cluster_of[cluster] = len(out.clusters)
            out.clusters.append((cluster, []))
        out.clusters[cluster_of[cluster]][1].append(node.id)

    def parallel(lanes: list[list[str]], number: int) -> tuple[list[str], list[str]]:
        """Lanes side by side: entered together, joined in one point when several."""
        entries = [lane[0] for lane in lanes]
        if len(lanes) == 1:
            return entries, [lanes[0][-1]]
        out.same_rank.append(entries)
        join = f"j{number}"
        out.joins.append(join)
        out.edges.extend((lane[-1], join) for lane in lanes)
        return entries, [join]

    exits: list[str] = []
    for unit in _units(plan["steps"]):
        first_number = unit[0][0]
        lanes: dict[str, list[str]] = {}
        for number, step in unit:
            kind = step["kind"]
            tooltip = f"step {number}: {step['id']} ({step['source']})"
            hosts = step.get("hosts") or []
            if kind in ("pre-upgrade", "post-upgrade"):
                cluster = PRE_UPGRADE if kind == "pre-upgrade" else POST_UPGRADE
                node = Node(f"s{number}", _label(number, step), tooltip)
                add(cluster, node)
                lanes.setdefault(f"#{number}", []).append(node.id)
            elif kind == "gate":
                node = Node(
                    f"s{number}", _label(number, step), f"{tooltip}: {step['message']}", gate=True
                )
                add(None, node)
                lanes.setdefault(f"#{number}", []).append(node.id)
            elif len(hosts) == 1:
                node = Node(f"s{number}", _label(number, step), tooltip)
                add(hosts[0], node)
                lanes.setdefault(hosts[0], []).append(node.id)
            else:
                # One step on several hosts at once: a lane per host, joined after it.
                sub = []
                for h, host in enumerate(hosts):
                    node = Node(
                        f"s{number}h{h}",
                        _label(number, step),
                        f"{tooltip} on {host}, with {len(hosts) - 1} more hosts in parallel",
                        parallel=True,
                    )
                    add(host, node)
                    sub.append([node.id])
                entries, new_exits = parallel(sub, number)
                for previous in exits:
                    out.edges.extend((previous, e) for e in entries)
                exits = new_exits
                continue
            if len(unit) == 1:
                (lane,) = lanes.values()
                for previous in exits:
                    out.edges.append((previous, lane[0]))
                exits = [lane[-1]]
        if len(unit) > 1:
            lane_list = list(lanes.values())
            for lane in lane_list:
                out.edges.extend(pairwise(lane))
                if len(lane_list) > 1:
                    for node_id in lane:
                        out.nodes[node_id] = replace(out.nodes[node_id], parallel=True)
            entries, new_exits = parallel(lane_list, first_number)
            for previous in exits:
                out.edges.extend((previous, e) for e in entries)
            exits = new_exits
    return out


# ---------------------------------------------------------------- DOT


def dot_string(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, no raw line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(ch if ch.isprintable() else f"\\\\x{ord(ch):02x}" for ch in escaped)
    return f'"{escaped}"'


def to_dot(plan: dict) -> str:
    graph = layout(plan)
    title = f"kostyor plan: strategy {plan['strategy']}, {len(plan['steps'])} steps"
    lines = [
        "digraph plan {",
        f"  label={dot_string(title)};",
        "  labelloc=t;",
        "  rankdir=TB;",
        "  newrank=true;",
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica"];',
        '  edge [color="#555555"];',
    ]
    for c, (name, node_ids) in enumerate(graph.clusters):
        lines.append(f"  subgraph cluster_h{c} {{")
        lines.append(f"    label={dot_string(name)};")
        style = 'style="dashed"' if name in (PRE_UPGRADE, POST_UPGRADE) else 'style="rounded"'
        lines.append(f"    {style};")
        for node_id in node_ids:
            node = graph.nodes[node_id]
            fill = ', fillcolor="#fdf1d6"' if node.parallel else ""
            lines.append(
                f"    {node.id} [label={dot_string(node.label)}, "
                f"tooltip={dot_string(node.tooltip)}{fill}];"
            )
        lines.append("  }")
    for node_id in graph.loose:
        node = graph.nodes[node_id]
        lines.append(
            f"  {node.id} [label={dot_string(node.label)}, tooltip={dot_string(node.tooltip)}, "
            'shape=octagon, fillcolor="#f9d6d5"];'
        )
    for join in graph.joins:
        lines.append(f'  {join} [shape=point, width=0.08, label=""];')
    for group in graph.same_rank:
        lines.append(f"  {{ rank=same; {' '.join(group)} }}")
    for a, b in graph.edges:
        lines.append(f"  {a} -> {b};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Mermaid

_MERMAID_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:@/_-+=()"
)


def mermaid_text(text: str) -> str:
    """Text for a quoted Mermaid label: everything else as a `#NNN;` entity code."""
    return "".join(ch if ch in _MERMAID_SAFE else f"#{ord(ch)};" for ch in text)


def to_mermaid(plan: dict) -> str:
    graph = layout(plan)
    lines = ["flowchart TB"]
    for c, (name, node_ids) in enumerate(graph.clusters):
        lines.append(f'  subgraph h{c}["{mermaid_text(name)}"]')
        lines.append("    direction TB")
        for node_id in node_ids:
            node = graph.nodes[node_id]
            lines.append(f'    {node.id}["{mermaid_text(node.label)}"]')
        lines.append("  end")
    for node_id in graph.loose:
        lines.append(f'  {node_id}{{{{"{mermaid_text(graph.nodes[node_id].label)}"}}}}')
    for join in graph.joins:
        lines.append(f'  {join}((" "))')
    for a, b in graph.edges:
        lines.append(f"  {a} --> {b}")
    parallel = [n.id for n in graph.nodes.values() if n.parallel]
    lines.append("  classDef parallel fill:#fdf1d6,stroke:#c49a3a")
    if parallel:
        lines.append(f"  class {','.join(parallel)} parallel")
    return "\n".join(lines) + "\n"
