"""docs/simulate.md shows real output: its example is run again and compared."""

from __future__ import annotations

from support import EXAMPLES, ROOT

DOC = ROOT / "docs" / "simulate.md"
COMMAND = "$ kostyorc simulate rolling.json --timings examples/timings/small-cloud-timings.yaml --plot docs/simulate-example.png"


def documented_output() -> str:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(COMMAND) + 1
    end = lines.index("```", start)
    return "\n".join(lines[start:end]) + "\n"


def test_the_example_output_is_what_simulate_prints(cli, tmp_path):
    plan = tmp_path / "rolling.json"
    code, _, err = cli(
        "compile",
        "kostyor",
        "-i",
        EXAMPLES / "small-cloud.yaml",
        "-s",
        "rolling-computes",
        "--format",
        "json",
        "-o",
        plan,
    )
    assert code == 0, err
    code, out, err = cli(
        "simulate", plan, "--timings", EXAMPLES / "timings" / "small-cloud-timings.yaml"
    )
    assert (code, err) == (0, "")
    assert out == documented_output()


def test_the_picture_is_there():
    assert (ROOT / "docs" / "simulate-example.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "](simulate-example.png)" in DOC.read_text(encoding="utf-8")


def test_the_diff_example_is_what_diff_prints(cli, tmp_path, monkeypatch):
    text = DOC.read_text(encoding="utf-8")
    spec = text.split("Say the team considers", 1)[1].split("```\n", 2)[1]
    (tmp_path / "ramp.kostyor").write_text(spec, encoding="utf-8")
    lines = text.splitlines()
    start = lines.index(
        "$ kostyorc diff rolling.json ramp.json --timings examples/timings/small-cloud-timings.yaml"
    )
    documented = lines[start + 1 : start + 5]
    monkeypatch.chdir(tmp_path)
    inventory = EXAMPLES / "small-cloud.yaml"
    for args in (
        ("kostyor", "-s", "rolling-computes", "-o", "rolling.json"),
        ("ramp.kostyor", "-s", "slower-ramp", "-o", "ramp.json"),
    ):
        code, _, err = cli("compile", args[0], "-i", inventory, "--format", "json", *args[1:])
        assert code == 0, err
    timings = EXAMPLES / "timings" / "small-cloud-timings.yaml"
    code, out, _ = cli("diff", "rolling.json", "ramp.json", "--timings", timings)
    assert code == 1
    assert out.splitlines()[:4] == documented
