"""Fuzz: inventories and plans, as documents and through the CLI (issue 9, item 12).

Whatever the bytes, `kostyorc check | compile | diff | explain | graph | codegen`
end with a diagnostic or a result, never a traceback.  Deterministic
(`derandomize`: the same examples every run, no example database) and bounded
(a fixed number of examples, each a few in-process calls), and seeded with
every case the fault hunts reported.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import EXAMPLES, KOSTYOR_SPEC

from kostyor_dsl.cli import main
from kostyor_dsl.inventory.documents import DocumentError, load_document
from kostyor_dsl.inventory.read import parse_inventory

SPEC = str(KOSTYOR_SPEC)
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _laughs(levels: int, shape: str) -> str:
    """A "billion laughs" document: each level nine aliases of the one before."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    if shape == "inventory":
        lines.append(f"hosts:\n  - name: a\n    services: *l{levels}")
    else:
        lines.append(f"steps: *l{levels}")
    return "\n".join(lines) + "\n"


DESIGN_DOC = (EXAMPLES / "design-doc.yaml").read_text()
# Every inventory the fault hunts turned into a traceback, a hang or a silent loss.
SEEDS = [
    "",
    "# only a comment\n",
    "hosts: []\n",
    "hosts:\n  - name: a\n    services: [[nova-api]]\n",
    "hosts:\n  - name: a\n    services: [nova-api]\n    labels: {1: x, [2]: y}\n",
    "hosts:\n  - name: a\n    services: [nova-api]\n    labels: {built: !!timestamp 2024-01-01}\n",
    "hosts:\n  - name: a\n    services: [nova-api]\n    labels: {built: 2024-01-01}\n",
    '{"hosts": ' + "[" * 3000 + "]" * 3000 + "}",
    "hosts:\n  - name: a\n    services: [nova-api]\nhosts:\n  - name: b\n    services: [nova-api]\n",
    '{"hosts": [{"name": "a", "services": []}], "hosts": []}',
    "\ufeffhosts:\n  - name: a\n    services: [nova-api]\n",
    "hosts:\n  - name: '-oProxyCommand=touch /tmp/PWN'\n    services: [nova-api]\n",
    'hosts:\n  - name: "a\\e]0;title\\a\\e[2J"\n    services: ["nova-api\\e[31m"]\n',
    "hosts:\n  - name: a\n    services: [nova-api]\n  - <<: {name: b}\n",
    _laughs(7, "inventory"),
    DESIGN_DOC,
]

VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
NAME = st.sampled_from(
    ["a", "node-1", "-x", "a..b", "x" * 64, "", "ctl.example.org", "é"]
) | st.text(max_size=10)
SERVICE = st.sampled_from(["nova-api", "nova-compute", "neutron-server", "nova-apii"]) | VALUE
HOST = st.fixed_dictionaries(
    {"name": NAME | VALUE, "services": st.lists(SERVICE, max_size=3) | VALUE},
    optional={"labels": st.dictionaries(st.text(max_size=6), VALUE, max_size=3) | VALUE},
)
INVENTORY = (
    st.fixed_dictionaries({"hosts": st.lists(HOST, max_size=4)}, optional={"cluster": VALUE})
    | VALUE
)
# Characters that mean something to YAML or JSON, or to a terminal.
NOISE = st.sampled_from([*list("&*!:{}[]-#\n \"'|>%@,?\t\\"), "\ufeff", "\x1b", "\x00", "\x85"])


def _mutate(text: str, draw) -> str:
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 3))
        text = text[:at] + draw(st.text(NOISE, max_size=3)) + text[at + cut :]
    return text


def _dump(doc, as_json: bool) -> str:
    if as_json:
        return json.dumps(doc, indent=2)
    return yaml.safe_dump(doc, allow_unicode=True)


@st.composite
def inventory_texts(draw):
    how = draw(st.sampled_from(["seed", "json", "yaml"]))
    text = draw(st.sampled_from(SEEDS)) if how == "seed" else _dump(draw(INVENTORY), how == "json")
    return _mutate(text, draw) if draw(st.booleans()) else text


@contextlib.contextmanager
def _workspace():
    with tempfile.TemporaryDirectory(prefix="kostyor-fuzz-") as folder:
        yield Path(folder)


def _kostyorc(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: a usage error
            code = exc.code
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return code, out.getvalue(), err.getvalue()


@FUZZ
@given(inventory_texts())
def test_inventory_documents_give_a_diagnostic_or_an_inventory(text):
    for raw in (text.encode("utf-8", "surrogatepass"), text.encode("utf-16")):
        report = parse_inventory(raw, "inv.yaml")
        assert report.inventory is not None or any(d.is_error for d in report.diagnostics)
        for d in report.diagnostics:
            assert "\x1b" not in d.message and (d.subject is None or "\x1b" not in d.subject)
            if d.span is not None:
                assert d.span.file == "inv.yaml" and d.span.line >= 1 and d.span.column >= 1


@FUZZ
@given(inventory_texts(), st.sampled_from([None, "service-by-service", "rolling-computes"]))
def test_cli_on_inventories_never_shows_a_traceback(text, strategy):
    _cli_on_inventory(text, strategy)


@pytest.mark.parametrize("index", range(len(SEEDS)))
def test_cli_on_every_reported_inventory(index):
    _cli_on_inventory(SEEDS[index], None)


def _cli_on_inventory(text: str, strategy: str | None) -> None:
    with _workspace() as folder:
        inv = folder / "inv.yaml"
        inv.write_text(text, encoding="utf-8", errors="surrogatepass")
        chosen = ("-s", strategy) if strategy else ()
        code, _, err = _kostyorc("check", SPEC, "-i", inv, *chosen)
        assert code in (0, 1), err
        plan = folder / "plan.json"
        compiled, _, err = _kostyorc(
            "compile", SPEC, "-i", inv, *chosen, "--format", "json", "-o", plan
        )
        assert compiled == code, err  # check and compile agree on what is an error
        if compiled != 0:
            assert "error[" in err
            return
        document = json.loads(plan.read_text())
        assert _kostyorc("diff", plan, plan)[0] == 0
        hosts = [h for s in document["steps"] for h in s.get("hosts", ())]
        if hosts:
            assert _kostyorc("explain", plan, "--host", hosts[0])[0] == 0
        if document["steps"]:
            assert _kostyorc("explain", plan, "--step", document["steps"][-1]["id"])[0] == 0


@functools.cache
def _rolling_plan(fmt: str) -> str:
    """A plan with every kind of step (hooks, gates, batches) to mutate.  The design
    doc's cloud has one hypervisor, which rolling-computes refuses to drain (K076)."""
    from kostyor_dsl.compiler import compile_plan, dump_plan

    return dump_plan(
        compile_plan(SPEC, str(EXAMPLES / "small-cloud.yaml"), "rolling-computes").plan, fmt
    )


PLAN_SEEDS = [
    _laughs(9, "plan"),
    "format: kostyor-plan/1\nsteps: []\nsteps: []\n",
    '{"format": "kostyor-plan/1", "steps": ' + "[" * 3000 + "]" * 3000 + "}",
    "\ufeff" + "steps: []\n",
]


@st.composite
def plan_texts(draw):
    if draw(st.booleans()):
        return draw(st.sampled_from(PLAN_SEEDS))
    return _mutate(_rolling_plan(draw(st.sampled_from(["yaml", "json"]))), draw)


@FUZZ
@given(plan_texts())
def test_review_commands_on_plans_never_show_a_traceback(text):
    _review_commands_on(text)


@pytest.mark.parametrize("index", range(len(PLAN_SEEDS)))
def test_review_commands_on_every_reported_plan(index):
    _review_commands_on(PLAN_SEEDS[index])


def _review_commands_on(text: str) -> None:
    with _workspace() as folder:
        plan = folder / "plan.yaml"
        plan.write_text(text, encoding="utf-8", errors="surrogatepass")
        good = folder / "good.yaml"
        good.write_text(_rolling_plan("yaml"))
        for args, codes in (
            (("diff", good, plan), (0, 1, 2)),
            (("diff", plan, good, "--format", "markdown"), (0, 1, 2)),
            (("explain", plan, "--host", "node-a"), (0, 1)),
            (("explain", plan, "--step", "gate:compute:1"), (0, 1)),
            (("graph", plan, "--format", "mermaid"), (0, 1)),
            (("codegen", plan), (0, 1)),
        ):
            code, _, err = _kostyorc(*args)
            assert code in codes, (args, err)
            if code == codes[-1] and code != 0:
                assert "error" in err


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bombs_are_refused_at_the_first_anchor(levels):
    for shape in ("inventory", "plan"):
        with pytest.raises(DocumentError) as caught:
            load_document(_laughs(levels, shape))
        assert (caught.value.line, caught.value.column) == (1, 5)
        assert "anchor '&l0'" in caught.value.message
