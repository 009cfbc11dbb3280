"""`kostyorc serve`: the live view of runs in a browser (`kostyor_dsl.web`).

Starlette, sse-starlette and uvicorn are the `web` extra; they are imported
only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from kostyor_dsl.cli.errors import CliError

DEFAULT_BIND = "127.0.0.1:8780"
TOKEN_VARIABLE = "KOSTYOR_SERVE_TOKEN"


def parse_bind(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise CliError(f"--bind {text!r}: expected HOST:PORT, e.g. {DEFAULT_BIND}", 2)
    return host.strip("[]"), int(port)


def read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as stream:
            token = stream.read().strip()
    except OSError as exc:
        raise CliError(f"--token-file {path}: cannot read it: {exc.strerror}", 1) from None
    except UnicodeDecodeError:
        raise CliError(f"--token-file {path}: not UTF-8 text", 1) from None
    if len(token) < 16 or any(char.isspace() for char in token):
        raise CliError(
            f"--token-file {path}: the token must be one word of at least 16 characters "
            "(e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`)",
            1,
        )
    return token


def serve_command(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from kostyor_dsl.web.app import ServeState, create_app
        from kostyor_dsl.web.security import Guard, is_loopback, new_token
    except ModuleNotFoundError as exc:
        raise CliError(
            f"kostyorc serve needs the web extra ({exc.name} is not installed): "
            "pip install 'kostyor-dsl[web]'",
            1,
        ) from None
    from kostyor_dsl.cli.runtime_commands import _apply_connection_flags, _user_errors

    host, port = parse_bind(args.bind)
    loopback = is_loopback(host)
    if args.token_file:
        token, told = read_token(args.token_file), f"the token in {args.token_file}"
    elif os.environ.get(TOKEN_VARIABLE):
        token, told = os.environ[TOKEN_VARIABLE].strip(), f"the token in ${TOKEN_VARIABLE}"
    else:
        token, told = new_token(), ""
    with _user_errors(args):
        _apply_connection_flags(args)
        from kostyor_dsl.runtime.settings import resolve_settings
        from kostyor_dsl.runtime.store_factory import open_store

        store = open_store(resolve_settings(), watching=True)
        store.list_runs()  # an unreachable store is said now, not on the first page

    def control_app():
        from kostyor_dsl.runtime import app as app_module

        return app_module.app

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as exc:
        listener.close()
        raise CliError(f"--bind {args.bind}: cannot listen there: {exc.strerror}", 1) from None
    listener.listen(128)
    port = listener.getsockname()[1]
    guard = Guard(token=token, loopback=loopback, port=port, read_only=args.read_only)
    state = ServeState(store=store, guard=guard, control_app=control_app)
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/"
    print(f"kostyorc serve: runs in {store.describe()}", flush=True)
    if args.read_only:
        print(f"  read-only view: {address}", flush=True)
    if told:
        print(f"  open {address}?token=TOKEN with {told}", flush=True)
    else:
        print(f"  open {address}?token={token}", flush=True)
    if not loopback:
        print(f"  bound to {host}: every request needs the token", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        create_app(state),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[listener])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    from kostyor_dsl.cli.runtime_commands import _connection_options

    serve = subparsers.add_parser(
        "serve",
        help="a live view of the runs in a browser, with pause, resume, cancel, retry",
        description="Serve the runs of this run store as web pages that follow them live "
        "(server-sent events), with the control verbs of `kostyorc pause | resume | cancel | "
        "retry` and gate approval.  Listens on 127.0.0.1 only unless --bind says otherwise; "
        "prints the address to open, with its token.  See docs/serve.md.",
        epilog="Exit status: 0 stopped (Ctrl-C), 1 the store cannot be read, the address "
        "is taken, or the web extra is missing, 2 a usage error.",
    )
    serve.add_argument(
        "--bind",
        default=DEFAULT_BIND,
        metavar="HOST:PORT",
        help=f"where to listen (default {DEFAULT_BIND}; port 0 picks a free one); on any "
        "address but loopback every request needs the token",
    )
    serve.add_argument(
        "--read-only",
        action="store_true",
        help="no control verb at all (a wall screen)",
    )
    serve.add_argument(
        "--token-file",
        metavar="FILE",
        help=f"the token, one word in FILE (default: ${TOKEN_VARIABLE}, else a new one "
        "printed at start)",
    )
    _connection_options(serve)
    serve.set_defaults(func=serve_command)
