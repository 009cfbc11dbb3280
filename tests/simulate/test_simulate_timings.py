"""The timings file: its precedence, and a clear error for every mistake."""

from __future__ import annotations

import json
from importlib.resources import files

import jsonschema
import pytest
from simulate_support import hook, plan_of, upgrade

from kostyor_dsl.simulate import Timings, TimingsError, read_timings, simulate_plan
from kostyor_dsl.simulate.timings import Durations, parse_timings

TIMINGS = """\
default: 30
gate: 600
services:
  nova-compute: 300
  nova-api: 90
actions:
  evacuate: 900
hosts:
  "cmp-slow-*":
    default: 45
    services:
      nova-compute: 420
  "cmp-*": 40
  "ctl-*":
    actions:
      evacuate: 1
"""


def seconds_of(timings: Timings, step: dict) -> float:
    return Durations(timings).of(step["kind"], step, tuple(step.get("hosts") or ()))


def test_precedence_host_and_name_then_name_then_host_default_then_default():
    timings = parse_timings(TIMINGS, "t.yaml")
    # The first matching glob that names the service.
    assert seconds_of(timings, upgrade("nova-compute", "cmp-slow-1")) == 420
    # `services` beats a matching glob's default.
    assert seconds_of(timings, upgrade("nova-compute", "cmp-1")) == 300
    assert seconds_of(timings, upgrade("nova-api", "cmp-slow-1")) == 90
    # A glob's default beats the file's default; the first matching glob decides.
    assert seconds_of(timings, upgrade("neutron-openvswitch-agent", "cmp-slow-1")) == 45
    assert seconds_of(timings, upgrade("neutron-openvswitch-agent", "cmp-2")) == 40
    assert seconds_of(timings, upgrade("glance-api", "ctl-1")) == 30
    # Actions: hooks by their action, a host glob first.
    assert seconds_of(timings, hook("before", "evacuate", "cmp-1")) == 900
    assert seconds_of(timings, hook("before", "evacuate", "ctl-1")) == 1
    assert seconds_of(timings, hook("before", "drain", "cmp-1")) == 40


def test_a_step_on_several_hosts_takes_as_long_as_its_slowest_host():
    timings = parse_timings(TIMINGS, "t.yaml")
    step = {**upgrade("neutron-openvswitch-agent", "x"), "hosts": ["ctl-1", "cmp-slow-2", "cmp-1"]}
    assert seconds_of(timings, step) == 45


def test_a_timings_file_times_a_plan(tmp_path):
    path = tmp_path / "timings.json"
    path.write_text(json.dumps({"default": 10, "services": {"nova-compute": 100}}))
    plan = plan_of([upgrade("nova-api", "a"), upgrade("nova-compute", "a")])
    result = simulate_plan(plan, read_timings(str(path)), 2)
    assert result.duration == 110
    assert result.timings.source == "timings.json"
    # An explicit --step-seconds wins over the file's default, and only over that.
    assert simulate_plan(plan, read_timings(str(path), step_seconds=1), 2).duration == 101


def test_the_schema_accepts_the_documented_example():
    import yaml

    schema = json.loads((files("kostyor_dsl") / "schemas" / "timings.schema.json").read_text())
    jsonschema.validate(yaml.safe_load(TIMINGS), schema)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "default: fast\n",
            "t.yaml:1:10: default: expected a number of seconds (0 to 31536000, a year), found str 'fast'",
        ),
        (
            "default: -1\n",
            "t.yaml:1:10: default: expected a number of seconds (0 to 31536000, a year), found int -1",
        ),
        (
            "default: true\n",
            "t.yaml:1:10: default: expected a number of seconds (0 to 31536000, a year), found bool True",
        ),
        (
            "services:\n  nova-api: 10\n  nova-api: 20\n",
            "t.yaml:3:3: services: 'nova-api' is given twice (first at line 2)",
        ),
        ("servces: {}\n", "t.yaml:1:1: unknown key 'servces'\n  hint: did you mean 'services'?"),
        ("services: [1, 2]\n", "t.yaml:1:11: services: expected a mapping, found a list"),
        (
            "hosts:\n  cmp-*:\n    defualt: 3\n",
            "t.yaml:3:5: hosts.cmp-*: unknown key 'defualt'\n  hint: did you mean 'default'?",
        ),
        ("- 1\n", "t.yaml:1:1: timings: expected a mapping, found a list"),
        ("", "t.yaml: empty timings file (expected a mapping)"),
        ("format: kostyor-timings/9\n", "t.yaml:1:9: format: expected 'kostyor-timings/1'"),
    ],
)
def test_every_mistake_names_the_line_and_column(text, expected):
    with pytest.raises(TimingsError) as caught:
        parse_timings(text, "t.yaml")
    assert str(caught.value) == expected


def test_yaml_that_does_not_parse_names_where():
    # The words are libyaml's or PyYAML's, whichever is installed.
    with pytest.raises(TimingsError, match=r"^t\.yaml:2:1: not YAML or JSON \(.+\)$"):
        parse_timings("default: [\n", "t.yaml")


def test_all_mistakes_are_reported_at_once():
    with pytest.raises(TimingsError) as caught:
        parse_timings("default: x\ngate: y\n", "t.yaml")
    assert str(caught.value).splitlines() == [
        "t.yaml:1:10: default: expected a number of seconds (0 to 31536000, a year), found str 'x'",
        "t.yaml:2:7: gate: expected a number of seconds (0 to 31536000, a year), found str 'y'",
    ]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(TimingsError, match=r"nothere.yaml: no such file"):
        read_timings(str(tmp_path / "nothere.yaml"))


def test_the_shipped_example_follows_the_schema_and_reads():
    import yaml
    from support import EXAMPLES

    schema = json.loads((files("kostyor_dsl") / "schemas" / "timings.schema.json").read_text())
    for path in sorted((EXAMPLES / "timings").glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
        assert read_timings(str(path)).services
