"""The language server: pygls features, each handed to the session (session.py).

This module imports only pygls and lsprotocol, so `initialize` is answered
before the compiler is imported; the session, and the compiler with it, is
loaded right after (`initialized`), while the editor opens its documents.
"""

from __future__ import annotations

import functools
import logging
import sys

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from kostyor_dsl import __version__
from kostyor_dsl.lsp.config import Settings
from kostyor_dsl.lsp.protocol import BoundedStdin, KostyorProtocol

log = logging.getLogger(__name__)


class KostyorLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "kostyorc",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Full,
            protocol_cls=KostyorProtocol,
        )
        self.settings = Settings()
        self._session = None

    @property
    def session(self):
        if self._session is None:
            from kostyor_dsl.lsp.session import Session

            self._session = Session(self)
        return self._session


server = KostyorLanguageServer()


def _work():
    from kostyor_dsl.lsp import session

    return session


def guarded(default):
    """A request that meets a bug answers `default` and logs it, rather than an error
    popping up in the editor at every keystroke."""

    def wrap(handler):
        @functools.wraps(handler)
        def run(ls: KostyorLanguageServer, params):
            try:
                return handler(ls, params)
            except Exception as exc:
                log.exception("%s failed", handler.__name__)
                ls.window_log_message(
                    types.LogMessageParams(
                        types.MessageType.Error,
                        f"kostyorc lsp: {handler.__name__} failed: {type(exc).__name__}: {exc}",
                    )
                )
                return default() if callable(default) else default

        return run

    return wrap


@server.feature(types.INITIALIZE)
def initialize(ls: KostyorLanguageServer, params: types.InitializeParams) -> None:
    ls.settings = Settings.from_options(params.initialization_options)


WATCHED = "**/*.{kostyor,yaml,yml,json}"  # imported specs and inventories


@server.feature(types.INITIALIZED)
def initialized(ls: KostyorLanguageServer, params: types.InitializedParams) -> None:
    watching = (
        ls.client_capabilities.workspace
        and ls.client_capabilities.workspace.did_change_watched_files
    )
    if watching and watching.dynamic_registration:
        options = types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern=WATCHED)]
        )
        registration = types.Registration(
            "kostyor-watched-files", types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options
        )
        ls.client_register_capability(types.RegistrationParams([registration]))
    ls.session  # noqa: B018 - load the compiler now, before the first document


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
def did_change_watched_files(
    ls: KostyorLanguageServer, params: types.DidChangeWatchedFilesParams
) -> None:
    ls.session.recheck_dependents(*(change.uri for change in params.changes))


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(
    ls: KostyorLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    ls.settings = Settings.from_options(params.settings, ls.settings)
    _work().did_change_configuration(ls.session)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: KostyorLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.session.check_now(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: KostyorLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.session.schedule(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: KostyorLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    ls.session.check_now(params.text_document.uri)
    ls.session.recheck_dependents(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: KostyorLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.session.close(params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_HOVER)
@guarded(None)
def hover(ls: KostyorLanguageServer, params: types.HoverParams) -> types.Hover | None:
    return _work().hover(ls.session, params)


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
@guarded(None)
def definition(ls: KostyorLanguageServer, params: types.DefinitionParams):
    return _work().goto_definition(ls.session, params)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["="]))
@guarded(lambda: types.CompletionList(is_incomplete=False, items=[]))
def completion(ls: KostyorLanguageServer, params: types.CompletionParams):
    return _work().complete(ls.session, params)


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
@guarded(None)
def formatting(ls: KostyorLanguageServer, params: types.DocumentFormattingParams):
    return _work().formatting(ls.session, params)


@server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded(list)
def document_symbols(ls: KostyorLanguageServer, params: types.DocumentSymbolParams):
    return _work().document_symbols(ls.session, params)


@server.feature(
    types.TEXT_DOCUMENT_CODE_ACTION,
    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
)
@guarded(list)
def code_actions(ls: KostyorLanguageServer, params: types.CodeActionParams):
    return _work().code_actions(ls.session, params)


def serve() -> int:
    """Serve over stdio until the editor exits; 1 when a message too large ended it."""
    stdin = BoundedStdin(sys.stdin.buffer, server.protocol)
    server.start_io(stdin=stdin)
    return 1 if stdin.refused is not None else 0


def main() -> None:
    sys.exit(serve())
