"""Text -> AST.  The only place that talks to lark and turns its errors into Diagnostics.

Long because the transformer has one method per grammar rule, and the error table belongs with it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass
from importlib import resources

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from kostyor_dsl.language import ast
from kostyor_dsl.language.diagnostics import (
    CompileError,
    Diagnostic,
    Label,
    Span,
    error,
    printable,
)
from kostyor_dsl.language.source_text import source_lines, without_bom

# Tokens named in words for "expected ..." messages.
TOKEN_WORDS = {
    "NAME": "a name",
    "STRING": 'a "string"',
    "NUMBER": "a number",
    "PERCENT": "a percentage",
    "PAIR": "a selector (key=value)",
    "ACTIONS": "'actions'",
    "IGNORE": "'ignore'",
    "DURATION": "a duration (30s, 5m, 1h)",
    "_NL": "end of line",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "$END": "end of file",
    "DEFAULT": "'default'",
    "IMPORT": "'import'",
    "TIERS": "'tiers'",
    "ORDER": "'order'",
    "PROJECT": "'project'",
    "STRATEGY": "'strategy'",
    "EXTENDS": "'extends'",
    "ON": "'on'",
    "BARRIER": "'barrier'",
    "BEFORE": "'before'",
    "PRE_UPGRADE": "'pre-upgrade'",
    "POST_UPGRADE": "'post-upgrade'",
    "IRREVERSIBLE": "'irreversible'",
}

# Labelled bad snippets: a syntax error in the same parser state as one of these
# gets the label as its message (lark's `match_examples`).  Each is tested.
SYNTAX_ERRORS: dict[str, list[str]] = {
    "a service needs its tiers: write `SERVICE on TIER[, TIER]`": [
        "order o {\nproject p {\nnova-api\n}\n}\n",
        "order o {\nproject p {\nnova-api controller\n}\n}\n",
        "order o {\nproject p {\na on x\nnova-api\n}\n}\n",
        "order o {\nproject p {\na on x\nnova-api controller\n}\n}\n",
    ],
    "expected a tier name after 'on'": [
        "order o {\nproject p {\nnova-api on\n}\n}\n",
        "order o {\nproject p {\nnova-api on controller,\n}\n}\n",
        "order o {\nproject p {\na on x\nnova-api on\n}\n}\n",
    ],
    "an order holds only `project NAME { ... }` blocks and `ignore SERVICE[, SERVICE]` lines": [
        "order o {\nnova-api on controller\n}\n",
    ],
    "expected '{' and a line break after the block's name": [
        "order o\n",
        "order o {project p {\n",
        "strategy s\n",
        "strategy s {engine x\n",
    ],
    "expected a name after the keyword": [
        "order {\n",
        "strategy {\n",
        "order o {\nproject {\n",
    ],
    "a top-level statement starts with import, tiers, actions, order, [default] strategy": [
        "foo\n",
        "nova-api on controller\n",
    ],
    "a project holds `SERVICE on TIER` lines: is a '}' missing before this project?": [
        "order o {\nproject p {\nproject q {\n",
        "order o {\nproject p {\na on x\nproject q {\n",
    ],
    "a top-level statement inside a block: is a '}' missing above it?": [
        *(
            f"order o {{\n{body}{stmt}\n"
            for body in ("", "project p {\n}\n", "project p {\n", "project p {\na on x\n")
            for stmt in (
                "strategy s {",
                "default strategy s {",
                "order q {",
                "import x",
                "tiers a",
                "actions a",
            )
        ),
    ],
    "a setting is one line, `KEY VALUE[, VALUE]` with an optional `{ ... }` block": [
        "strategy s {\nengine x y\n}\n",
        "strategy s {\nengine x {}\n}\n",
    ],
}

_SKIP_LINES_MAX = 20
# Blocks nest four deep in a meaningful spec (strategy > hosts > hook > parameters);
# the tree conversion recurses per level, so a limit keeps any input from
# exhausting Python's stack.  Documented in docs/language.md (K005).
MAX_NESTING = 32


@functools.lru_cache(maxsize=1)
def spec_parser() -> Lark:
    """The LALR parser, built once per process; its tables are cached on disk."""
    return Lark.open_from_package(
        "kostyor_dsl",
        "kostyor.lark",
        ("grammar",),
        parser="lalr",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=_cache_file(),
    )


def _cache_file() -> str | bool:
    """A cache file in a private per-user folder, or no cache.

    Not lark's default (`cache=True`): that is a predictable file in the shared
    temporary folder, which another user could plant (lark loads it as a
    pickle), and it fails outright when there is no writable temporary folder.
    Without a cache each run costs some 0.3 s more, nothing else.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "kostyor-dsl")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
        if info.st_uid != os.getuid() or info.st_mode & 0o022:
            return False
    except OSError:
        return False
    if not os.access(folder, os.W_OK):
        return False
    import lark

    # Named by the grammar's digest too: two checkouts or releases of
    # kostyor_dsl on one machine would otherwise rewrite one file in turn,
    # and each run would rebuild the tables (lark checks its own hash).
    grammar = resources.files("kostyor_dsl").joinpath("grammar", "kostyor.lark").read_bytes()
    digest = hashlib.sha256(grammar).hexdigest()[:16]
    return os.path.join(folder, f"grammar-lark{lark.__version__}-{digest}.cache")


def _token_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line, tok.column, tok.end_line, tok.end_column)


def _meta_span(file: str, meta) -> Span:
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return Span(file, meta.line, meta.column, meta.end_line, meta.end_column)


KEYWORDS = frozenset(
    {
        "ORDER",
        "PROJECT",
        "ON",
        "STRATEGY",
        "EXTENDS",
        "IMPORT",
        "TIERS",
        "ACTIONS",
        "IGNORE",
        "BARRIER",
        "BEFORE",
        "IRREVERSIBLE",
    }
)
VALUE_KINDS = {
    "STRING": "string",
    "NUMBER": "number",
    "PERCENT": "percent",
    "DURATION": "duration",
    "PAIR": "pair",
}


def _structural(children):
    """Children without their keyword tokens (kept by the grammar for `_word`)."""
    return [c for c in children if not (isinstance(c, Token) and c.type in KEYWORDS)]


class _ToAst(Transformer):
    """Parse tree -> AST.  Every rule has a method; anything else is a bug."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def __default__(self, data, children, meta):
        raise AssertionError(f"no AST conversion for grammar rule {data!r}")

    def _name(self, tok: Token) -> ast.Name:
        return ast.Name(str(tok), span=_token_span(self.file, tok))

    @v_args(meta=True)
    def start(self, meta, items):
        return tuple(items)

    @v_args(meta=True)
    def import_stmt(self, meta, children):
        children = _structural(children)
        (tok,) = children
        is_path = tok.type == "STRING"
        target = ast.Value("string", str(tok)).text if is_path else str(tok)
        return ast.Import(target, is_path, span=_token_span(self.file, tok))

    @v_args(meta=True)
    def tiers_stmt(self, meta, children):
        children = _structural(children)
        (names,) = children
        return ast.Tiers(names, span=_meta_span(self.file, meta))

    @v_args(meta=True)
    def actions_stmt(self, meta, children):
        children = _structural(children)
        (names,) = children
        return ast.Actions(names, span=_meta_span(self.file, meta))

    @v_args(meta=True)
    def irreversible_stmt(self, meta, children):
        (names,) = _structural(children)
        return ast.Irreversible(names, span=_meta_span(self.file, meta))

    @v_args(meta=True)
    def order_block(self, meta, children):
        children = _structural(children)
        name, *members = children
        projects = tuple(m for m in members if isinstance(m, ast.Project))
        ignores = tuple(m for m in members if isinstance(m, ast.Ignore))
        barriers = tuple(m for m in members if isinstance(m, ast.Barrier))
        return ast.Order(
            self._name(name),
            projects,
            span=self._name(name).span,
            ignores=ignores,
            barriers=barriers,
        )

    @v_args(meta=True)
    def barrier_stmt(self, meta, children):
        first, then = _structural(children)
        end = then[-1].span
        span = Span(self.file, meta.line, meta.column, end.end_line, end.end_column)
        return ast.Barrier(first, then, span=span)

    @v_args(meta=True)
    def project_steps(self, meta, children):
        when, names = children
        end = names[-1].span
        span = Span(self.file, when.line, when.column, end.end_line, end.end_column)
        return ast.ProjectSteps(str(when), names, span=span)

    @v_args(meta=True)
    def ignore_stmt(self, meta, children):
        (names,) = _structural(children)
        return ast.Ignore(names, span=_meta_span(self.file, meta))

    @v_args(meta=True)
    def project_block(self, meta, children):
        children = _structural(children)
        name, *members = children
        return ast.Project(
            self._name(name),
            tuple(m for m in members if isinstance(m, ast.Service)),
            span=self._name(name).span,
            steps=tuple(m for m in members if isinstance(m, ast.ProjectSteps)),
        )

    @v_args(meta=True)
    def service_stmt(self, meta, children):
        children = _structural(children)
        name, roles = children
        return ast.Service(self._name(name), roles, span=self._name(name).span)

    @v_args(meta=True)
    def strategy_block(self, meta, children):
        children = _structural(children)
        is_default = (
            bool(children) and isinstance(children[0], Token) and children[0].type == "DEFAULT"
        )
        if is_default:
            children = children[1:]
        name, *rest = children
        extends = None
        if rest and isinstance(rest[0], ast.Name):
            extends, *rest = rest
        return ast.Strategy(
            self._name(name),
            tuple(r for r in rest if isinstance(r, ast.Setting)),
            is_default=is_default,
            extends=extends,
            span=self._name(name).span,
            barriers=tuple(r for r in rest if isinstance(r, ast.Barrier)),
        )

    def extends(self, children):
        (tok,) = _structural(children)
        return self._name(tok)

    @v_args(meta=True)
    def setting(self, meta, children):
        key, *rest = children
        values: tuple[ast.Value, ...] = ()
        block = None
        for child in rest:
            if isinstance(child, list):
                block = tuple(child)
            else:
                values = child
        return ast.Setting(self._name(key), values, block, span=self._name(key).span)

    def block(self, children):
        return list(children)

    def value_list(self, children):
        return tuple(
            ast.Value(VALUE_KINDS.get(tok.type, "name"), str(tok), span=_token_span(self.file, tok))
            for tok in children
        )

    def name_list(self, children):
        return tuple(self._name(tok) for tok in children)


def parse_spec(text: str, file: str) -> ast.SpecFile:
    """Parse one spec file.  Raises CompileError with every syntax error found.

    A leading byte order mark is dropped first: positions count from the
    character after it."""
    text = without_bom(text)
    if not text.endswith("\n"):
        text += "\n"
    braces = _scan_braces(text)
    if braces.too_deep is not None:
        line, column = braces.too_deep
        raise CompileError(
            [
                error(
                    "K005",
                    f"blocks are nested more than {MAX_NESTING} levels deep",
                    Span(file, line, column, line, column + 1),
                    hints=("a spec needs four levels at most: strategy, hosts, hook, parameters",),
                )
            ],
            {file: text},
        )
    diagnostics: list[Diagnostic] = []
    attempt = text
    for _ in range(_SKIP_LINES_MAX):
        try:
            tree = spec_parser().parse(attempt)
        except UnexpectedInput as exc:
            diagnostics.append(_syntax_diagnostic(exc, attempt, file, braces))
            blanked = _blank_error_line(attempt, exc)
            if blanked is None:
                break
            attempt = blanked
            continue
        if diagnostics:
            break
        items = _ToAst(file).transform(tree)
        return ast.SpecFile(
            file,
            items,
            tuple(ast.Comment(str(c), span=_token_span(file, c)) for c in _scan_comments(text)),
        )
    raise CompileError(diagnostics, {file: text})


_COMMENT_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|(#[^\n]*)')


def _code(line: str) -> str:
    """A line without its comment, each string reduced to `""`: where braces count."""
    if "#" not in line and '"' not in line:
        return line
    return _COMMENT_RE.sub(lambda m: "" if m.group(1) else '""', line)


def _scan_comments(text: str):
    """Comments with positions, skipping `#` inside strings (the lexer's rule)."""
    for lineno, line in enumerate(source_lines(text), start=1):
        if "#" not in line:
            continue
        for m in _COMMENT_RE.finditer(line):
            if m.group(1):
                col = m.start(1) + 1
                yield Token(
                    "COMMENT",
                    m.group(1),
                    line=lineno,
                    column=col,
                    end_line=lineno,
                    end_column=col + len(m.group(1)),
                )
                break


@dataclass(frozen=True)
class _OpenBlock:
    line: int
    column: int  # of the header's first character
    end_column: int  # after its `{`
    header: str  # `project nova`, `hosts compute`: the words before `{`


@dataclass(frozen=True)
class _Braces:
    """What the braces of a text say, read before parsing it."""

    left_open: _OpenBlock | None  # the block most likely missing its `}`
    too_deep: tuple[int, int] | None  # (line, column) of a `{` past MAX_NESTING


def _scan_braces(text: str) -> _Braces:
    """Match braces the way a reader does: a `}` closes the open block whose header
    line is indented as the `}` is, so the block named as left open is the one
    whose `}` is missing, not the outermost one (which a count would blame).
    Without such a block (a file not laid out), the innermost open one."""
    stack: list[tuple[_OpenBlock, int]] = []
    missing: list[_OpenBlock] = []
    for number, line in enumerate(source_lines(text), start=1):
        if "{" not in line and "}" not in line:
            continue
        code = _code(line)
        indent = len(line) - len(line.lstrip(" \t"))
        for index, ch in enumerate(code):
            if ch == "{":
                header = printable(" ".join(code[:index].split()[-6:]))[:40]
                block = _OpenBlock(number, indent + 1, index + 2, header)
                stack.append((block, indent))
                if len(stack) > MAX_NESTING:
                    return _Braces(None, (number, index + 1))
            elif ch == "}" and stack:
                here = len(code) - len(code.lstrip(" \t")) if index == indent else None
                same = [i for i, (_, ind) in enumerate(stack) if ind == here]
                if same and same[-1] < len(stack) - 1:
                    missing.append(stack[same[-1] + 1][0])
                    del stack[same[-1] :]
                else:
                    stack.pop()
    if missing:
        return _Braces(missing[0], None)
    return _Braces(stack[-1][0] if stack else None, None)


def _blank_error_line(text: str, exc: UnexpectedInput) -> str | None:
    """Blank the offending line so parsing can go on and find later errors.

    Only when the line holds no brace: dropping a brace would report phantom
    errors further down.
    """
    line = getattr(exc, "line", -1)
    if isinstance(exc, UnexpectedEOF) or line is None or line < 1:
        return None
    lines = text.split("\n")
    if line > len(lines):
        return None
    bad = lines[line - 1]
    code = _code(bad)
    if "{" in code or "}" in code or not bad.strip():
        return None
    lines[line - 1] = ""
    return "\n".join(lines)


def _expected_words(expected) -> str:
    words = sorted({TOKEN_WORDS.get(t, t) for t in expected if not t.startswith("__")})
    if len(words) > 6:
        words = [*words[:6], "..."]
    return ", ".join(words)


@functools.lru_cache(maxsize=1)
def _example_states() -> dict[tuple[int, str], str]:
    """(LALR state, token type) of each labelled snippet's error -> its label.

    Like lark's `match_examples`, but keyed on the current state only: lark also
    compares the stack depth, which differs with what came before the error.
    """
    table: dict[tuple[int, str], str] = {}
    for label, snippets in SYNTAX_ERRORS.items():
        for snippet in snippets:
            try:
                spec_parser().parse(snippet)
            except UnexpectedToken as exc:
                table.setdefault((exc.state.position, exc.token.type), label)
            except UnexpectedInput:
                pass
    return table


def _label_for(exc: UnexpectedInput) -> str | None:
    if not isinstance(exc, UnexpectedToken) or exc.state is None:
        return None
    return _example_states().get((exc.state.position, exc.token.type))


# Hints for characters that cannot start a token, by what the writer probably meant.
CHARACTER_HINTS = {
    "'": 'strings use double quotes: "like this"',
    ";": "a statement ends at the end of its line: no ';'",
    ":": "a setting is `KEY VALUE`, without ':'",
    "=": "a selector is written without spaces: key=value",
}


def _unterminated_string(exc: UnexpectedCharacters, file: str) -> Diagnostic:
    span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
    return error(
        "K001",
        "unterminated string: no closing '\"' on this line",
        span,
        hints=(
            'a string starts and ends on one line: command "ssh {host} ..."',
            'write a quote inside a string as \\" and a backslash as \\\\',
        ),
    )


def _left_open_note(
    braces: _Braces, before_line: int, file: str
) -> tuple[tuple[Label, ...], tuple[str, ...]]:
    """A note on the block left open before an error, as Jinja names "the innermost
    block that needs to be closed"."""
    block = braces.left_open
    if block is None or block.line >= before_line:
        return (), ()
    span = Span(file, block.line, block.column, block.line, block.end_column)
    return (
        (Label(span, f"the block '{block.header}' opened here is not closed"),),
        (f"is a '}}' missing for '{block.header}' (line {block.line}) before line {before_line}?",),
    )


def _syntax_diagnostic(exc: UnexpectedInput, text: str, file: str, braces: _Braces) -> Diagnostic:
    label = _label_for(exc)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        if ch == '"':
            return _unterminated_string(exc, file)
        span = Span(file, exc.line, exc.column, exc.line, exc.column + 1)
        hints = (CHARACTER_HINTS[ch],) if ch in CHARACTER_HINTS else ()
        return error("K001", f"unexpected character {ch!r}", span, hints=hints)
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            block = braces.left_open
            if block is not None:
                return error(
                    "K002",
                    f"the block '{block.header}' is never closed: a '}}' is missing",
                    Span(file, block.line, block.column, block.line, block.end_column),
                    hints=(
                        "the end of the file came while this block was still open",
                        "every `{` needs a matching `}` on a line of its own",
                    ),
                )
            lines = source_lines(text) or [""]
            last = len(lines)
            span = Span(file, last, 1, last, len(lines[-1]) + 1)
            message = f"unexpected end of file; expected {_expected_words(exc.expected)}"
            return error("K002", message, span)
        if tok.type == "_NL":
            what = "end of line"
            span = Span(file, tok.line, tok.column, tok.line, tok.column + 1)
        else:
            word = TOKEN_WORDS.get(tok.type, tok.type)
            what = (
                f"'{tok}'" if tok.type == "NAME" or word == f"'{tok}'" else f"{word} {str(tok)!r}"
            )
            span = _token_span(file, tok)
        message = f"unexpected {what}: {label}" if label else f"unexpected {what}"
        hints = (f"expected {_expected_words(exc.expected)}",)
        labels, more = _left_open_note(braces, tok.line, file)
        return error("K002", message, span, hints=hints + more, labels=labels)
    span = Span(
        file, max(exc.line, 1), max(exc.column, 1), max(exc.line, 1), max(exc.column, 1) + 1
    )
    return error("K002", "syntax error", span)
