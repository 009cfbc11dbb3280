"""The package's layout as docs/architecture.md draws it: no import circle between
modules, and packages import only the stages before them."""

from __future__ import annotations

import ast
import collections
import pathlib

import kostyor_dsl

ROOT = pathlib.Path(kostyor_dsl.__file__).parent

# Each package may import its own modules and those of lower rank only.  The
# top-level modules (`kostyor_dsl`, `gc_paused`, ...) are the base of all.
RANK = {
    "language": 0,
    "inventory": 1,
    "plan": 2,
    "importers": 2,
    "compiler": 3,
    "runtime": 4,
    "simulate": 5,
    "review": 6,
    "lsp": 7,
    "web": 7,
    "cli": 8,
    "__main__": 9,
}
LONG_MODULE = 400  # lines; a longer module says why at its top


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(modules: dict[str, pathlib.Path]) -> dict[str, set[str]]:
    """Every import of a module of ours, at the top or inside a function: a lazy
    import that closes a circle is still a circle."""
    edges: dict[str, set[str]] = collections.defaultdict(set)
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if not node.module.startswith("kostyor_dsl"):
                    continue
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    edges[name].add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                edges[name].update(
                    a.name for a in node.names if a.name.split(".")[0] == "kostyor_dsl"
                )
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: use absolute imports")
    return edges


def _package(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2 or (ROOT / f"{parts[1]}.py").exists():
        return None  # kostyor_dsl itself or a top-level module: the base
    return parts[1]


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph, or None (iterative DFS, three colours)."""
    colour: dict[str, int] = {}
    for start in sorted(edges):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        path = [start]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not colour.get(child):
                colour[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(edges.get(child, ())))))
    return None


def test_no_import_circle():
    circle = _cycle(_imports(_modules()))
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_packages_import_only_earlier_stages():
    wrong = []
    for module, targets in _imports(_modules()).items():
        source = _package(module)
        if source is None:
            continue
        assert source in RANK, f"package {source} has no place in RANK (docs/architecture.md)"
        for target in targets:
            dest = _package(target)
            if dest is None or dest == source:
                continue
            if RANK[dest] >= RANK[source]:
                wrong.append(f"{module} imports {target} ({source} may not use {dest})")
    assert not wrong, "\n".join(sorted(wrong))


def test_long_modules_say_why():
    unexplained = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG_MODULE:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Long because" not in doc:
                unexplained.append(f"{name} ({text.count(chr(10))} lines)")
    assert not unexplained, (
        "modules over 400 lines without 'Long because' in their docstring: "
        + ", ".join(unexplained)
    )
