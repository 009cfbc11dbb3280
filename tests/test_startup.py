"""Fast start (issue 5): compile, check, diff and graph never import Celery or kombu.

Each command runs in a fresh interpreter through `kostyor_dsl.cli.main`, and
then the interpreter's `sys.modules` is inspected: importing the runtime
(Celery pulls in kombu, billiard, vine, ...) costs more than a whole `check`.
No timing here: bench/compile_bench.py measures the wall time.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support import EXAMPLES, ROOT

FORBIDDEN = ("celery", "kombu")

# `python -c WRAPPER FORBIDDEN ARGS...`: runs `kostyorc ARGS...` in-process, then
# fails with exit status 99 if a module of a FORBIDDEN package was imported.
WRAPPER = """
import sys
forbidden = tuple(sys.argv[1].split(","))
PRELUDE
from kostyor_dsl.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else 2
loaded = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
if loaded:
    print("imported: " + " ".join(loaded[:20]), file=sys.stderr)
    sys.exit(99)
sys.exit(code)
"""

HAS_REVIEW = (ROOT / "kostyor_dsl" / "cli" / "review_commands.py").is_file()
needs_review = pytest.mark.skipif(
    not HAS_REVIEW, reason="kostyor_dsl/cli/review_commands.py does not exist (yet)"
)


def run_clean(*args, prelude: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WRAPPER.replace("PRELUDE", prelude), ",".join(FORBIDDEN)]
        + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean(result: subprocess.CompletedProcess, expected_code: int = 0) -> None:
    assert result.returncode != 99, result.stderr
    assert result.returncode == expected_code, result.stderr


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """Two plans (node-by-node, service-by-service) written by the CLI, in JSON and YAML."""
    folder = tmp_path_factory.mktemp("plans")
    out = {}
    for strategy in ("node-by-node", "service-by-service"):
        for fmt in ("json", "yaml"):
            path = folder / f"{strategy}.{fmt}"
            result = run_clean(
                "compile",
                "kostyor",
                "-i",
                EXAMPLES / "design-doc.yaml",
                "-s",
                strategy,
                "--format",
                fmt,
                "-o",
                path,
            )
            assert_clean(result)
            out[strategy, fmt] = path
    return out


def test_the_wrapper_sees_an_import():
    """The probe works: a command run after importing kombu is caught."""
    pytest.importorskip("kombu")
    result = run_clean("check", "kostyor", prelude="import kombu")
    assert result.returncode == 99
    assert "kombu" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("check", "kostyor"),
        ("check", "kostyor", "-i", EXAMPLES / "design-doc.yaml"),
        ("check", "kostyor", "--diagnostics-format", "json"),
        ("--version",),
    ],
    ids=["check", "check-inventory", "check-json", "version"],
)
def test_check_does_not_import_the_runtime(args):
    assert_clean(run_clean(*args))


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_compile_does_not_import_the_runtime(fmt, tmp_path):
    out = tmp_path / f"plan.{fmt}"
    args = ["compile", "kostyor", "-i", EXAMPLES / "design-doc.yaml", "--format", fmt]
    assert_clean(run_clean(*args, "-o", out))
    assert out.stat().st_size > 0
    # and to stdout
    assert_clean(run_clean(*args))


def test_compile_with_errors_does_not_import_the_runtime(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  - name: a\n    services: [nova-apii]\n", encoding="utf-8")
    assert_clean(run_clean("compile", "kostyor", "-i", bad), expected_code=1)


@needs_review
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_diff_does_not_import_the_runtime(plans, fmt):
    old = plans["node-by-node", fmt]
    new = plans["service-by-service", fmt]
    assert_clean(run_clean("diff", old, old))
    result = run_clean("diff", old, new, "--format", "json")
    assert_clean(result, expected_code=1)
    json.loads(result.stdout)


@needs_review
@pytest.mark.parametrize("fmt", ["dot", "mermaid"])
def test_graph_does_not_import_the_runtime(plans, fmt):
    result = run_clean("graph", plans["node-by-node", "json"], "--format", fmt)
    assert_clean(result)
    assert result.stdout.strip()
