"""Inventory diagnostics name the host, the service or field, and the line."""

from __future__ import annotations

import json

import pytest
from support import KOSTYOR_SPEC

from kostyor_dsl.compiler import check, compile_plan
from kostyor_dsl.inventory.read import _scan_hosts, _validator, parse_inventory
from kostyor_dsl.language.diagnostics import render_text

SPEC = str(KOSTYOR_SPEC)

BAD_DOCUMENTS = {
    "host without services": (
        "hosts:\n  - name: a\n    services: [nova-api]\n  - name: b\n",
        ("K040", 4, 5, "host 'b'", "'services' is a required property"),
    ),
    "services not a list": (
        "hosts:\n  - name: a\n    services: nova-api\n",
        ("K040", 3, 15, "host 'a'", "is not of type 'array'"),
    ),
    "unknown host field": (
        "hosts:\n  - name: a\n    services: []\n    role: compute\n",
        ("K040", 2, 5, "host 'a'", "Additional properties are not allowed ('role'"),
    ),
    "empty service name": (
        "hosts:\n  - name: a\n    services: [nova-api, '']\n",
        ("K040", 3, 26, "host 'a', service ''", "should be non-empty"),
    ),
    "hosts missing": (
        "cluster: x\n",
        ("K040", 1, 1, None, "'hosts' is a required property"),
    ),
    "label not scalar": (
        "hosts:\n  - name: a\n    services: []\n    labels: {rack: [1]}\n",
        ("K040", 4, 20, "host 'a'", "is not valid under any of the given schemas"),
    ),
    "not yaml": (
        "hosts:\n  - name: a\n   services: [x\n",
        ("K043", 3, 4, None, "inventory is not valid YAML or JSON"),
    ),
    # issue 15, items 7 and 8; issue 9, items 5, 9 and 12
    "a list as a service": (
        "hosts:\n  - name: a\n    services: [[nova-api]]\n",
        ("K040", 3, 16, "host 'a', service '['nova-api']'", "is not of type 'string'"),
    ),
    "a label key that is not a string": (
        "hosts:\n  - name: a\n    services: []\n    labels: {1: x}\n",
        ("K043", 4, 14, None, "key '1' is read as !!int: keys must be strings (quote it)"),
    ),
    "a list as a key": (
        "hosts:\n  - name: a\n    services: []\n    labels: {[r]: x}\n",
        ("K043", 4, 14, None, "a key must be a string, not a list or a mapping"),
    ),
    "a timestamp tag": (
        "hosts:\n  - name: a\n    services: []\n    labels: {built: !!timestamp 2024-01-01}\n",
        ("K043", 4, 21, None, "YAML tag '!!timestamp' is not allowed"),
    ),
    "a python tag": (
        "hosts:\n  - name: !!python/object/apply:os.system [id]\n    services: []\n",
        ("K043", 2, 11, None, "YAML tag '!!python/object/apply:os.system' is not allowed"),
    ),
    "a merge key": (
        "hosts:\n  - <<: {name: a}\n    services: []\n",
        ("K043", 2, 5, None, "merge keys (<<) are not allowed"),
    ),
    "an anchor": (
        "hosts:\n  - name: a\n    services: &s [nova-api]\n  - name: b\n    services: *s\n",
        ("K043", 3, 15, None, "YAML anchor '&s': anchors and aliases are not allowed"),
    ),
    "JSON 3,000 deep": (
        '{"hosts": ' + "[" * 3000 + "]" * 3000 + "}",
        ("K043", 1, 110, None, "nested more than 100 levels deep"),
    ),
    "YAML 500 deep": (
        "hosts: " + "[" * 500 + "]" * 500 + "\n",
        ("K043", 1, 107, None, "nested more than 100 levels deep"),
    ),
    "a list at the top": (
        "- name: a\n  services: []\n",
        ("K040", 1, 1, None, "(top level): the document is a list, not a mapping with `hosts:`"),
    ),
    "an empty file": ("", ("K040", 1, 1, None, "inventory 'inv.yaml' is empty")),
    "only comments": ("# hosts: later\n", ("K040", 1, 1, None, "inventory 'inv.yaml' is empty")),
    "a host name ssh reads as an option": (
        "hosts:\n  - name: '-oProxyCommand=touch /tmp/PWN'\n    services: [nova-api]\n",
        (
            "K046",
            2,
            11,
            "host '-oProxyCommand=touch /tmp/PWN'",
            "invalid host name '-oProxyCommand=touch /tmp/PWN': a host name must not start with '-'",
        ),
    ),
    "a host name with an escape sequence": (
        'hosts:\n  - name: "x\\e]0;pwned\\a"\n    services: [nova-api]\n',
        ("K046", 2, 11, "host 'x\\x1b]0;pwned\\x07'", "invalid host name 'x\\x1b]0;pwned\\x07'"),
    ),
    "a host name with a space": (
        "hosts:\n  - name: a b\n    services: [nova-api]\n",
        ("K046", 2, 11, "host 'a b'", "no whitespace or control character"),
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_bad_inventory_document(name, write):
    text, (code, line, col, subject, fragment) = BAD_DOCUMENTS[name]
    inv = write("inv.yaml", text)
    report = check(SPEC, str(inv))
    errors = [d for d in report.diagnostics if d.is_error]
    assert len(errors) == 1, render_text(report.diagnostics, report.sources)
    (d,) = errors
    assert (d.code, d.span.file, d.span.line, d.span.column) == (code, "inv.yaml", line, col), (
        render_text(errors, report.sources)
    )
    assert d.subject == subject
    assert fragment in d.message


def test_fast_validity_check_agrees_with_the_schema():
    import yaml

    for text, (code, *_) in BAD_DOCUMENTS.values():
        if code != "K040":  # the schema does not judge host names, keys or tags
            continue
        try:
            doc = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError):
            continue
        if doc is None:
            continue
        assert _scan_hosts(doc) is None
        assert list(_validator().iter_errors(doc))
    more_bad = [
        [],
        {"hosts": {}},
        {"hosts": [], "cluster": ""},
        {"hosts": [], "cluster": 3},
        {"hosts": [{"name": "a", "services": [1]}]},
        {"hosts": [{"name": "", "services": []}]},
        {"hosts": [{"name": "a", "services": [], "labels": []}]},
        {"hosts": [{"name": "a", "services": [], "labels": {"k": 1.5}}]},
        {"hosts": ["a"]},
        {"hosts": [], "extra": 1},
        {"hosts": [{"name": "a", "services": ["x"], "role": "compute"}]},
        {"hosts": [{"name": "a", "labels": {}}]},
        {"hosts": [{"name": "a", "services": ["x"], "labels": {"k": None}}]},
    ]
    for doc in more_bad:
        assert _scan_hosts(doc) is None, doc
        assert list(_validator().iter_errors(doc)), doc
    good = [
        {"hosts": []},
        {
            "cluster": "c",
            "hosts": [{"name": "a", "services": ["x"], "labels": {"r": "1", "n": 2, "b": True}}],
        },
    ]
    for doc in good:
        assert _scan_hosts(doc) is not None
        assert not list(_validator().iter_errors(doc))


def test_duplicate_host(write):
    inv = write(
        "inv.yaml",
        "hosts:\n- name: a\n  services: []\n- name: b\n  services: []\n- name: a\n  services: []\n",
    )
    report = check(SPEC, str(inv))
    (d,) = [d for d in report.diagnostics if d.is_error]
    assert d.code == "K041"
    assert (d.span.line, d.span.column) == (6, 9)
    assert d.subject == "host 'a'"
    assert d.labels[0].span.line == 2


def test_unknown_service_is_an_error_with_hint(write, cli):
    inv = write(
        "inv.yaml", "hosts:\n- name: ctl-1\n  services:\n  - nova-api\n  - nova-schedular\n"
    )
    report = check(SPEC, str(inv))
    (d,) = report.diagnostics
    assert (d.code, d.severity.value, d.span.line, d.span.column) == ("K042", "error", 5, 5)
    assert d.subject == "host 'ctl-1', service 'nova-schedular'"
    assert d.hints[0] == "did you mean 'nova-scheduler'?"
    code, out, err = cli("compile", SPEC, "-i", inv)
    assert code == 1 and out == ""
    assert "inv.yaml:5:5: host 'ctl-1', service 'nova-schedular': error[K042]" in err


def test_unknown_service_can_be_allowed(write, cli):
    inv = write("inv.yaml", "hosts:\n- name: ctl-1\n  services: [nova-api, my-agent]\n")
    compiled = compile_plan(SPEC, str(inv), allow_unknown_services=True)
    assert [s["id"] for s in compiled.plan["steps"]] == ["nova-api@ctl-1"]
    assert [w.code for w in compiled.warnings] == ["K042"]
    assert compiled.plan["warnings"] == [
        "K042 inv.yaml:3: host 'ctl-1' runs 'my-agent', which order 'openstack' does not know; "
        "it is not upgraded"
    ]
    code, out, err = cli("compile", SPEC, "-i", inv, "--allow-unknown-services")
    assert code == 0 and "warning[K042]" in err and "steps:" in out
    spec = write(
        "team.kostyor",
        "import kostyor\ndefault strategy lenient extends node-by-node {\n  unknown-services warn\n}\n",
    )
    compiled = compile_plan(str(spec), str(inv))
    assert [w.code for w in compiled.warnings] == ["K042"]


def test_service_twice_on_a_host(write):
    inv = write("inv.yaml", "hosts:\n- name: a\n  services: [nova-api, nova-api]\n")
    (d,) = check(SPEC, str(inv)).diagnostics
    assert d.code == "K045" and d.span.line == 3


def test_host_with_no_service_is_a_warning(write):
    inv = write(
        "inv.yaml", "hosts:\n- name: spare\n  services: []\n- name: c\n  services: [nova-compute]\n"
    )
    report = check(SPEC, str(inv))
    assert report.ok
    (d,) = report.diagnostics
    assert (d.code, d.severity.value, d.subject) == ("K044", "warning", "host 'spare'")


def test_json_inventory(write):
    doc = {
        "cluster": "c1",
        "hosts": [{"name": "n", "services": ["nova-compute"], "labels": {"rack": "r1"}}],
    }
    inv = write("inv.json", json.dumps(doc))
    plan = compile_plan(SPEC, str(inv)).plan
    assert plan["inputs"]["inventory"]["cluster"] == "c1"
    assert [s["id"] for s in plan["steps"]] == ["nova-compute@n"]
    bad = write("bad.json", '{"hosts": [{"name": "n", "services": "nova-compute"}]}')
    (d,) = check(SPEC, str(bad)).diagnostics
    assert d.code == "K040" and d.subject == "host 'n'" and d.span.line == 1


def test_missing_inventory_file(cli, tmp_path):
    code, _, err = cli("compile", SPEC, "-i", tmp_path / "nope.yaml")
    assert code == 1
    assert "error[K043]: cannot read inventory" in err and "No such file" in err


def test_parse_inventory_not_utf8():
    result = parse_inventory(b"\xff\xfe", "x.yaml")
    (d,) = result.diagnostics
    assert d.code == "K043" and "UTF-8" in d.message


def test_every_inventory_problem_is_reported_in_one_run(write):
    inv = write(
        "inv.yaml",
        "hosts:\n- name: a\n  services: [nova-schedular]\n- name: b\n  services: nova-compute\n"
        "- name: a\n  services: [glance-api]\n",
    )
    report = check(SPEC, str(inv))
    assert sorted((d.span.line, d.code) for d in report.diagnostics) == [
        (2, "K044"),  # a runs nothing the order knows: a warning on top of the error
        (3, "K042"),
        (5, "K040"),
        (6, "K041"),
    ]


@pytest.mark.parametrize("name", sorted(BAD_DOCUMENTS))
def test_bad_inventory_through_the_cli(name, write, cli):
    text, (code, line, col, subject, _) = BAD_DOCUMENTS[name]
    inv = write("inv.yaml", text)
    exit_code, out, err = cli("compile", SPEC, "-i", inv, "--color", "never")
    assert exit_code == 1 and out == ""
    assert "Traceback" not in err
    where = f"inv.yaml:{line}:{col}: " + (f"{subject}: " if subject else "")
    assert f"{where}error[{code}]" in err


def test_a_second_key_is_refused_naming_both_lines(write):
    # A second `hosts:` used to drop every host above it, silently (issue 15, item 7).
    inv = write(
        "inv.yaml",
        "hosts:\n  - name: a\n    services: [nova-api]\ncluster: c\nhosts:\n"
        "  - name: b\n    services: [nova-api]\n",
    )
    report = check(SPEC, str(inv))
    (d,) = report.diagnostics
    assert (d.code, d.span.file, d.span.line, d.span.column) == ("K043", "inv.yaml", 5, 1)
    assert "key 'hosts' appears twice in one mapping" in d.message
    assert [(label.span.line, label.message) for label in d.labels] == [(1, "first given here")]
    text = render_text(report.diagnostics, report.sources)
    assert "inv.yaml:5:1:" in text and "note: inv.yaml:1:1: first given here" in text


def test_a_second_key_in_json_is_refused_too(write):
    inv = write(
        "inv.json",
        '{\n  "hosts": [{"name": "a", "services": []}],\n  "hosts": []\n}\n',
    )
    (d,) = check(SPEC, str(inv)).diagnostics
    assert (d.code, d.span.line, d.span.column) == ("K043", 3, 3)
    assert "key 'hosts' appears twice" in d.message and d.labels[0].span.line == 2
    host_twice = write("host.json", '{"hosts": [{"name": "a", "name": "b", "services": []}]}')
    (d,) = check(SPEC, str(host_twice)).diagnostics
    assert d.code == "K043" and "key 'name' appears twice" in d.message


def test_a_date_is_read_as_the_text_written(write):
    inv = write(
        "inv.yaml",
        "hosts:\n  - name: a\n    services: [nova-api]\n    labels: {built: 2024-01-01}\n",
    )
    report = check(SPEC, str(inv))
    assert report.ok and report.inventory.hosts[0].labels == (("built", "2024-01-01"),)


def test_a_byte_order_mark_is_accepted(write):
    for name, text in (
        ("inv.yaml", "hosts:\n  - name: a\n    services: [nova-api, nova-apii]\n"),
        ("inv.json", '{"hosts": [{"name": "a", "services": ["nova-api", "nova-apii"]}]}'),
    ):
        path = write(name, "")
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        report = check(SPEC, str(path))
        (d,) = report.diagnostics  # read, and the columns are the user's
        assert d.code == "K042" and d.span.line == (3 if name == "inv.yaml" else 1)
        at = text.splitlines()[d.span.line - 1][d.span.column - 1 :]
        assert at.lstrip('"').startswith("nova-apii")


def test_no_hosts_is_a_warning_and_compile_still_writes_the_plan(write, cli):
    inv = write("inv.yaml", "cluster: new\nhosts: []\n")
    report = check(SPEC, str(inv))
    assert report.ok
    (d,) = report.diagnostics
    assert (d.code, d.severity.value, d.span.line, d.span.column) == ("K047", "warning", 2, 8)
    assert "inventory 'inv.yaml' lists no hosts: the plan has no upgrade steps" in d.message
    code, out, err = cli("compile", SPEC, "-i", inv)
    assert code == 0 and "warning[K047]" in err
    assert "- 'K047 inv.yaml:2: inventory ''inv.yaml'' lists no hosts" in out  # the plan says so


def test_invalid_host_names_are_left_out_of_later_checks(write):
    inv = write(
        "inv.yaml",
        "hosts:\n  - name: -x\n    services: [nova-apii]\n  - name: b\n    services: [nova-api]\n",
    )
    report = check(SPEC, str(inv))
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("K046", 2)]
    assert [h.name for h in report.inventory.hosts] == ["b"]


def test_every_example_and_fixture_inventory_is_still_valid():
    from support import ROOT

    folders = [ROOT / "examples", ROOT / "tests" / "review" / "data", ROOT / "bench"]
    paths = [p for f in folders for p in sorted(f.glob("*.y*ml"))]
    assert len(paths) >= 5
    for path in paths:
        report = check(SPEC, str(path), allow_unknown_services=True)
        assert not [d for d in report.diagnostics if d.code in ("K040", "K043", "K046")], path


def test_fast_name_check_agrees_with_host_name_problem():
    from kostyor_dsl.inventory.hostnames import host_name_problem
    from kostyor_dsl.inventory.read import _all_names_valid

    names = [
        "a", "node-1", "ctl.example.org", "x" * 63, "x" * 64, "-a", "a-", "a..b", ".a", "a.",
        "a_b", "é", "a b", "a\nb", "", "1", "a" + ".b" * 126, "a" + ".b" * 127, "-", "A-Z09",
        "a.-b", "a-.b", "a.b-", "a.b.", "..a", ".", "a\t", "x" * 63 + ".b", "x" * 64 + ".b",
        "b." + "x" * 64, "a--b", "0-0.1-1",
    ]  # fmt: skip
    for name in names:
        assert _all_names_valid({name}) == (host_name_problem(name) is None), repr(name)
    assert _all_names_valid({"a", "b"}) and not _all_names_valid({"a", "a\nb"})
    assert _all_names_valid(set()) and not _all_names_valid({"a", "-b", "c"})


def test_a_parameters_file_is_read_by_the_same_rules(tmp_path):
    from kostyor_dsl.runtime.drivers import load_parameters_file
    from kostyor_dsl.runtime.errors import ParameterError

    (tmp_path / "p.yaml").write_text("sleep: 1\ntimeout: 600\nsleep: 2\n")
    with pytest.raises(ParameterError, match=r"3:1: key 'sleep' appears twice .* at 1:1"):
        load_parameters_file(tmp_path / "p.yaml")


LOCATED_JSON = {
    "indented": lambda doc: json.dumps(doc, indent=2),
    "one line": lambda doc: json.dumps(doc),
    "odd spacing": lambda doc: json.dumps(doc, separators=(" ,\r\n ", " :   ")),
    "tabs and keys after hosts": lambda doc: (
        json.dumps({"hosts": doc["hosts"], "cluster": "c"})
        .replace(", ", ",\t")
        .replace("{", "{\n\t")
    ),
}


@pytest.mark.parametrize("layout", LOCATED_JSON)
def test_a_path_into_one_json_host_is_located_as_composing_the_whole_text(layout):
    """The Locator composes one host of a JSON document; its spans are the whole text's."""
    from kostyor_dsl.inventory.read import Locator, _compose

    doc = {
        "cluster": "c",
        "hosts": [
            {"name": f"h{i}", "services": ["nova-compute", "ovn-controller"][: i % 3]}
            | (
                {"labels": {"rack": "r1"}, "targets": {"nova-compute": ["nc", "x"]}}
                if i % 2
                else {}
            )
            for i in range(7)
        ],
    }
    text = LOCATED_JSON[layout](doc)
    fast = Locator(text, "inv.json")
    whole = Locator(text, "inv.json")
    whole._more_hosts = iter(())  # never the per-host path: compose the whole text
    paths = []
    for i in range(7):
        paths += [
            ["hosts", i],
            ["hosts", i, "name"],
            ["hosts", i, "services", 1],
            ["hosts", i, "labels", "rack"],
            ["hosts", i, "targets", "nova-compute", 1],
            ["hosts", i, "nothing"],
        ]
    assert _compose(text) is not None
    for path in paths:
        assert fast(path) == whole(path), path
    assert not fast._composed  # each host's own text was enough
    for path in (["hosts"], ["hosts", 9, "name"], ["cluster"]):
        assert fast(path) == whole(path), path
    assert len(fast._host_spans) == 7


def test_a_warning_about_one_host_composes_only_that_host(tmp_path):
    """K044 on a JSON inventory: the host's line and column, without composing the document."""
    from kostyor_dsl.inventory import read as inventory_read

    hosts = [{"name": f"cmp{i}", "services": ["nova-compute"]} for i in range(50)]
    hosts.insert(20, {"name": "mon01", "services": ["fluentd"]})
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps({"hosts": hosts}, indent=2))
    composed = []
    real = inventory_read._compose
    inventory_read._compose = lambda text: composed.append(len(text)) or real(text)
    try:
        report = check("openstack", str(path))
    finally:
        inventory_read._compose = real
    [warning] = [d for d in report.diagnostics if d.code == "K044"]
    line = path.read_text().splitlines().index('      "name": "mon01",') + 1
    assert (warning.span.line, warning.span.column) == (line, 15)
    assert composed and max(composed) < 100  # one host's text, not the document
