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

from dataclasses import dataclass, field

from kostyor_dsl.review.planfile import KNOWN_KINDS

PRE_UPGRADE = "before the upgrade"


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    tooltip: str
    parallel: bool = False


@dataclass
class Layout:
    """Clusters (label, node ids) in first-use order, the nodes, and the edges."""

    clusters: list[tuple[str, list[str]]] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    # Nodes drawn on one rank: the hosts of one parallel step.
    same_rank: list[list[str]] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)


def layout(plan: dict) -> Layout:
    out = Layout()
    cluster_of: dict[str, int] = {}

    def add(cluster: str, node: Node) -> None:
        if cluster not in cluster_of:
            cluster_of[cluster] = len(out.clusters)
            out.clusters.append((cluster, []))
        out.clusters[cluster_of[cluster]][1].append(node.id)
        out.nodes[node.id] = node

    exits: list[str] = []
    for number, step in enumerate(plan["steps"], start=1):
        kind = step["kind"]
        if kind not in KNOWN_KINDS:
            raise ValueError(f"step {step['id']!r} has kind {kind!r}, which graph cannot draw")
        tooltip = f"step {number}: {step['id']} ({step['source']})"
        if kind == "pre-upgrade":
            node = Node(f"s{number}", f"{number}. {step['action']}", tooltip)
            add(PRE_UPGRADE, node)
            entries = [node.id]
            new_exits = [node.id]
        else:
            hosts = step["hosts"]
            if len(hosts) == 1:
                node = Node(f"s{number}", f"{number}. {step['service']}", tooltip)
                add(hosts[0], node)
                entries = new_exits = [node.id]
            else:
                entries = []
                for h, host in enumerate(hosts):
                    node = Node(
                        f"s{number}h{h}",
                        f"{number}. {step['service']}",
                        f"{tooltip} on {host}, with {len(hosts) - 1} more hosts in parallel",
                        parallel=True,
                    )
                    add(host, node)
                    entries.append(node.id)
                out.same_rank.append(entries)
                join = f"j{number}"
                out.joins.append(join)
                out.edges.extend((e, join) for e in entries)
                new_exits = [join]
        for previous in exits:
            for entry in entries:
                out.edges.append((previous, entry))
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
        style = 'style="dashed"' if name == PRE_UPGRADE else 'style="rounded"'
        lines.append(f"    {style};")
        for node_id in node_ids:
            node = graph.nodes[node_id]
            fill = ', fillcolor="#fdf1d6"' if node.parallel else ""
            lines.append(
                f"    {node.id} [label={dot_string(node.label)}, "
                f"tooltip={dot_string(node.tooltip)}{fill}];"
            )
        lines.append("  }")
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
    for join in graph.joins:
        lines.append(f'  {join}((" "))')
    for a, b in graph.edges:
        lines.append(f"  {a} --> {b}")
    parallel = [n.id for n in graph.nodes.values() if n.parallel]
    lines.append("  classDef parallel fill:#fdf1d6,stroke:#c49a3a")
    if parallel:
        lines.append(f"  class {','.join(parallel)} parallel")
    return "\n".join(lines) + "\n"
