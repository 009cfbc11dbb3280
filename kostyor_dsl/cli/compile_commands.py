"""`kostyorc compile` and `kostyorc check`."""

from __future__ import annotations

import argparse
import os
import sys

from kostyor_dsl.cli.output import write_output

DIAGNOSTIC_FORMATS = ("text", "json", "sarif")


def register(subparsers) -> None:
    compile_parser = subparsers.add_parser(
        "compile",
        help="compile a spec and an inventory into an upgrade plan",
        description=(
            "Compile SPEC (a .kostyor file, or the name of a shipped spec such as "
            "'openstack') and an inventory into an upgrade plan, printed on stdout "
            "or written to -o FILE.  The plan is byte-identical for identical inputs."
        ),
        epilog="Exit status: 0 plan written, 1 the spec or inventory has errors, 2 usage error.",
    )
    compile_parser.add_argument("spec", metavar="SPEC", help="spec file, or a shipped spec name")
    compile_parser.add_argument(
        "-i", "--inventory", required=True, metavar="INV", help="inventory file (YAML or JSON)"
    )
    _strategy_options(compile_parser)
    compile_parser.add_argument(
        "--format", choices=("yaml", "json"), default="yaml", help="plan format (default: yaml)"
    )
    compile_parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the plan to FILE instead of stdout"
    )
    _diagnostic_options(compile_parser, "stderr (stdout may be the plan)")
    compile_parser.set_defaults(func=run_compile)

    check_parser = subparsers.add_parser(
        "check",
        help="validate a spec (and an inventory) without writing a plan",
        description=(
            "Check SPEC for every problem (syntax, names, references) and, with "
            "--inventory, the inventory against the chosen strategy's order."
        ),
        epilog="Exit status: 0 no errors (warnings allowed), 1 errors found, 2 usage error.",
    )
    check_parser.add_argument("spec", metavar="SPEC", help="spec file, or a shipped spec name")
    check_parser.add_argument(
        "-i", "--inventory", metavar="INV", help="also check this inventory (YAML or JSON)"
    )
    _strategy_options(check_parser)
    _diagnostic_options(check_parser, "stderr (text) or stdout (json, sarif)")
    check_parser.set_defaults(func=run_check)


def _strategy_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-s", "--strategy", metavar="NAME", help="strategy to use (default: the spec's default)"
    )
    parser.add_argument(
        "--limit",
        metavar="SELECTORS",
        help="only the hosts these selectors match (TIER, name=GLOB, service=GLOB, LABEL=GLOB; "
        "comma-separated, all must match): a partial plan, marked as such",
    )
    parser.add_argument(
        "--allow-unknown-services",
        action="store_true",
        help="report hosts' services that the order does not know as warnings, not errors",
    )


def _diagnostic_options(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "--diagnostics-format",
        choices=DIAGNOSTIC_FORMATS,
        default="text",
        help="how to report problems: text (default), json (like terraform validate -json), "
        "or sarif (SARIF 2.1.0 for code scanning)",
    )
    parser.add_argument(
        "--diagnostics-output",
        metavar="FILE",
        help="write the diagnostics (in --diagnostics-format) to FILE instead of "
        f"{where}; files are named relative to the working directory, in every format",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour text diagnostics (auto: only on a terminal, and not with NO_COLOR)",
    )


def render_diagnostics(
    fmt: str,
    diagnostics,
    sources,
    stream,
    color_mode: str = "auto",
    spec: str | None = None,
    inventory: str | None = None,
) -> str:
    from kostyor_dsl.language import diagnostics as diag

    diagnostics, sources = located_here(diagnostics, sources, spec, inventory)
    if fmt == "json":
        return diag.render_json(diagnostics)
    if fmt == "sarif":
        from kostyor_dsl.language.sarif import render_sarif

        return render_sarif(diagnostics, sources)
    return diag.render_text(diagnostics, sources, color=_use_color(color_mode, stream))


def located_here(diagnostics, sources, spec: str | None, inventory: str | None):
    """The diagnostics with their files named relative to the working directory.

    The library names a spec's files relative to the root spec's folder and the
    inventory by its base name, so that plans (whose steps cite their source)
    never depend on where `kostyorc` ran.  CI runs it at the repository's root and
    must find `deploy/upgrade.kostyor` from what it prints: text, JSON and SARIF
    all get the same paths.  Shipped specs (`<shipped>/...`) keep their names, and
    so do files outside the working directory."""
    from dataclasses import replace

    names = {}
    folder = os.path.dirname(spec) if spec and os.path.isfile(spec) else None
    for display in sources:
        if display.startswith("<"):
            continue
        if inventory and display == os.path.basename(inventory):
            names[display] = _here(inventory)
        elif folder is not None:
            names[display] = _here(os.path.join(folder, display))
    # Outside the working directory a `../../` path helps no one (and is no valid
    # SARIF location): those keep the library's names.
    names = {old: new for old, new in names.items() if new != old and not new.startswith("../")}
    if not names:
        return diagnostics, sources

    def move(span):
        return replace(span, file=names.get(span.file, span.file)) if span else span

    moved = [
        replace(
            d,
            span=move(d.span),
            labels=tuple(replace(label, span=move(label.span)) for label in d.labels),
        )
        for d in diagnostics
    ]
    return moved, {names.get(name, name): text for name, text in sources.items()}


def _here(path: str) -> str:
    return os.path.normpath(os.path.relpath(path)).replace(os.sep, "/")


def _use_color(mode: str, stream) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def _report(args, diagnostics, sources, to_stdout: bool) -> None:
    """Text goes to stderr; machine formats go to stdout for `check` (they are its
    output), to stderr for `compile` (stdout may be the plan); --diagnostics-output
    FILE takes them instead, in any format (written even when there are none, so CI
    always finds the file)."""
    target = getattr(args, "diagnostics_output", None)
    if target:
        from kostyor_dsl.cli.errors import CliError

        text = render_diagnostics(
            args.diagnostics_format,
            diagnostics,
            sources,
            None,
            "never",
            args.spec,
            args.inventory,
        )
        try:
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(text if not text or text.endswith("\n") else text + "\n")
        except OSError as exc:
            raise CliError(f"cannot write {target}: {exc.strerror or exc}", 1) from None
        return
    stream = sys.stdout if (to_stdout and args.diagnostics_format != "text") else sys.stderr
    if not diagnostics and args.diagnostics_format == "text":
        return
    stream.write(
        render_diagnostics(
            args.diagnostics_format,
            diagnostics,
            sources,
            stream,
            args.color,
            args.spec,
            args.inventory,
        )
    )
    stream.flush()


def run_check(args) -> int:
    from kostyor_dsl.compiler import check

    report = check(
        args.spec, args.inventory, args.strategy, args.allow_unknown_services, args.limit
    )
    _report(args, report.diagnostics, report.sources, to_stdout=True)
    if not report.ok:
        return 1
    if args.diagnostics_format == "text":
        what = f"{args.spec}" + (f" with {args.inventory}" if args.inventory else "")
        print(f"ok: {what}", file=sys.stderr)
    return 0


def run_compile(args) -> int:
    from kostyor_dsl.compiler import CompileError, compile_to

    def compile_into(stream):
        return compile_to(
            stream,
            args.spec,
            args.inventory,
            args.format,
            args.strategy,
            args.allow_unknown_services,
            args.limit,
        )

    try:
        written = write_output(args.output, compile_into)
    except CompileError as exc:
        _report(args, exc.diagnostics, exc.sources, to_stdout=False)
        return 1
    _report(args, written.warnings, written.sources, to_stdout=False)
    return 0
