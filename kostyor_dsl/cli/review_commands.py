"""`kostyorc diff | graph | explain | codegen | fmt`: the reviewer's side of the compiler.

The work is done in `kostyor_dsl.review`; these handlers only read arguments,
call it and write the result.  Imports stay inside the handlers so that
`kostyorc diff` starts fast and never loads Celery.

Exit codes: `diff` 0 same, 1 different, 2 error (like `diff(1)`);
`fmt --check`/`--diff` 0 formatted, 1 not formatted, 2 error; the other commands 0 on
success and 1 on a user's error (unknown host, invalid plan file).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

from kostyor_dsl.cli.errors import CliError
from kostyor_dsl.cli.output import write_output
from kostyor_dsl.cli.simulate_commands import add_window_arguments, window_from_args

# Mermaid's default maxTextSize: larger diagrams are not rendered (GitHub keeps the default).
MERMAID_MAX_TEXT = 50_000


def register(subparsers) -> None:
    _register_diff(subparsers)
    _register_graph(subparsers)
    _register_explain(subparsers)
    _register_codegen(subparsers)
    _register_fmt(subparsers)


def _read_plan(path: str, exit_code: int = 1) -> dict:
    from kostyor_dsl.plan.read import PlanFileError, read_plan_file

    try:
        return read_plan_file(path)
    except PlanFileError as exc:
        raise CliError(str(exc), exit_code) from None


def _write(text: str, output: str | None) -> None:
    write_output(output, lambda stream: stream.write(text))
    if output in (None, "-"):
        sys.stdout.flush()


def _use_color(choice: str) -> bool:
    if choice == "always":
        return True
    if choice == "never":
        return False
    return (
        sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    )


# ---------------------------------------------------------------- diff


def _register_diff(subparsers) -> None:
    parser = subparsers.add_parser(
        "diff",
        help="compare two plans: steps and hosts added, removed, moved, changed",
        description=(
            "Compare two plans semantically: steps are matched by id, and only steps "
            "outside the longest common order are reported as moved. "
            "Exit status: 0 the plans are the same, 1 they differ, 2 an error."
        ),
    )
    parser.add_argument("old", metavar="OLD", help="the plan before (YAML or JSON)")
    parser.add_argument("new", metavar="NEW", help="the plan after")
    parser.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="text for a terminal (default), markdown for a pull-request comment, json for tools",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text format (auto: only on a terminal, not with NO_COLOR)",
    )
    parser.add_argument(
        "--max-items",
        type=int,
        default=None,
        metavar="N",
        help="markdown: at most N lines per section (default 100); the rest is counted",
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=None,
        metavar="N",
        help="markdown: at most N characters in all (default 60000, under GitHub's comment limit)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    add_window_arguments(parser)  # --timings/--step-seconds/--concurrency: how the window changes
    parser.set_defaults(func=run_diff)


def run_diff(args) -> int:
    from kostyor_dsl.review import diff_render
    from kostyor_dsl.review.diff import diff_plans

    old = _read_plan(args.old, exit_code=2)
    new = _read_plan(args.new, exit_code=2)
    result = replace(
        diff_plans(old, new, args.old, args.new), window=window_from_args(args, old, new)
    )
    if args.format == "json":
        text = diff_render.render_json(result)
    elif args.format == "markdown":
        max_items = args.max_items if args.max_items is not None else diff_render.MARKDOWN_MAX_ITEMS
        max_chars = args.max_chars if args.max_chars is not None else diff_render.MARKDOWN_MAX_CHARS
        if max_items < 1 or max_chars < 1000:
            raise CliError("--max-items must be at least 1 and --max-chars at least 1000", 2)
        text = diff_render.render_markdown(result, max_items, max_chars)
    else:
        color = _use_color(args.color) and args.output in (None, "-")
        text = diff_render.render_text(result, color=color)
    _write(text, args.output)
    return 0 if result.same else 1


# ---------------------------------------------------------------- graph


def _register_graph(subparsers) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw a plan as a Graphviz (dot) or Mermaid graph",
        description=(
            "Draw a plan: one cluster per host, steps in execution order, the hosts of "
            "a parallel step side by side. Render DOT with `dot -Tsvg`; paste Mermaid "
            "into a GitHub comment inside a ```mermaid block."
        ),
    )
    parser.add_argument("plan", metavar="PLAN", help="a plan file (YAML or JSON)")
    parser.add_argument(
        "--format",
        choices=("dot", "mermaid"),
        default="dot",
        help="dot: Graphviz, for `dot -Tsvg plan.dot -o plan.svg` (default); mermaid: a "
        "flowchart GitHub renders inside a ```mermaid block (up to 50,000 characters: "
        "large plans need dot)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(func=run_graph)


def run_graph(args) -> int:
    from kostyor_dsl.review import graph

    plan = _read_plan(args.plan)
    text = graph.to_dot(plan) if args.format == "dot" else graph.to_mermaid(plan)
    _write(text, args.output)
    if args.format == "mermaid" and len(text) > MERMAID_MAX_TEXT:
        print(
            f"kostyorc: note: {len(text)} characters of Mermaid; GitHub renders diagrams of "
            f"at most {MERMAID_MAX_TEXT} (Mermaid's maxTextSize): use --format dot for this plan",
            file=sys.stderr,
        )
    return 0


# ---------------------------------------------------------------- explain


def _register_explain(subparsers) -> None:
    parser = subparsers.add_parser(
        "explain",
        help="say in words why a host or a step is where it is in a plan",
        description="Explain a host's place (key service, rank, tier, spec line) or a step's.",
    )
    parser.add_argument("plan", metavar="PLAN", help="a plan file (YAML or JSON)")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--host", metavar="HOST", help="a host of the plan")
    what.add_argument("--step", metavar="ID", help="a step id of the plan")
    parser.set_defaults(func=run_explain)


def run_explain(args) -> int:
    from kostyor_dsl.review import explain

    plan = _read_plan(args.plan)
    try:
        if args.host is not None:
            text = explain.explain_host(plan, args.host)
        else:
            text = explain.explain_step(plan, args.step)
    except explain.UnknownName as exc:
        raise CliError(f"{args.plan}: {exc}") from None
    _write(text, None)
    return 0


# ---------------------------------------------------------------- codegen


def _register_codegen(subparsers) -> None:
    parser = subparsers.add_parser(
        "codegen",
        help="generate a standalone Python module building a plan's Celery canvas",
        description=(
            "Write a readable Python module that builds exactly the Celery canvas "
            "`kostyorc run` sends for this plan (same tasks, ids, queues, order)."
        ),
    )
    parser.add_argument("plan", metavar="PLAN", help="a plan file (YAML or JSON)")
    parser.add_argument("--target", choices=("celery",), default="celery")
    parser.add_argument(
        "--run-id",
        default=None,
        metavar="ID",
        help="the run id the task ids and queues carry (default: derived from the plan's content)",
    )
    parser.add_argument(
        "--route",
        choices=("run", "per-host"),
        default="run",
        help="one queue for the run (default) or one per host, as `kostyorc run --route`",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(func=run_codegen)


def run_codegen(args) -> int:
    from kostyor_dsl.review import codegen

    plan = _read_plan(args.plan)
    try:
        text = codegen.generate(plan, target=args.target, run_id=args.run_id, route=args.route)
    except codegen.CodegenError as exc:
        raise CliError(f"{args.plan}: {exc}") from None
    _write(text, args.output)
    return 0


# ---------------------------------------------------------------- fmt


def _register_fmt(subparsers) -> None:
    parser = subparsers.add_parser(
        "fmt",
        help="rewrite specs in the canonical layout, keeping comments",
        description=(
            "Lay out specs canonically (two-space indent, aligned `on` and settings, "
            "comments kept). Rewrites the files unless --check or --diff is given. "
            "Exit status: 0 every file is formatted (or was rewritten), 1 (with --check "
            "or --diff) some file is not formatted, 2 an error: a file that cannot be "
            "read or does not parse, or a formatter bug (then nothing is written)."
        ),
    )
    parser.add_argument("specs", metavar="SPEC", nargs="+", help="spec files (`-` for stdin)")
    parser.add_argument(
        "--check", action="store_true", help="only report files that are not formatted (exit 1)"
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print a unified diff instead of rewriting (exit 1 when there is one)",
    )
    parser.set_defaults(func=run_fmt)


def _read_spec_text(path: str) -> str:
    """A spec as it is on disk (byte order mark included: fmt drops it), bounded."""
    if path == "-":
        return sys.stdin.read()
    from kostyor_dsl.language.imports import read_spec_file

    text, problem = read_spec_file(path, regular_only=False, strip_bom=False)
    if text is None:
        raise CliError(f"{path}: {problem}", 2)
    return text


def run_fmt(args) -> int:
    import difflib

    from kostyor_dsl.language.diagnostics import CompileError, render_text
    from kostyor_dsl.language.source_text import source_lines
    from kostyor_dsl.review.fmt import format_spec

    unformatted = 0
    errors = 0
    for path in args.specs:
        try:
            text = _read_spec_text(path)
        except CliError as exc:
            print(f"kostyorc: error: {exc.message}", file=sys.stderr)
            errors += 1
            continue
        try:
            formatted = format_spec(text, path)
        except CompileError as exc:
            sys.stderr.write(render_text(exc.diagnostics, exc.sources))
            errors += 1
            continue
        except Exception as exc:  # FormatterBug, or any other bug: never exit 1 or write
            print(
                f"kostyorc: internal error: fmt cannot lay out {path} ({exc}); the file is "
                "left as it was. This is a bug in kostyorc fmt: please report it, "
                "with the file.",
                file=sys.stderr,
            )
            errors += 1
            continue
        if formatted == text:
            if path == "-" and not (args.check or args.diff):
                sys.stdout.write(formatted)
            continue
        unformatted += 1
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    source_lines(text, keepends=True),
                    source_lines(formatted, keepends=True),
                    f"{path} (original)",
                    f"{path} (formatted)",
                )
            )
        if args.check:
            print(f"{path}: not formatted", file=sys.stderr)
        elif not args.diff:
            if path == "-":
                sys.stdout.write(formatted)
            else:
                try:
                    write_output(path, lambda stream, text=formatted: stream.write(text))
                except CliError as exc:
                    print(f"kostyorc: error: {exc.message}", file=sys.stderr)
                    errors += 1
                    continue
                print(f"formatted {path}", file=sys.stderr)
    if errors:
        return 2
    return 1 if unformatted and (args.check or args.diff) else 0
