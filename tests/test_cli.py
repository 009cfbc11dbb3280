"""`kostyorc` as a user runs it: help, version, exit codes, no tracebacks."""

from __future__ import annotations

import contextlib
import os
import stat
import threading

import pytest
from support import EXAMPLES, KOSTYOR_SPEC, run_kostyorc

import kostyor_dsl


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0
    assert out.startswith(f"kostyorc {kostyor_dsl.__version__} ")
    assert "YAML: libyaml (C)" in out or "pure Python" in out


def test_help_explains_commands(cli):
    code, out, _ = cli("--help")
    assert code == 0
    assert "compile" in out and "check" in out
    code, out, _ = cli("compile", "--help")
    assert code == 0
    for option in ("--inventory", "--strategy", "--format", "--output", "--diagnostics-format"):
        assert option in out
    assert "Exit status" in out


def test_usage_errors_exit_2(cli):
    assert cli()[0] == 2
    assert cli("compile", "kostyor")[0] == 2
    assert cli("compile", "kostyor", "-i", "x", "--format", "toml")[0] == 2
    assert cli("frobnicate")[0] == 2


def test_unknown_strategy(cli):
    code, out, err = cli(
        "compile", KOSTYOR_SPEC, "-i", EXAMPLES / "design-doc.yaml", "-s", "node-by-nod"
    )
    assert code == 1 and out == ""
    assert "--strategy: error[K020]: unknown strategy 'node-by-nod'" in err
    assert "did you mean 'node-by-node'?" in err


def test_no_default_strategy_asks_for_one(cli, write):
    spec = write(
        "two.kostyor",
        "order o {\n  project p {\n    a on controller\n  }\n}\nstrategy x {\n}\nstrategy y {\n}\n",
    )
    inv = write("inv.yaml", "hosts: []\n")
    code, _, err = cli("compile", spec, "-i", inv)
    assert code == 1
    assert "error[K026]: no default strategy: choose one with --strategy" in err
    assert cli("compile", spec, "-i", inv, "-s", "y")[0] == 0


def test_user_mistakes_never_show_a_traceback(tmp_path):
    spec = tmp_path / "bad.kostyor"
    spec.write_bytes(b"order o {\n  project p {\n    \xff on controller\n")
    directory = tmp_path / "dir.kostyor"
    directory.mkdir()
    cases = [
        ("compile", str(spec), "-i", str(EXAMPLES / "design-doc.yaml")),
        ("compile", str(directory), "-i", str(EXAMPLES / "design-doc.yaml")),
        ("compile", str(KOSTYOR_SPEC), "-i", str(tmp_path)),
        ("check", "no/such/file.kostyor"),
        (
            "compile",
            str(KOSTYOR_SPEC),
            "-i",
            str(EXAMPLES / "design-doc.yaml"),
            "-o",
            str(tmp_path / "no" / "dir" / "p.yaml"),
        ),
    ]
    for args in cases:
        result = run_kostyorc(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert "error" in result.stderr


def test_compile_prints_the_plan(cli):
    code, out, err = cli("compile", "kostyor", "-i", EXAMPLES / "design-doc.yaml")
    assert code == 0 and err == ""
    assert out.startswith("# kostyor upgrade plan: strategy node-by-node")
    assert "id: keystone-wsgi-admin@node-c" in out


def test_broken_pipe_is_quiet(tmp_path):
    import subprocess
    import sys

    inv = tmp_path / "big.yaml"
    hosts = "".join(f"- {{name: c{i}, services: [nova-compute]}}\n" for i in range(3000))
    inv.write_text("hosts:\n" + hosts)  # a plan far larger than a pipe's buffer
    cmd = f"{sys.executable} -m kostyor_dsl compile kostyor -i {inv} | head -1"
    result = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("# kostyor upgrade plan")
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


def test_grammar_cache_is_private_and_optional(tmp_path):
    cache_home = tmp_path / "cache"
    result = run_kostyorc("check", "kostyor", env={"XDG_CACHE_HOME": str(cache_home)})
    assert result.returncode == 0, result.stderr
    folder = cache_home / "kostyor-dsl"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    (cache_file,) = folder.iterdir()
    assert cache_file.name.startswith("grammar-lark")
    # Named by the grammar too: another checkout's grammar has a file of its own.
    import hashlib
    from importlib.resources import files

    grammar = files("kostyor_dsl").joinpath("grammar", "kostyor.lark").read_bytes()
    assert cache_file.name.endswith(f"-{hashlib.sha256(grammar).hexdigest()[:16]}.cache")
    # No usable cache folder: no cache, still no failure.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run_kostyorc("check", "kostyor", env={"XDG_CACHE_HOME": str(blocker)})
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- -o FILE, per command
# Every command that writes a file goes through cli/output.write_output (issue 9,
# item 1): here each one is run over a FIFO, a symlink, a file with its own mode
# and (as root) a device node, and what it wrote is compared with its stdout.

WRITERS = {
    "compile": lambda plan, spec: ("compile", spec, "-i", EXAMPLES / "design-doc.yaml"),
    "diff": lambda plan, spec: ("diff", plan, plan, "--format", "markdown"),
    "graph-dot": lambda plan, spec: ("graph", plan),
    "graph-mermaid": lambda plan, spec: ("graph", plan, "--format", "mermaid"),
    "codegen": lambda plan, spec: ("codegen", plan),
}


@pytest.fixture
def plan_and_spec(tmp_path):
    plan = tmp_path / "inputs" / "plan.yaml"
    plan.parent.mkdir()
    from kostyor_dsl.compiler import compile_plan, dump_plan

    plan.write_text(
        dump_plan(compile_plan(str(KOSTYOR_SPEC), str(EXAMPLES / "design-doc.yaml")).plan, "yaml")
    )
    return plan, KOSTYOR_SPEC


def _expected(cli, args) -> str:
    code, out, err = cli(*args)
    assert code in (0, 1) and out, err
    return out


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_output_follows_a_symlink_and_keeps_the_mode(command, cli, tmp_path, plan_and_spec):
    args = WRITERS[command](*plan_and_spec)
    real = tmp_path / "real.out"
    real.write_text("old\n")
    real.chmod(0o640)
    link = tmp_path / "link.out"
    link.symlink_to(real)
    code, _, err = cli(*args, "-o", link)
    assert code in (0, 1), err
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text() == _expected(cli, args)
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "link.out", "real.out"]


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_output_into_a_fifo_is_written_in_place(command, cli, tmp_path, plan_and_spec):
    args = WRITERS[command](*plan_and_spec)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    try:
        code, _, err = cli(*args, "-o", fifo)
    finally:
        if reader.is_alive() and not received:
            # The command never opened the FIFO: let the reader see end of file.
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=60)
    assert code in (0, 1), err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received == [_expected(cli, args)]


@pytest.mark.skipif(os.geteuid() != 0, reason="creating a device node needs root")
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_output_to_a_device_never_replaces_it(command, cli, tmp_path, plan_and_spec):
    args = WRITERS[command](*plan_and_spec)
    # A null device of our own in the temp folder: the real /dev/null is never touched.
    device = tmp_path / "null"
    os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    before = device.stat()
    code, _, err = cli(*args, "-o", device)
    assert code in (0, 1), err
    after = device.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_mode == before.st_mode
    assert after.st_rdev == before.st_rdev and after.st_ino == before.st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inputs", "null"]


def test_fmt_rewrites_through_a_symlink_keeping_the_mode(cli, tmp_path):
    real = tmp_path / "real.kostyor"
    real.write_text("tiers a\norder o {\n project p {\n    s   on a\n  }\n}\n")
    real.chmod(0o600)
    link = tmp_path / "spec.kostyor"
    link.symlink_to(real)
    code, _, err = cli("fmt", link)
    assert code == 0, err
    assert link.is_symlink()
    assert real.read_text() == "tiers a\n\norder o {\n  project p {\n    s  on a\n  }\n}\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600


# ---------------------------------------------------------------- usage and help (issue 9, item 10)


@pytest.mark.parametrize(
    "args",
    [
        ("diff", "a.yaml", "b.yaml", "--bogus"),
        ("compile", "kostyor", "-i", "inv.yaml", "--bogus"),
        ("status", "RUN", "--verbose"),
        ("graph", "plan.yaml", "--colour"),
    ],
)
def test_unknown_option_shows_the_commands_usage(cli, args):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.startswith(f"usage: kostyorc {args[0]} "), err
    assert f"kostyorc {args[0]}: error: unrecognized arguments: {args[-1]}" in err


def test_runtime_and_graph_options_are_explained(cli):
    helps = {}
    for command in ("status", "runs", "cancel", "worker", "graph"):
        code, out, _ = cli(command, "--help")
        assert code == 0
        helps[command] = " ".join(out.split())
    assert "Only reads the run record" in helps["status"] and "Exit status" in helps["status"]
    assert "--format {text,json} text for people" in helps["status"]
    assert "oldest first" in helps["runs"] and "creates nothing" in helps["runs"]
    assert "cannot be resumed" in helps["cancel"] and "--now also terminate" in helps["cancel"]
    assert "--concurrency N how many steps this worker runs at once" in helps["worker"]
    assert "prefork, a process per slot" in helps["worker"]
    assert "dot: Graphviz" in helps["graph"] and "mermaid: a flowchart" in helps["graph"]


NO_BROKER = {"KOSTYOR_HOME": "", "KOSTYOR_BROKER_URL": "", "KOSTYOR_BACKEND_URL": ""}


def test_status_of_an_unknown_run_hints_at_the_broker_and_creates_nothing(tmp_path):
    result = run_kostyorc("status", "r-20261202-abc", cwd=tmp_path, env=NO_BROKER)
    assert result.returncode == 1, result.stderr
    assert "no run 'r-20261202-abc'" in result.stderr
    assert "hint:" in result.stderr and "--broker" in result.stderr
    assert "KOSTYOR_BROKER_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no .kostyor/ made by a read-only command


def test_runs_with_none_hints_at_the_broker_and_creates_nothing(tmp_path):
    result = run_kostyorc("runs", cwd=tmp_path, env=NO_BROKER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("no runs in ")
    assert "--broker" in result.stderr and "KOSTYOR_BROKER_URL" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_error_messages_never_carry_control_characters(cli, tmp_path):
    plan = tmp_path / "plan\x1b[2J.yaml"
    plan.write_text("steps: [\n")
    code, _, err = cli("explain", plan, "--host", "a")
    assert code == 1 and "\x1b" not in err
    assert "plan\\x1b[2J.yaml" in err


@pytest.mark.parametrize(
    "bad", ["\x1b[2J", "\x00", "\x08", "\x0b", "\x0c", "\r", "\x1f", "\x7f", "\x9b", "\u2028"]
)
def test_status_text_escapes_every_control_character_of_a_document(bad):
    """`kostyorc status` looks at the document's JSON text first; whatever the
    character, in a value deep inside, it is escaped as printable() escapes it."""
    from kostyor_dsl.cli.runtime_commands import _printable_document
    from kostyor_dsl.language.printable import printable

    clean = {"steps": [{"id": "a@b", "hosts": ["b"], "error": "tab\tand\nline", "n": 1.5}]}
    assert _printable_document(clean) is clean
    dirty = {"steps": [{"id": "a@b", "hosts": ["b"], "error": f"x{bad}y", "n": None}]}
    shown = _printable_document(dirty)
    assert shown["steps"][0]["error"] == printable(f"x{bad}y") != f"x{bad}y"
    assert (
        _printable_document({"s": "a backslash \\u001b is text"})["s"]
        == "a backslash \\u001b is text"
    )
