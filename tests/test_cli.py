"""`kostyorc` as a user runs it: help, version, exit codes, no tracebacks."""

from __future__ import annotations

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
    # No usable cache folder: no cache, still no failure.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run_kostyorc("check", "kostyor", env={"XDG_CACHE_HOME": str(blocker)})
    assert result.returncode == 0, result.stderr
