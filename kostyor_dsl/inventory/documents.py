"""Reading the YAML and JSON documents kostyorc is given: inventories and plans.

Both formats hold only what JSON can: strings, numbers, booleans, null, lists
and mappings with string keys.  So this reader refuses, each with the line and
column at fault (`DocumentError`):

* a key given twice in one mapping (YAML and JSON would keep the last one and
  silently drop the first: a second `hosts:` would lose every host above it);
* YAML anchors and aliases (`&a`, `*a`): nothing here needs them, and a few
  nested aliases expand a small file into gigabytes ("billion laughs");
* YAML tags beyond the JSON types (`!!timestamp`, `!!binary`, `!!set`, `!python/...`)
  and merge keys (`<<`); a plain date such as `2024-05-01` is read as the
  string written, not converted to a date;
* a key that is not a string (`1: x`, `[a]: x`), and nesting deeper than
  `MAX_DEPTH` levels.

A leading UTF-8 byte-order mark is accepted (and dropped).

Speed: the C parser (libyaml) composes the nodes and one small function builds
the values from them, checking the above as it goes; it does less than
PyYAML's own constructor, so it is no slower than `yaml.load(CSafeLoader)`.
Anchors are looked for only when the text holds an `&` that could start one.
JSON goes through the `json` module, with a duplicate check per object (the
inventory reader skips even that when it can prove no key repeats).
"""

from __future__ import annotations

import gc
import json
import re
from typing import ClassVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode, SequenceNode
from yaml.resolver import Resolver

from kostyor_dsl.language.printable import printable

# Far deeper than any inventory or plan (they are 5 levels deep), far below
# the interpreter's recursion limit and libyaml's own (1,000).
MAX_DEPTH = 100

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SCALARS = {
    "tag:yaml.org,2002:int": SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:null": SafeConstructor.construct_yaml_null,
}
_SHORT_TAGS = {"tag:yaml.org,2002:": "!!"}
# An `&` where an anchor could start: first in the text, or after a space or a
# flow indicator.  Only then are the events scanned for anchors, one more pass
# over the text (`a&&b` never causes it; a command with ` && ` in a plan does).
_MAYBE_ANCHOR = re.compile(r"(?:\A|[\s\[{,:])&")


class DocumentError(ValueError):
    """A document that cannot be read; `line` and `column` (1-based) when known,
    `labels` more places ((line, column, note), ...)."""

    def __init__(
        self,
        message: str,
        line: int | None = None,
        column: int | None = None,
        labels: tuple[tuple[int, int, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.labels = labels

    def __reduce__(self):
        return (type(self), (self.message, self.line, self.column, self.labels))

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.describe()}" if self.line else self.describe()

    def where(self) -> str:
        return f":{self.line}:{self.column}" if self.line is not None else ""

    def describe(self) -> str:
        """The message with its other places, for a one-line report."""
        notes = "".join(f"; {note} at {line}:{column}" for line, column, note in self.labels)
        return self.message + notes


class _Resolver(Resolver):
    """YAML 1.1's implicit types, without timestamps: a date stays the text written."""

    yaml_implicit_resolvers: ClassVar[dict] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    }


try:
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    CParser = None

if CParser is not None:

    class _Loader(CParser, SafeConstructor, _Resolver):
        def __init__(self, stream):
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            _Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _Loader(
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        SafeConstructor,
        _Resolver,
    ):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            SafeConstructor.__init__(self)
            _Resolver.__init__(self)


def strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def load_document(text: str) -> object:
    """The document in `text`, YAML or JSON (told by its first character), or
    DocumentError.  An empty document (nothing but comments) is None."""
    text = strip_bom(text)
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        # JSON is far faster through the json module than through a YAML parser.
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError:
            pass  # maybe YAML flow style: the YAML reader judges and reports
        except _DuplicateKey as dup:
            _load_yaml(text)  # says where, when the text is also YAML
            raise DocumentError(f"key {printable(dup.key)!r} appears twice in one object") from None
        except RecursionError:
            line, column = _too_deep(text)
            raise DocumentError(_DEPTH_MESSAGE, line, column) from None
    return _load_yaml(text)


def load_json_document(text: str) -> object:
    """`text` as JSON only, by the same rules (a key twice, nesting too deep: a
    DocumentError with the line); a syntax error is json's own JSONDecodeError,
    for the caller to word.  The importers read their tools' JSON with it."""
    text = strip_bom(text)
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as dup:
        raise _located_duplicate(text, dup.key) from None
    except RecursionError:
        line, column = _too_deep(text)
        raise DocumentError(_DEPTH_MESSAGE, line, column) from None


def _located_duplicate(text: str, key: str) -> DocumentError:
    """The DocumentError for a JSON key given twice, with both places when YAML finds them."""
    try:
        _load_yaml(text)
    except DocumentError as exc:
        if exc.line is not None and "twice" in exc.message:
            return exc
    except Exception:  # locating is a courtesy: the error is said anyway
        pass
    return DocumentError(
        f"key {printable(key)!r} appears twice in one object "
        "(the second would silently replace the first)"
    )


def load_plan_document(text: str) -> object:
    """`load_document` for a plan: with the cyclic garbage collector paused, as
    `plan.load_plan` does (a big plan is millions of small objects, none cyclic)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return load_document(text)
    finally:
        if enabled:
            gc.enable()


def load_yaml(text: str) -> object:
    """`text` as YAML only (what `load_document` does for a non-JSON document)."""
    return _load_yaml(strip_bom(text))


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list, _dict=dict, _len=len) -> dict:
    # Called for every JSON object (100,000 of them in a large OpenStack-Ansible
    # inventory): the builtins bound as defaults save a global look-up each.
    mapping = _dict(pairs)
    if _len(mapping) != _len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return mapping


def _load_yaml(text: str) -> object:
    try:
        if "&" in text and _MAYBE_ANCHOR.search(text):
            _refuse_anchors(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            return _build(loader, root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text) from None
    except RecursionError:  # the pure-Python composer (libyaml stops at 1,000 levels)
        raise DocumentError(_DEPTH_MESSAGE) from None


def _refuse_anchors(text: str) -> None:
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            anchor = getattr(event, "anchor", None)
            if anchor is None:
                continue
            mark = event.start_mark
            sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
            raise DocumentError(
                f"YAML {'alias' if sign == '*' else 'anchor'} '{sign}{printable(anchor)}': "
                "anchors and aliases are not allowed (a few nested aliases expand a small "
                "file into gigabytes); write the values out",
                mark.line + 1,
                mark.column + 1,
            )
    finally:
        loader.dispose()


def _build(loader, root):
    """The value of `root`: what SafeConstructor makes, with the checks above."""
    scalars = _SCALARS
    scalar_node, sequence_node = ScalarNode, SequenceNode

    def build(node, depth):
        cls = node.__class__
        if cls is scalar_node:
            tag = node.tag
            if tag == _STR:
                return node.value
            construct = scalars.get(tag)
            if construct is None:
                raise _refused_tag(node)
            return construct(loader, node)
        if depth >= MAX_DEPTH:
            raise _node_error(node, _DEPTH_MESSAGE)
        if cls is sequence_node:
            if node.tag != _SEQ:
                raise _refused_tag(node)
            return [build(item, depth + 1) for item in node.value]
        if node.tag != _MAP:
            raise _refused_tag(node)
        pairs = node.value
        mapping = {}
        for key_node, value_node in pairs:
            if key_node.__class__ is not scalar_node or key_node.tag != _STR:
                raise _bad_key(key_node)
            mapping[key_node.value] = build(value_node, depth + 1)
        if len(mapping) != len(pairs):
            raise _duplicate(pairs)
        return mapping

    return build(root, 0)


_DEPTH_MESSAGE = f"nested more than {MAX_DEPTH} levels deep"


def _node_error(node, message: str, labels=()) -> DocumentError:
    mark = node.start_mark
    return DocumentError(message, mark.line + 1, mark.column + 1, labels)


def _tag_name(tag: str) -> str:
    for long, short in _SHORT_TAGS.items():
        if tag.startswith(long):
            return short + tag[len(long) :]
    return tag


def _refused_tag(node) -> DocumentError:
    tag = printable(_tag_name(node.tag))
    if node.tag == _TIMESTAMP:
        hint = "a date is written as a string here"
    else:
        hint = "only strings, numbers, booleans, null, lists and mappings are allowed"
    return _node_error(node, f"YAML tag '{tag}' is not allowed: {hint}")


def _bad_key(node) -> DocumentError:
    if node.tag == _MERGE:
        return _node_error(node, "merge keys (<<) are not allowed: write the keys out")
    if isinstance(node, ScalarNode):
        return _node_error(
            node,
            f"key {printable(node.value)!r} is read as {_tag_name(node.tag)}: keys must be "
            "strings (quote it)",
        )
    return _node_error(node, "a key must be a string, not a list or a mapping")


def _duplicate(pairs) -> DocumentError:
    first: dict[str, object] = {}
    for key_node, _ in pairs:
        earlier = first.setdefault(key_node.value, key_node)
        if earlier is not key_node:
            mark = earlier.start_mark
            return _node_error(
                key_node,
                f"key {printable(key_node.value)!r} appears twice in one mapping "
                "(the second would silently replace the first)",
                ((mark.line + 1, mark.column + 1, "first given here"),),
            )
    raise AssertionError("no duplicate key")  # pragma: no cover


def _yaml_error(exc: yaml.YAMLError, text: str) -> DocumentError:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if mark is not None:
        context = getattr(exc, "context", None)
        message = problem or str(exc)
        if context and problem:
            message = f"{context}: {problem}"
        return DocumentError(printable(message), mark.line + 1, mark.column + 1)
    position = getattr(exc, "position", None)  # a ReaderError: a character YAML refuses
    if isinstance(position, int):
        line, column = _line_column(text, position)
        reason = getattr(exc, "reason", None) or "a character YAML does not allow"
        character = getattr(exc, "character", None)
        if isinstance(character, str):
            reason = f"character {ord(character):#06x}: {reason}"
        return DocumentError(printable(reason), line, column)
    return DocumentError(printable(str(exc)))


def _line_column(text: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def _too_deep(text: str) -> tuple[int | None, int | None]:
    """Where a JSON text first goes deeper than MAX_DEPTH."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                return _line_column(text, match.start())
        elif token in ("]", "}"):
            depth -= 1
    return None, None
