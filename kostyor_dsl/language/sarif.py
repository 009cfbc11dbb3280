"""Diagnostics as SARIF 2.1.0, so GitHub code scanning annotates the spec lines.

One run, tool `kostyorc`; one rule per diagnostic code that occurs (codes are
stable, see docs/diagnostics.md); one result per diagnostic with its primary
span as the physical location (the span's file as a relative URI, 1-based
line and column, end column exclusive as SARIF wants), labels as related
locations, hints appended to the message.

A diagnostic without a span (an inventory given as data, a bad `--strategy`)
is located at the start of its subject's file when the subject is one of the
sources, and otherwise has no location, which SARIF allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from kostyor_dsl.language.diagnostics import Diagnostic, Span, sorted_diagnostics

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

# Rule titles for code scanning, from the table in docs/diagnostics.md (a test keeps
# the two in step).  A code missing here still works, with a generic title.
RULE_TITLES = {
    "K001": "a character that cannot start any token (`;`, `'`), or a string not closed on its line",
    "K002": "a syntax error: unexpected token, or a block never closed (named at its opening line)",
    "K003": "a spec or import that cannot be read (no such file, not UTF-8), or no shipped spec of that name",
    "K004": "an import cycle",
    "K005": "blocks nested more than 32 levels deep",
    "K006": "an import refused: outside the root spec's folder and `KOSTYOR_PATH`, not a `.kostyor` file, not a regular file, over 1 MiB, or a path with a NUL byte or a name too long",
    "K010": "a service on an unknown tier, or a tier listed twice for a service",
    "K011": "a tier listed twice, or `tiers` declared twice in one file",
    "K012": "a service listed twice in a project",
    "K013": "a service in two projects",
    "K014": "an order defined twice, or a project twice in an order",
    "K015": "a strategy defined twice",
    "K016": "a service both upgraded and ignored (`ignore`) in an order, or ignored twice",
    "K020": "an unknown strategy (`--strategy`, `extends`)",
    "K021": "a strategy naming an unknown order",
    "K022": "an unknown engine",
    "K023": "an unknown strategy setting",
    "K024": "a strategy without an order when the spec has several",
    "K025": "a setting with the wrong values, or given twice (a setting, a hook, a parameter), or a number of more than 15 digits",
    "K026": "no strategy to use (none defined, or several with none default), or two marked default",
    "K027": "strategies extending each other in a cycle",
    "K028": "a driver that is not installed here (`kostyor_dsl.drivers` entry points; the deploy host may have it)",
    "K030": "a batch of 0 hosts, a fractional host count, or a batch number below 1 or fractional",
    "K031": "a percentage over 100%, or a batch of 0%",
    "K032": "an unknown action (hook, pre/post-upgrade): declare a driver's own with `actions`",
    "K033": "host hooks or gates with an engine other than node-by-node or phased",
    "K034": "a `service` hooks block for a service the order does not have",
    "K035": "`--limit` matches no host",
    "K036": "the plan is partial (`--limit`)",
    "K037": "a `hosts` group selects no host of the inventory",
    "K040": "the inventory does not match `schemas/inventory.schema.json` (host and field named)",
    "K041": "a host listed twice in the inventory",
    "K042": "a host runs a service the order does not know",
    "K043": "the inventory cannot be read, or is not YAML/JSON",
    "K044": "a host runs no service of the order, or only services it ignores: it gets no steps",
    "K045": "a service listed twice on one host",
    "K046": "a host name that is not a host name (`inventory/hostnames.py`)",
    "K047": "the inventory lists no hosts: the plan has no upgrade steps",
    "K050": "an importer's input cannot be read, is malformed (INI, JSON; line and column), or is another tool's format",
    "K051": "an import finds no host",
    "K052": "an imported host is in no group",
    "K053": "inventory groups contain each other in a cycle (`:children`)",
    "K054": "an imported host name or target is not one (`inventory/hostnames.py`)",
    "K055": "a tool's name that the importer's name table does not map: left out, with where and on how many hosts",
    "K056": "the OpenStack API lists a service or agent down or disabled, or a Juju unit is down (lost, in error, its machine down)",
    "K057": "a bad importer option or file: `--names`, `--map`, `--globals`, `--neutron-plugin`",
    "K058": "an imported host runs nothing the tables map: left out of the inventory",
    "K059": "a Kolla-Ansible declaration that cannot be evaluated, or whose group the inventory lacks",
    "K060": "a stage (a batch, a step) takes down more hosts of a budget than it allows",
    "K061": "a budget selects no host of the inventory",
    "K062": "a budget allows no host down, but the plan upgrades its hosts",
    "K063": "`batch max` with no budget to bound it: one batch takes the whole group",
    "K070": "a barrier names something that is no service, project or action of the order",
    "K071": "a barrier names something on both sides, or the order contradicts it",
    "K072": "the plan breaks a barrier",
    "K073": "a step contracts a database that no step before it expands",
    "K074": "a strategy's project block for an unknown project, or without add or replace",
    "K075": "a hypervisor upgraded without being drained in a strategy that drains them",
    "K076": "a batch drains every hypervisor: none is left to take in the instances",
    "K077": "a `hosts` block selects only hosts an earlier block already holds",
    "K090": "an inventory's target (what `--limit` or `juju run` is given) that a command line would misread: `all`, `a,b`, `x:&y`, `-e@f`, ... (`inventory/hostnames.py`)",
    "K091": "a Kolla-Ansible value (globals.yml, `--names`) refused by the sandbox or its limits, failing its arithmetic, or an `enable_` that is not a boolean (file and line)",
    "K092": "OpenStack-Ansible: hosts left out because the chosen neutron plugin or options do not run their groups (every host named)",
    "K093": "OpenStack-Ansible: the cloud runs OVN but no host is in `neutron_ovn_northd`",
    "K094": "an importer's assumption said aloud: a Juju option not given (`--bundle`), OSA optional agents without `--user-variables`",
    "K095": "Juju: infrastructure charms (mysql-innodb-cluster, rabbitmq-server, vault) marked and not planned: the charm guide upgrades them on their own",
    "K096": "the inventory records a service down or disabled (`state`): `kostyorc run` refuses a down one without `--allow-down`",
    "K100": "the language server does not read the inventory a spec comment or setting names (outside the workspace, not a regular file, too large, not an inventory)",
    "K101": "a `service` hooks block for a service no host of the inventory runs",
}


def _uri(file: str, prefix: str) -> str:
    # Relative paths stay relative (GitHub resolves them against the repository);
    # anything unusual (`<shipped>/...`, spaces) is percent-encoded into a valid URI.
    return quote(prefix + file, safe="/")


def _region(span: Span) -> dict:
    start_line = max(span.line, 1)
    start_column = max(span.column, 1)
    end_line = max(span.end_line, start_line)
    end_column = (
        span.end_column if end_line > start_line else max(span.end_column, start_column + 1)
    )
    return {
        "startLine": start_line,
        "startColumn": start_column,
        "endLine": end_line,
        "endColumn": max(end_column, 1),
    }


def _location(span: Span, prefix: str, message: str | None = None, id_: int | None = None) -> dict:
    location: dict = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(span.file, prefix)},
            "region": _region(span),
        }
    }
    if id_ is not None:
        location["id"] = id_
    if message is not None:
        location["message"] = {"text": message}
    return location


def _level(diagnostic: Diagnostic) -> str:
    return "error" if diagnostic.is_error else "warning"


def render_sarif(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, str],
    uri_prefix: str = "",
) -> str:
    """The diagnostics as a SARIF 2.1.0 log (JSON text, keys sorted, one run).

    `uri_prefix` is put before every file name, for a spec that is not at the
    repository's root (`deploy/` when the spec is deploy/upgrade.kostyor).
    """
    items = sorted_diagnostics(diagnostics)
    rules: list[dict] = []
    rule_index: dict[str, int] = {}
    results: list[dict] = []
    for d in items:
        if d.code not in rule_index:
            rule_index[d.code] = len(rules)
            rules.append(
                {
                    "id": d.code,
                    "name": d.code,
                    "shortDescription": {
                        "text": RULE_TITLES.get(d.code, f"kostyorc diagnostic {d.code}")
                    },
                    "defaultConfiguration": {"level": _level(d)},
                }
            )
        text = d.message
        if d.subject and not d.span:
            text = f"{d.subject}: {text}"
        if d.hints:
            text += "\n" + "\n".join(f"hint: {h}" for h in d.hints)
        result: dict = {
            "ruleId": d.code,
            "ruleIndex": rule_index[d.code],
            "level": _level(d),
            "message": {"text": text},
        }
        if d.span is not None:
            result["locations"] = [_location(d.span, uri_prefix)]
        elif d.subject and d.subject in sources:
            result["locations"] = [_location(Span(d.subject, 1, 1, 1, 2), uri_prefix)]
        if d.labels:
            result["relatedLocations"] = [
                _location(label.span, uri_prefix, label.message, i)
                for i, label in enumerate(d.labels, start=1)
            ]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "kostyorc",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
