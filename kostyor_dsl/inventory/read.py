"""Inventory: read (YAML or JSON), validate against schemas/inventory.schema.json,
and hand the engines plain `Host` values (compiler.inventory_check checks them
against an order).

The document is read by `documents.load_document` (duplicate keys, YAML
anchors, aliases and tags refused, a UTF-8 byte-order mark accepted); every
host name must be a host name (`hostnames.host_name_problem`).

The fast path never builds position information; only when something is wrong
is the document composed again with PyYAML's marks, so each diagnostic can
point at the line of the host and field at fault.

Long because the fast path and the located slow path read the same document and must agree on every rule.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import string
from collections.abc import Iterable, Iterator
from importlib import resources
from itertools import chain

import yaml

from kostyor_dsl.inventory.documents import DocumentError, load_document, strip_bom
from kostyor_dsl.inventory.hostnames import VALID_TARGET, host_name_problem, target_problem
from kostyor_dsl.inventory.model import Host, Inventory, InventoryCheck, new_host
from kostyor_dsl.language.diagnostics import Diagnostic, Label, Span, error, warning
from kostyor_dsl.language.printable import printable


@functools.cache
def load_schema(name: str) -> dict:
    """A JSON Schema shipped in the package (schemas/NAME.schema.json)."""
    ref = resources.files("kostyor_dsl") / "schemas" / f"{name}.schema.json"
    return json.loads(ref.read_text(encoding="utf-8"))


def read_inventory(path: str) -> InventoryCheck:
    """Read and validate an inventory file (the format is told by its content)."""
    display = os.path.basename(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return InventoryCheck(
            None, (error("K043", f"cannot read inventory '{path}': {reason}", subject=path),), {}
        )
    digest = hashlib.sha256(raw).hexdigest()
    text = _decode(raw, display)
    del raw  # the bytes are hashed and decoded: do not hold them next to the document
    if isinstance(text, InventoryCheck):
        return text
    return _parse_text(text, digest, display)


def parse_inventory(raw: bytes, display: str) -> InventoryCheck:
    text = _decode(raw, display)
    if isinstance(text, InventoryCheck):
        return text
    return _parse_text(text, hashlib.sha256(raw).hexdigest(), display)


def _decode(raw: bytes, display: str) -> str | InventoryCheck:
    try:
        return strip_bom(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return InventoryCheck(
            None,
            (error("K043", f"inventory is not UTF-8 text ({exc.reason})", subject=display),),
            {},
        )


def _parse_text(text: str, digest: str, display: str) -> InventoryCheck:
    sources = {display: text}
    fast = _json_fast_path(text)
    if fast is not None:
        doc, scanned = fast
    else:
        try:
            doc = load_document(text)
        except DocumentError as exc:
            return InventoryCheck(None, (_load_error(exc, display),), sources)
        scanned = _scan_hosts(doc) if doc is not None else None
    if doc is None:
        return InventoryCheck(
            None,
            (
                error(
                    "K040",
                    f"inventory '{display}' is empty",
                    Span(display, 1, 1, 1, 2),
                    hints=("an inventory is a mapping: `hosts:` with a list of hosts",),
                ),
            ),
            sources,
        )
    if scanned is not None:  # the fast path: the document is valid
        hosts, names, _, targets, states = scanned
        inventory = Inventory(
            display, digest, doc.get("cluster"), hosts, targets=targets, states=states
        )
        problems = list(_no_hosts(inventory, text))
        problems.extend(_check_names(inventory, text, names))
        problems.extend(_check_targets(inventory, text))
        if problems:
            inventory = _without_bad_names(inventory)
        if len(names) != len(hosts):
            problems.extend(_duplicate_hosts(inventory, text))
        return InventoryCheck(inventory, tuple(problems), sources)
    problems = validate_document(doc, text, display)
    if problems:
        # Keep checking the well-formed hosts, so one run reports every problem.
        partial = _well_formed(doc, display, digest)
        if partial is not None:
            problems.extend(_check_names(partial, text))
            partial = _without_bad_names(partial)
            problems.extend(_duplicate_hosts(partial, text))
        return InventoryCheck(partial, tuple(problems), sources)
    hosts = tuple(
        Host(h["name"], tuple(h["services"]), label_pairs(h.get("labels") or {}))
        for h in doc["hosts"]
    )
    targets = {h["name"]: h["targets"] for h in doc["hosts"] if h.get("targets")}
    states = {h["name"]: h["state"] for h in doc["hosts"] if h.get("state")}
    inventory = Inventory(
        display, digest, doc.get("cluster"), hosts, targets=targets, states=states
    )
    problems = list(_no_hosts(inventory, text))
    problems.extend(_check_names(inventory, text))
    problems.extend(_check_targets(inventory, text))
    if problems:
        inventory = _without_bad_names(inventory)
    problems.extend(_duplicate_hosts(inventory, text))
    return InventoryCheck(inventory, tuple(problems), sources)


def _json_fast_path(text: str):
    """A JSON inventory read by plain `json.loads` (no per-object duplicate check,
    a third of the reading time) and scanned, when that is provably what
    `load_document` gives: the hosts scan clean and the text has no more ':' than
    keys were read.  Every key takes a colon and a colon in a string only adds
    to the count, so no key was given twice.  None: read it the careful way."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    scanned = _scan_hosts(doc)
    if scanned is None or text.count(":") != scanned[2]:
        return None
    return doc, scanned


# The names, one per line, judged at C speed: only letters, digits, '_', '-'
# and '.'; no empty name, none starting with '-' or '.', no '..', none that is
# an Ansible pattern by itself (`all`); at most 253 characters.  Any doubt
# goes to `host_name_problem`, the one definition.  (One regular expression
# over all the lines would be exact too, but holds a backtracking frame per
# line: 10 MB at 20,000 hosts.)
_NOT_NAME_CHARACTERS = str.maketrans("", "", string.ascii_letters + string.digits + "_-.\n")
_BAD_JOIN = re.compile(r"\n[-.\n]|\.\.|(?i:\n(?:all|ungrouped)\n)")


def _all_names_valid(names) -> bool:
    if not names:
        return True
    joined = "\n" + "\n".join(names) + "\n"
    if joined.count("\n") != len(names) + 1:  # a name holds a line break
        return False
    if joined.translate(_NOT_NAME_CHARACTERS) or _BAD_JOIN.search(joined) is not None:
        return False
    if max(map(len, names)) <= 253:
        return True
    return all(host_name_problem(name) is None for name in names)


def _check_names(
    inventory: Inventory, text: str, names: set[str] | None = None
) -> Iterable[Diagnostic]:
    """K046 for every host whose name is not a host name (`hostnames.host_name_problem`)."""
    if names is None:
        names = {h.name for h in inventory.hosts}
    if _all_names_valid(names):
        return
    locate = Locator(text, inventory.display)
    for i, host in enumerate(inventory.hosts):
        problem = host_name_problem(host.name)
        if problem is None:
            continue
        shown = _quoted(host.name)
        yield error(
            "K046",
            f"invalid host name {shown}: {problem}",
            locate(["hosts", inventory.position(i), "name"]),
            subject=f"host {shown}",
            hints=(
                "host names reach ssh and the deployment tools as arguments: "
                "write the name the host is known by (a DNS or inventory name)",
            ),
        )


def _check_targets(inventory: Inventory, text: str) -> Iterable[Diagnostic]:
    """K090 for every target that a command line would misread (`all`, `a,b`, `-e@x`):
    targets go to `--limit` and `juju run` as they are."""
    if not inventory.targets:
        return
    locate = None
    index_of = None
    for host, services in inventory.targets.items():
        for service, names in services.items():
            for k, name in enumerate(names):
                if VALID_TARGET.match(name):
                    continue
                problem = target_problem(name)
                if problem is None:
                    continue
                if locate is None:
                    locate = Locator(text, inventory.display)
                    index_of = {
                        h.name: inventory.position(i) for i, h in enumerate(inventory.hosts)
                    }
                where = ["hosts", index_of.get(host, -1), "targets", service, k]
                yield error(
                    "K090",
                    f"host {_quoted(host)}, service {_quoted(service)}: "
                    f"target {_quoted(name)} refused: {problem}",
                    locate(where),
                    subject=f"host {_quoted(host)}",
                    hints=(
                        "targets reach `--limit` and `juju run` as they are: write the "
                        "container or unit name the deployment tool uses, or re-import",
                    ),
                )


def _quoted(name: str) -> str:
    """A name for a message: quoted, every control character escaped, at most 80 characters."""
    shown = repr(name if len(name) <= 80 else name[:77] + "...")
    return shown


def _without_bad_names(inventory: Inventory) -> Inventory:
    """The inventory without the hosts whose name is refused: later checks never print them."""
    kept = [
        (host, inventory.position(i))
        for i, host in enumerate(inventory.hosts)
        if host_name_problem(host.name) is None
    ]
    return Inventory(
        inventory.display,
        inventory.sha256,
        inventory.cluster,
        tuple(h for h, _ in kept),
        tuple(p for _, p in kept),
        targets=inventory.targets,
        states=inventory.states,
    )


def _no_hosts(inventory: Inventory, text: str) -> Iterable[Diagnostic]:
    if inventory.hosts:
        return
    yield warning(
        "K047",
        f"inventory '{inventory.display}' lists no hosts: the plan has no upgrade steps",
        Locator(text, inventory.display)(["hosts"]),
        hints=("an empty plan upgrades nothing: is this the inventory you meant?",),
    )


def _well_formed(doc, display: str, digest: str) -> Inventory | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("hosts"), list):
        return None
    hosts, positions = [], []
    for index, h in enumerate(doc["hosts"]):
        if not isinstance(h, dict):
            continue
        name, services = h.get("name"), h.get("services")
        if not (isinstance(name, str) and name and isinstance(services, list)):
            continue
        if not all(isinstance(s, str) and s for s in services):
            continue
        hosts.append(Host(name, tuple(services)))
        positions.append(index)
    cluster = doc.get("cluster") if isinstance(doc.get("cluster"), str) else None
    return Inventory(display, digest, cluster, tuple(hosts), tuple(positions))


def _load_error(exc: DocumentError, display: str) -> Diagnostic:
    if exc.line is None:
        return error("K043", f"inventory is not valid YAML or JSON: {exc.message}", subject=display)
    labels = tuple(
        Label(Span(display, line, column, line, column + 1), note)
        for line, column, note in exc.labels
    )
    return error(
        "K043",
        f"inventory is not valid YAML or JSON: {exc.message}",
        Span(display, exc.line, exc.column, exc.line, exc.column + 1),
        labels=labels,
    )


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema("inventory"))


def validate_document(doc, text: str, display: str) -> list[Diagnostic]:
    """jsonschema errors, each pointing at the host and field it is about.

    Only called when the fast scan (`_scan_hosts`) turned the document down:
    jsonschema is several times slower than reading a large inventory, so it
    runs only to explain."""
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    locate = Locator(text, display)
    out = []
    for err in errors:
        path = list(err.absolute_path)
        subject = _subject(doc, path)
        field = ".".join(str(p) for p in path) or "(top level)"
        message = err.message
        if not path and err.validator == "type":
            kind = {list: "a list", str: "a string"}.get(type(doc), type(doc).__name__)
            message = f"the document is {kind}, not a mapping with `hosts:`"
        out.append(
            error(
                "K040",
                f"inventory: {printable(field)}: {printable(_shortened(message))}",
                locate(path),
                subject=subject,
                hints=_schema_hints(err),
            )
        )
    return out


def _shortened(message: str) -> str:
    """jsonschema repeats the value it judges: a whole document, for the top level."""
    return message if len(message) <= 200 else message[:197] + "..."


_TOP_KEYS = frozenset({"cluster", "hosts"})
_HOST_KEYS = frozenset({"name", "services", "labels", "targets", "state"})
_LABEL_TYPES = (str, int, bool)
STATES = ("disabled", "down")


def label_pairs(labels: dict) -> tuple:
    """A host's labels as sorted (key, value) pairs; a list label is one pair per value."""
    pairs = []
    for key, value in labels.items():
        if type(value) is list:
            pairs.extend((key, v) for v in value)
        else:
            pairs.append((key, value))
    return tuple(sorted(pairs, key=lambda kv: (kv[0], str(kv[1]))))


def _label_value_ok(value) -> bool:
    if type(value) in _LABEL_TYPES:
        return True
    return type(value) is list and bool(value) and all(type(v) is str for v in value)


def _valid_state(state) -> bool:
    """`state: {SERVICE: down | disabled | [down, disabled]}`."""
    if type(state) is not dict:
        return False
    for service, value in state.items():
        if type(service) is not str or not service:
            return False
        values = value if type(value) is list else [value]
        if not values or not all(type(v) is str and v in STATES for v in values):
            return False
        if len(set(values)) != len(values):
            return False
    return True


def _scan_hosts(doc) -> tuple[tuple[Host, ...], set[str], int, dict, dict] | None:
    """The schema's rules checked while building the hosts, in one pass.

    Accepts exactly what schemas/inventory.schema.json accepts (tests/
    test_inventory.py checks the two agree) and returns the hosts with the
    set of their names (fewer than hosts: a host is listed twice), the
    number of keys of all its mappings (see `_json_fast_path`), the hosts'
    `targets` and their services' `state`;
    None sends the caller down the slow path, where jsonschema explains.
    Hosts running the same services share one tuple (computes are thousands
    of copies of a few lists), which also lets later stages memoise per list.
    """
    if type(doc) is not dict or "hosts" not in doc or not doc.keys() <= _TOP_KEYS:
        return None
    cluster = doc.get("cluster", "x")
    if type(cluster) is not str or not cluster:
        return None
    docs = doc["hosts"]
    if type(docs) is not list:
        return None
    shared: dict[tuple, tuple] = {}
    out: list[Host] = []
    append = out.append
    names: set[str] = set()
    add_name = names.add
    make_host = new_host
    keys = len(doc) + 2 * len(docs)  # every host has a name and services; labels add
    targets: dict[str, dict] = {}
    states: dict[str, dict] = {}
    for h in docs:
        if type(h) is not dict:
            return None
        name = h.get("name")
        services = h.get("services")
        if type(name) is not str or not name or type(services) is not list:
            return None
        if len(h) == 2:  # exactly name and services
            labels = ()
        else:
            if not h.keys() <= _HOST_KEYS:
                return None
            raw_labels = h.get("labels", {})
            if type(raw_labels) is not dict:
                return None
            for v in raw_labels.values():
                if type(v) not in _LABEL_TYPES and not _label_value_ok(v):
                    return None
            labels = label_pairs(raw_labels)
            if "state" in h:
                if not _valid_state(h["state"]):
                    return None
                states[name] = h["state"]
                keys += len(h["state"])
            if "targets" in h:
                if type(h["targets"]) is not dict:
                    return None
                targets[name] = h["targets"]
            # the labels and targets keys, and the keys inside them
            keys += len(h) - 2 + len(raw_labels) + len(h.get("targets", ()))
        key = tuple(services)
        try:
            shared_services = shared.get(key)
        except TypeError:  # a list inside the list: the schema explains
            return None
        if shared_services is None:
            for sv in key:
                if type(sv) is not str or not sv:
                    return None
            shared[key] = shared_services = key
        append(make_host(name, shared_services, labels))
        add_name(name)
    if targets and not _valid_targets(targets.values()):
        return None
    return tuple(out), names, keys, targets, states


def _valid_targets(all_targets: Iterable[dict]) -> bool:
    """Each host's `targets: {SERVICE: [NAME, ...]}` (how a driver addresses a
    service on the host): non-empty strings all.  Judged for all hosts at once,
    the types by set and the strings by `all`, at C speed: a 50,000-host cloud
    has a million names."""
    services, lists = [], []
    for targets in all_targets:
        services.extend(targets)
        lists.extend(targets.values())
    if set(map(type, lists)) - {list} or set(map(type, services)) - {str} or not all(services):
        return False
    names = list(chain.from_iterable(lists))
    return not (set(map(type, names)) - {str}) and all(names)


def _schema_hints(err) -> tuple[str, ...]:
    if err.validator == "additionalProperties":
        return ("a host has: name, services, labels; the top level has: cluster, hosts",)
    if err.validator == "required" and "services" in err.message:
        return ("write services: [] for a host that runs nothing to upgrade",)
    return ()


def _subject(doc, path) -> str | None:
    if len(path) >= 2 and path[0] == "hosts" and isinstance(path[1], int):
        try:
            host = doc["hosts"][path[1]]
            name = host.get("name") if isinstance(host, dict) else None
        except (IndexError, KeyError, TypeError, AttributeError):
            name = None
        label = f"host '{printable(name)}'" if isinstance(name, str) else f"host #{path[1] + 1}"
        if len(path) >= 4 and path[2] == "services":
            try:
                service = doc["hosts"][path[1]]["services"][path[3]]
                return f"{label}, service '{printable(str(service))}'"
            except (IndexError, KeyError, TypeError):
                return label
        return label
    return None


class Locator:
    """Finds the line and column of a document path by composing the text with marks.

    Built on first use only: the happy path never pays for it.  In a JSON
    document a path into one host composes only that host's text (found
    with the C JSON scanner): composing a 50,000-host document with marks
    takes seconds, and one warning about one host (K044) must not cost that.
    """

    def __init__(self, text: str, display: str):
        self.text = text
        self.display = display
        self._root = None
        self._composed = False
        self._host_spans: list[tuple[int, int]] = []
        self._more_hosts: Iterator[tuple[int, int]] | None = None
        self._hosts: dict[int, tuple[yaml.Node | None, int, int]] = {}

    def __call__(self, path) -> Span | None:
        found = self._in_json_host(path)
        if found is not None:
            return found
        if not self._composed:
            self._composed = True
            self._root = _compose(self.text)
        return self._span(self._root, path, 0, 0)

    def _in_json_host(self, path) -> Span | None:
        if len(path) < 2 or path[0] != "hosts" or type(path[1]) is not int:
            return None
        index = path[1]
        if self._more_hosts is None:
            self._more_hosts = _json_host_spans(self.text)
        # Hosts are scanned only as far as the one asked for.
        for span in self._more_hosts:
            self._host_spans.append(span)
            if len(self._host_spans) > index:
                break
        if not 0 <= index < len(self._host_spans):
            return None
        if index not in self._hosts:
            start, end = self._host_spans[index]
            line = self.text.count("\n", 0, start)
            column = start - (self.text.rfind("\n", 0, start) + 1)
            self._hosts[index] = (_compose(self.text[start:end]), line, column)
        node, line, column = self._hosts[index]
        if node is None:
            return None
        return self._span(node, path[2:], line, column)

    def _span(self, node, path, line: int, column: int) -> Span | None:
        """The span of `path` under `node`, whose text starts at (line, column)."""
        if node is None:
            return None
        best = node
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == part:
                        child = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
            if child is None:
                break
            node = best = child
        mark = best.start_mark
        end = best.end_mark
        start_column = mark.column + (column if mark.line == 0 else 0)
        end_col = (
            end.column + (column if end.line == 0 else 0) + 1
            if end.line == mark.line
            else start_column + 2
        )
        return Span(
            self.display, line + mark.line + 1, start_column + 1, line + mark.line + 1, end_col
        )


def _compose(text: str):
    try:
        return yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_host_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each item of a JSON document's top-level `hosts` list, in
    turn; none when the text is not such a JSON document (the caller then
    composes it all)."""
    decode = json.JSONDecoder().raw_decode
    skip = _JSON_SPACE.match
    try:
        at = skip(text).end()
        if text[at : at + 1] != "{":
            return
        at = skip(text, at + 1).end()
        while text[at : at + 1] == '"':
            key, at = decode(text, at)
            at = skip(text, at).end()
            if text[at : at + 1] != ":":
                return
            at = skip(text, at + 1).end()
            if key == "hosts" and text[at : at + 1] == "[":
                at = skip(text, at + 1).end()
                while text[at : at + 1] not in ("]", ""):
                    start = at
                    _, at = decode(text, at)
                    yield start, at
                    at = skip(text, at).end()
                    if text[at : at + 1] == ",":
                        at = skip(text, at + 1).end()
                return
            _, at = decode(text, at)
            at = skip(text, at).end()
            if text[at : at + 1] == ",":
                at = skip(text, at + 1).end()
    except (ValueError, RecursionError):
        return


def _duplicate_hosts(inventory: Inventory, text: str) -> Iterable[Diagnostic]:
    first: dict[str, int] = {}
    locate = None
    for i, host in enumerate(inventory.hosts):
        name = host.name
        index = inventory.position(i)
        if name not in first:
            first[name] = index
            continue
        locate = locate or Locator(text, inventory.display)
        yield error(
            "K041",
            f"host '{name}' is listed twice in the inventory",
            locate(["hosts", index, "name"]),
            subject=f"host '{name}'",
            labels=tuple(
                Label(span, "first listed here")
                for span in [locate(["hosts", first[name], "name"])]
                if span is not None
            ),
            hints=("merge the two entries' services into one host",),
        )
