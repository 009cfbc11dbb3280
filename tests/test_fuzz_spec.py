"""Fuzzing spec text, `check` and `fmt`: a diagnostic or success, never a traceback.

Hypothesis generates spec texts (a soup of the language's tokens and of the
characters that broke it before, and edits of a valid spec), derandomized so
CI runs the same examples every time, and bounded to a few seconds.  Every
crash found by the fault hunts of issues 9 and 15 is an explicit example.
"""

from __future__ import annotations

import contextlib
import io
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kostyor_dsl.cli import main
from kostyor_dsl.compiler import check
from kostyor_dsl.language.diagnostics import CompileError, render_json, render_text
from kostyor_dsl.language.parser import parse_spec
from kostyor_dsl.language.sarif import render_sarif
from kostyor_dsl.review.fmt import format_spec

BIG = "9" * 4301
VALID = """import kostyor
actions drain-l3

# a comment
strategy mine extends rolling-computes {
  driver shell {
    command  "ssh {host} sudo systemctl restart {service}"
    timeout  600
  }
  hosts compute {
    batch              1, 2, 25%
    max-failed-hosts   10%
    before             none
    before             evacuate {
      timeout  30m
    }
  }
  service neutron-l3-agent {
    before  drain-l3
  }
}
"""
TOKENS = [
    *"import tiers actions order project on strategy default extends".split(),
    *"engine node-by-node service-by-service driver shell noop shel hosts service".split(),
    *"batch before after none evacuate drain pause-after-batch max-failed-hosts".split(),
    *"max-failed-hosts-per-batch pre-upgrade post-upgrade timeout unknown-services".split(),
    *"warn error x nova-api nova-compute controller compute storage kostyor".split(),
    "{", "}", "{\n", "}\n", ",", "\n", "\r\n", "\r", " ", "  ", "\t", "#", "# c", "=",
    '"', '"s"', '"a\\"b"', '"base.kostyor"', '"../x.kostyor"', '"/etc/passwd"', "\\",
    "1", "0", "00", "0" * 4400 + "1", "1.5", "0.5", "20%", "120%", "0%", "30m", "5s", "name=cmp-*", "rack=r1",
    "\x0c", "\x0b", "\x1c", "\x85", "\u2028", "\u2029", "\ufeff", "\x00", "\x1b[2J",
    "'", ";", ":", "é", BIG, "1" * 16,
]  # fmt: skip


@st.composite
def _edited(draw) -> str:
    """The valid spec with a few tokens inserted and spans deleted."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 12)) :]
    return text


SPEC_TEXT = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    _edited(),
    st.text(max_size=30),
)

# Every crash the fault hunts found, as text (issue 9 items 6, 9, 12; issue 15 items 3, 8, 9).
STRATEGY_HEAD = "import kostyor\nstrategy s extends node-by-node {\n"
CRASHES = [
    STRATEGY_HEAD + "  hosts compute {\n    batch 1.5\n  }\n}\n",
    STRATEGY_HEAD + "  hosts compute {\n    max-failed-hosts 1.5\n  }\n}\n",
    STRATEGY_HEAD + "  hosts compute {\n    max-failed-hosts-per-batch 0.5\n  }\n}\n",
    STRATEGY_HEAD + "  hosts compute {\n    pause-after-batch 1.5\n  }\n}\n",
    STRATEGY_HEAD + f"  hosts compute {{\n    batch {BIG}\n  }}\n}}\n",
    STRATEGY_HEAD + f"  hosts compute {{\n    max-failed-hosts {BIG}\n  }}\n}}\n",
    STRATEGY_HEAD + f"  hosts compute {{\n    pause-after-batch {BIG}\n  }}\n}}\n",
    STRATEGY_HEAD + f"  driver shell {{\n    timeout {BIG}\n  }}\n}}\n",
    STRATEGY_HEAD + '  driver shell {\n    timeout 600\n    timeout "10"\n  }\n}\n',
    "strategy s {\n" + "a {\n" * 300 + "}\n" * 301,
    'import "' + "a" * 300 + '.kostyor"\n',
    'import "a\0b.kostyor"\n',
    'import "/etc/passwd"\nimport "../../etc/passwd"\n',
    "tiers a\n# x\x0cy\norder o {\n  project p {\n    s on a\n  }\n}\nstrategy s {\n}\n",
    'tiers a\n# x\u2028y\nimport "base.kostyor"\norder o {\n  project p {\n    s on a\n  }\n}\n',
    "order o {\n  project p {\n    a on controller\n  project q {\n    b on controller\n  }\n}\n",
    'strategy s {\n  driver shell {\n    command "ssh\n  }\n}\n',
    "\ufeff" + VALID,
    "import kostyor\nstrategy gentle extends rolling-computes {\n"
    "  hosts compute {\n    batch 1, 2, 25%\n  }\n}\n",
]
# Seconds, not milliseconds: through the library only.
LONG_CHAIN = (
    "import kostyor\n"
    + "".join(f"strategy s{i} extends s{i - 1} {{\n}}\n" for i in range(1, 2001))
    + "strategy s0 {\n}\n"
)
CODE = re.compile(r"K\d{3}")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _write(root, text: str):
    path = root / "spec.kostyor"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


def _with_examples(*texts):
    def decorate(test):
        for text in texts:
            test = example(text)(test)
        return test

    return decorate


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(SPEC_TEXT)
@_with_examples(*CRASHES, LONG_CHAIN)
def test_check_and_fmt_give_diagnostics_or_success(root, text):
    report = check(str(_write(root, text)))
    for d in report.diagnostics:
        assert CODE.fullmatch(d.code), d
        assert d.span is not None or d.subject, d
    render_text(report.diagnostics, report.sources)
    json.loads(render_json(report.diagnostics))
    json.loads(render_sarif(report.diagnostics, report.sources))
    try:
        formatted = format_spec(text, "spec.kostyor")
    except CompileError as exc:
        assert exc.diagnostics and all(d.is_error for d in exc.diagnostics)
        return
    assert parse_spec(formatted, "spec.kostyor") == parse_spec(text, "spec.kostyor")
    assert format_spec(formatted, "spec.kostyor") == formatted


def _kostyorc(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(SPEC_TEXT)
@_with_examples(*CRASHES)
def test_the_cli_gives_diagnostics_or_success(root, text):
    path = _write(root, text)
    for fmt in ("text", "json", "sarif"):
        code, out, err = _kostyorc("check", path, "--diagnostics-format", fmt, "--color", "never")
        assert code in (0, 1), err
        if fmt != "text":
            json.loads(out)
    code, _, err = _kostyorc("fmt", "--check", path)
    assert code in (0, 1, 2) and "internal error" not in err, err
    if code == 2:
        assert "error[K" in err or "kostyorc: error:" in err
    code, _, err = _kostyorc("fmt", path)
    assert code in (0, 2) and "internal error" not in err, err
    if code == 0:
        assert _kostyorc("fmt", "--check", path)[0] == 0
