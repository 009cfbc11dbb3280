from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from review_support import check_golden, compiled, mutated

from kostyor_dsl.review.codegen import default_run_id, environment, generate
from kostyor_dsl.runtime import canvas

EVIL_HOSTS = (
    "x'); import os; os.system('id",
    'y"""\nimport os\nos.system("id")  # \\',
    "z\r\u2028#",
)


def _module(source: str, name: str = "generated_canvas") -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


@pytest.fixture(scope="module")
def app():
    from celery import Celery

    return Celery("codegen-test", set_as_current=False)


def _rolling():
    return compiled("small-cloud.yaml", "rolling-computes")


def test_codegen_goldens(design_doc_plan):
    check_golden(
        "codegen-design-doc", "upgrade.py.golden", generate(design_doc_plan, run_id="run-1")
    )
    check_golden(
        "codegen-rolling-per-host",
        "upgrade.py.golden",
        generate(_rolling(), run_id="run-2", route="per-host"),
    )


@pytest.mark.parametrize("route", canvas.ROUTES)
@pytest.mark.parametrize("which", ["design-doc", "service-by-service", "rolling"])
def test_generated_canvas_is_the_runtime_canvas(
    app, route, which, design_doc_plan, design_doc_sbs_plan
):
    plan = {"design-doc": design_doc_plan, "service-by-service": design_doc_sbs_plan}.get(
        which
    ) or _rolling()
    generated = _module(generate(plan, run_id="r-7", route=route)).build_canvas(app)
    expected = canvas.signatures(canvas.describe(plan, "r-7", route), app)
    assert len(generated) == len(expected) > 0
    for mine, theirs in zip(generated, expected, strict=True):
        assert type(mine) is type(theirs)
        assert [dict(s) for s in mine.tasks] == [dict(s) for s in theirs.tasks]
        assert dict(mine) == dict(theirs)


def test_every_step_has_its_source_comment(design_doc_plan):
    source = generate(design_doc_plan, run_id="r")
    for index, step in enumerate(design_doc_plan["steps"]):
        assert f"        # {index}. {step['id']}, from {step['source']}\n" in source


def test_hostile_host_names_stay_strings(design_doc_plan, app):
    def rename(p):
        names = dict(zip(("node-a", "node-b", "node-c"), EVIL_HOSTS, strict=True))
        for step in p["steps"]:
            step["hosts"] = [names[h] for h in step["hosts"]]
            service, host = step["id"].split("@")
            step["id"] = f"{service}@{names[host]}"
        for placement in p["host_order"]:
            placement["name"] = names[placement["name"]]

    plan = mutated(design_doc_plan, rename)
    from kostyor_dsl.plan.read import check_plan

    check_plan(plan)  # a valid plan: the schema allows any host name
    for route in canvas.ROUTES:
        source = generate(plan, run_id="x'); os.system('id", route=route)
        tree = ast.parse(source)
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert not [
            c for c in calls if isinstance(c.func, ast.Attribute) and c.func.attr == "system"
        ]
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        assert [(type(n).__name__, [a.name for a in n.names]) for n in imports] == [
            ("ImportFrom", ["chain"])
        ]
        strings = {
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        for evil in EVIL_HOSTS:
            assert any(evil in s for s in strings)
        # and it still builds the runtime's canvas
        built = _module(source).build_canvas(app)
        expected = canvas.signatures(canvas.describe(plan, "x'); os.system('id", route), app)
        assert [dict(c) for c in built] == [dict(c) for c in expected]


def _ruff() -> str:
    for candidate in (Path(sys.executable).parent / "ruff", shutil.which("ruff")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    if os.environ.get("CI"):
        pytest.fail("ruff is missing")
    pytest.skip("ruff not installed")


def test_generated_module_passes_ruff(tmp_path, design_doc_plan):
    path = tmp_path / "upgrade.py"
    path.write_text(generate(_rolling(), route="per-host"))
    (tmp_path / "upgrade_nbn.py").write_text(generate(design_doc_plan))
    for args in ([], ["--select", "E,F,W,I,B,UP,SIM,RUF", "--line-length", "100"]):
        result = subprocess.run(
            [_ruff(), "check", "--isolated", "--no-cache", *args, str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_templates_refuse_raw_values_and_undefined_names():
    import jinja2

    env = environment()
    with pytest.raises(TypeError, match=r"raw str: pass it through \|py or \|comment"):
        env.from_string("x = {{ name }}").render(name="a'b")
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("x = {{ missing|py }}").render()
    assert env.from_string("x = {{ name|py }}  # {{ name|comment }}").render(name="a'\nb") == (
        "x = \"a'\\nb\"  # a'\\nb"
    )
    with pytest.raises(TypeError, match="plain data"):
        env.from_string("{{ x|py }}").render(x=object())


def test_deterministic_and_default_run_id(design_doc_plan):
    assert generate(design_doc_plan) == generate(mutated(design_doc_plan, lambda p: None))
    assert default_run_id(design_doc_plan).startswith("plan-")
    assert f"RUN_ID = {default_run_id(design_doc_plan)!r}" in generate(design_doc_plan)


def test_cli_codegen(cli, plan_file, design_doc_plan, tmp_path):
    out_file = tmp_path / "upgrade.py"
    code, _, err = cli(
        "codegen",
        plan_file(design_doc_plan),
        "--target",
        "celery",
        "--run-id",
        "r1",
        "-o",
        out_file,
    )
    assert code == 0 and err == ""
    assert out_file.read_text() == generate(design_doc_plan, run_id="r1")
    assert cli("codegen", plan_file(design_doc_plan), "--target", "ansible")[0] == 2
