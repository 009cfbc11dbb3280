"""`kostyorc`: a thin command line over the library.

Each command group lives in its own module with a `register(subparsers)`
function; a command is a function `(args) -> int` (the exit code).  User
mistakes raise `CliError` and become one message on stderr, never a traceback.
Modules must stay cheap to import: Celery is imported inside the runtime
commands only, so compile/check/diff/graph start fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from kostyor_dsl.cli.errors import CliError
from kostyor_dsl.gc_paused import gc_paused

COMMAND_MODULES = (
    "kostyor_dsl.cli.compile_commands",
    "kostyor_dsl.cli.import_commands",
    "kostyor_dsl.cli.review_commands",
    "kostyor_dsl.cli.runtime_commands",
    "kostyor_dsl.cli.simulate_commands",
    "kostyor_dsl.cli.lsp_command",
    "kostyor_dsl.cli.serve_command",
)


class _VersionAction(argparse.Action):
    """`--version`, worked out only when asked for (it looks at the YAML library)."""

    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from kostyor_dsl.cli.version import version_text

        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kostyorc",
        description=(
            "Compile OpenStack rolling-upgrade specs into reviewable upgrade plans, "
            "and run plans through Celery."
        ),
        epilog="Run `kostyorc COMMAND --help` for the options of one command.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the version and the YAML library in use"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.set_defaults(command_parsers=subparsers.choices)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


# Commands that read or write plans and then end; `run` pauses the collector
# itself while it submits (with --wait it then follows the run for hours).
_ONE_SHOT = frozenset(
    {"compile", "check", "import", "diff", "graph", "explain", "codegen", "status", "simulate"}
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse reports a subcommand's unknown options with the top-level usage;
        # the command's own usage (and its --help) is what helps.
        command = args.command_parsers.get(args.command) if args.command else None
        (command or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command in _ONE_SHOT:
            with gc_paused():  # see gc_paused: plans are millions of small acyclic objects
                return args.func(args)
        return args.func(args)
    except CliError as exc:
        from kostyor_dsl.language.printable import printable

        # Messages quote plans, run records and paths: no escape sequence reaches the terminal.
        print(f"kostyorc: error: {printable(exc.message)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kostyorc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`kostyorc compile ... | head`): not an error of ours.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        return 0


if __name__ == "__main__":
    sys.exit(main())
