from __future__ import annotations

import random
import re
import shutil

import pytest
from review_support import DATA, ROOT, check_golden

from kostyor_dsl.language.diagnostics import CompileError
from kostyor_dsl.language.parser import parse_spec
from kostyor_dsl.review.fmt import format_spec

SPECS = sorted(
    {
        *(ROOT / "kostyor_dsl" / "specs").glob("*.kostyor"),
        *(ROOT / "examples").glob("*.kostyor"),
        *(ROOT / "tests").rglob("*.kostyor"),
    }
)


def _parses(text: str, name: str) -> bool:
    try:
        parse_spec(text, name)
    except CompileError:
        return False
    return True


def test_sweep_covers_the_project_specs():
    names = {p.name for p in SPECS}
    assert {"kostyor.kostyor", "team.kostyor", "messy.kostyor", "spec.kostyor"} <= names


@pytest.mark.parametrize("path", SPECS, ids=lambda p: str(p.relative_to(ROOT)))
def test_fmt_keeps_meaning_and_comments_and_is_idempotent(path):
    text = path.read_text(encoding="utf-8")
    name = path.name
    if not _parses(text, name):
        with pytest.raises(CompileError):
            format_spec(text, name)
        return
    formatted = format_spec(text, name)
    before, after = parse_spec(text, name), parse_spec(formatted, name)
    assert after == before
    assert [c.text.rstrip() for c in after.comments] == [c.text.rstrip() for c in before.comments]
    assert format_spec(formatted, name) == formatted


def test_shipped_spec_and_examples_are_formatted():
    for path in [
        *(ROOT / "kostyor_dsl" / "specs").glob("*.kostyor"),
        *(ROOT / "examples").glob("*.kostyor"),
    ]:
        text = path.read_text(encoding="utf-8")
        assert format_spec(text, path.name) == text, f"{path} is not in canonical layout"


def test_messy_spec_golden():
    formatted = format_spec((DATA / "messy.kostyor").read_text(encoding="utf-8"), "messy.kostyor")
    check_golden("fmt-messy", "formatted.kostyor", formatted)
    assert "\t" not in formatted and "\n\n\n" not in formatted
    assert "  keystone-wsgi-admin   on controller  # admin first\n" in formatted
    assert "    # comment before the closing brace\n  }\n" in formatted
    assert '"ssh {host} # not a comment"  # but this is' in formatted


def test_crlf_and_missing_final_newline():
    text = "tiers a, b\r\norder o {\r\n  project p {\r\n    s on a\r\n  }\r\n}"
    formatted = format_spec(text, "x.kostyor")
    assert formatted == "tiers a, b\n\norder o {\n  project p {\n    s  on a\n  }\n}\n"
    assert parse_spec(formatted, "x.kostyor") == parse_spec(text, "x.kostyor")


def test_blank_lines_between_blocks_are_enforced():
    text = "order o {\nproject p {\ns on a\n}\nproject q {\nt on a\n}\n}\n# lead\nstrategy s {\nengine node-by-node\n}\n"
    assert format_spec(text, "x.kostyor") == (
        "order o {\n  project p {\n    s  on a\n  }\n\n  project q {\n    t  on a\n  }\n}\n\n"
        "# lead\nstrategy s {\n  engine  node-by-node\n}\n"
    )


def test_cli_check_diff_and_rewrite(cli, tmp_path):
    messy = tmp_path / "messy.kostyor"
    shutil.copy(DATA / "messy.kostyor", messy)
    original = messy.read_text()
    shipped = ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor"
    assert cli("fmt", "--check", shipped)[0] == 0
    code, out, err = cli("fmt", "--check", shipped, messy)
    assert code == 1 and f"{messy}: not formatted" in err and out == ""
    code, out, _ = cli("fmt", "--diff", messy)
    assert (
        code == 1
        and out.startswith(f"--- {messy} (original)")
        and "+    nova-api      on controller" in out
    )
    assert messy.read_text() == original
    code, _, err = cli("fmt", messy)
    assert code == 0 and f"formatted {messy}" in err
    assert messy.read_text() == format_spec(original, "messy.kostyor")
    assert cli("fmt", "--check", messy)[0] == 0


def test_cli_bad_spec_is_an_error_and_untouched(cli, tmp_path):
    bad = tmp_path / "bad.kostyor"
    bad.write_text("order o {\n  project p {\n    nova-api\n  }\n}\n")
    code, _, err = cli("fmt", bad)
    assert code == 2 and "error[K002]" in err
    assert bad.read_text() == "order o {\n  project p {\n    nova-api\n  }\n}\n"
    assert cli("fmt", "--check", tmp_path / "missing.kostyor")[0] == 2


def _perturb(text: str, rng: random.Random) -> str:
    """The same spec with its layout scrambled: indents, spaces, commas, blank lines."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            out.extend([""] * rng.randint(1, 3))
            continue
        if '"' in line:  # leave strings (and what follows them) alone
            out.append(rng.choice(["", " ", "\t"]) + line.strip())
            continue
        code, sep, comment = line.partition("#")
        words = code.split()
        code = "".join(w + rng.choice([" ", "  ", "\t", "   "]) for w in words).rstrip()
        code = re.sub(r"\s*,\s*", lambda _: rng.choice([",", ", ", " ,", " ,  "]), code)
        indent = rng.choice(["", " ", "    ", "\t", "        "])
        trailing = rng.choice(["", " ", "\t"])
        joined = (
            f"{code}{rng.choice([' ', '   '])}{sep}{comment}"
            if sep and code
            else f"{code}{sep}{comment}"
        )
        out.append(indent + joined + trailing)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("seed", range(5))
def test_scrambled_layouts_come_back_canonical(seed):
    rng = random.Random(seed)
    canonical = [
        ROOT / "kostyor_dsl" / "specs" / "kostyor.kostyor",
        ROOT / "examples" / "team.kostyor",
        ROOT / "tests" / "review" / "golden" / "fmt-messy" / "formatted.kostyor",
    ]
    for path in canonical:
        text = path.read_text(encoding="utf-8")
        scrambled = _perturb(text, rng)
        assert scrambled != text
        assert format_spec(scrambled, path.name) == text, path.name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("# only a comment", "# only a comment\n"),
        ("\n\n# c1\n\n\n# c2\n", "# c1\n\n# c2\n"),
        ("order o {  # open\n}  # close\n", "order o {  # open\n}  # close\n"),
        ("strategy s {\n    # nothing yet\n}\n", "strategy s {\n  # nothing yet\n}\n"),
        ("strategy s {\n pre-upgrade {\n }\n}\n", "strategy s {\n  pre-upgrade {\n  }\n}\n"),
        (
            "order o {\n\n  # first\n\n  project p { # p\n  s on a # s\n  } # end p\n}\n",
            "order o {\n  # first\n\n  project p {  # p\n    s  on a  # s\n  }  # end p\n}\n",
        ),
    ],
)
def test_edge_cases(text, expected):
    assert format_spec(text, "x.kostyor") == expected


def test_cli_unreadable_inputs_are_errors(cli, tmp_path):
    binary = tmp_path / "binary.kostyor"
    binary.write_bytes(b"\xff\xfe\x00order")
    code, _, err = cli("fmt", "--check", binary)
    assert code == 2 and "it is not UTF-8 text" in err
    code, _, err = cli("fmt", tmp_path)
    assert code == 2 and str(tmp_path) in err


# Characters str.splitlines breaks lines at and the parser does not (issue 9 item 12,
# issue 15 item 3): a comment holding one used to shift every later line.
LINE_BREAKERS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("char", LINE_BREAKERS, ids=lambda c: f"U+{ord(c):04X}")
def test_comments_with_other_line_breaks_keep_their_place(char):
    text = (
        f'tiers a\n# x{char}y\nimport "base.kostyor"\norder o {{\n  project p {{\n'
        f"    s on a  # z{char}w\n  }}\n}}\n\nstrategy s {{\n  engine  node-by-node\n}}\n"
    )
    formatted = format_spec(text, "x.kostyor")
    assert parse_spec(formatted, "x.kostyor") == parse_spec(text, "x.kostyor")
    assert f'# x{char}y\nimport "base.kostyor"\n' in formatted
    assert f"    s  on a  # z{char}w\n" in formatted
    assert format_spec(formatted, "x.kostyor") == formatted


def test_block_openers_are_not_aligned_with_settings():
    text = (
        "strategy s {\n  engine node-by-node\n  driver shell {\n    timeout 1\n  }\n"
        "  hosts network {\n    batch 1, 2\n    after enable-scheduling\n"
        "    before disable-scheduling\n    before evacuate {\n      timeout 30m\n    }\n"
        "  }\n  service nova-compute {\n    before drain {\n      timeout 1\n    }\n  }\n}\n"
    )
    assert format_spec(text, "x.kostyor") == (
        "strategy s {\n  engine  node-by-node\n  driver shell {\n    timeout  1\n  }\n"
        "  hosts network {\n    batch   1, 2\n    after   enable-scheduling\n"
        "    before  disable-scheduling\n    before  evacuate {\n      timeout  30m\n    }\n"
        "  }\n  service nova-compute {\n    before drain {\n      timeout  1\n    }\n  }\n}\n"
    )


def test_a_byte_order_mark_is_dropped(cli, tmp_path):
    assert format_spec("\ufefftiers a,b\n", "x.kostyor") == "tiers a, b\n"
    path = tmp_path / "bom.kostyor"
    path.write_text("\ufefftiers a, b\n", encoding="utf-8")
    code, _, err = cli("fmt", "--check", path)
    assert code == 1 and "not formatted" in err
    assert cli("fmt", path)[0] == 0
    assert path.read_bytes() == b"tiers a, b\n"


def test_cli_diff_exits_1_when_there_is_a_diff(cli, tmp_path):
    path = tmp_path / "x.kostyor"
    path.write_text("tiers a,b\n")
    code, out, _ = cli("fmt", "--diff", path)
    assert code == 1 and "+tiers a, b" in out
    path.write_text("tiers a, b\n")
    assert cli("fmt", "--diff", path) == (0, "", "")


def test_a_formatter_bug_is_refused_not_written(cli, tmp_path, monkeypatch):
    from kostyor_dsl.review import fmt

    path = tmp_path / "x.kostyor"
    original = "tiers a,b\n"
    path.write_text(original)
    monkeypatch.setattr(fmt._Writer, "render", lambda self: "tiers a\n")
    with pytest.raises(fmt.FormatterBug, match="parses to a different spec"):
        format_spec(original, "x.kostyor")
    for args in (["fmt", path], ["fmt", "--check", path], ["fmt", "--diff", path]):
        code, out, err = cli(*args)
        assert code == 2 and out == ""
        assert "internal error" in err and "please report it" in err
        assert "Traceback" not in err
    assert path.read_text() == original
    monkeypatch.setattr(fmt._Writer, "render", lambda self: "tiers {\n")
    with pytest.raises(fmt.FormatterBug, match="does not parse"):
        format_spec(original, "x.kostyor")

    def crash(self):
        raise KeyError(3)

    monkeypatch.setattr(fmt._Writer, "render", crash)
    code, _, err = cli("fmt", "--check", path)
    assert code == 2 and "internal error" in err
    assert path.read_text() == original


def test_deep_nesting_is_an_error_not_a_crash(cli, tmp_path):
    path = tmp_path / "deep.kostyor"
    path.write_text("strategy s {\n" + "a {\n" * 300 + "}\n" * 301)
    code, _, err = cli("fmt", path)
    assert code == 2 and "error[K005]" in err and "Traceback" not in err
