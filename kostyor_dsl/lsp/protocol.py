"""The JSON-RPC layer under the language server: pygls's, with three repairs.

- Memory: pygls 2.1 keeps a `Future` in `_request_futures` for every
  notification handled by a generator (didOpen, didChange, didClose, ...) and
  only requests ever remove theirs, so each keystroke leaked one.  The future
  of a notification is dropped once it is done.
- Size: a header `Content-Length: 1000000000000` made pygls read (and
  allocate) that much.  A message over `MAX_MESSAGE_BYTES`, or a header line
  over `MAX_HEADER_BYTES`, is answered with a JSON-RPC error and the server
  stops: the stream cannot be resynchronised without reading the body.
- Invalid params: a request whose params do not fit the method's type got no
  reply at all (the editor waits for ever); it gets an "invalid params" error.

Like server.py this imports only pygls and lsprotocol (startup time).
"""

from __future__ import annotations

import logging
from typing import BinaryIO

from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a whole-document change of a 250 MB spec
MAX_HEADER_BYTES = 64 * 1024

_ANSWERED = object()  # a message already answered with an error: nothing more to do


class KostyorProtocol(LanguageServerProtocol):
    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        if callback == self._check_handler_result:  # a notification: see the module's doc

            def done(future, msg_id=msg_id):
                self._request_futures.pop(msg_id, None)
                callback(future)

            return super()._execute_handler(msg_id, handler, done, args, kwargs)
        return super()._execute_handler(msg_id, handler, callback, args, kwargs)

    def structure_message(self, data):
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data:
                self._send_response(data["id"], None, exc.to_response_error())
                return _ANSWERED
            raise

    def handle_message(self, message):
        if message is _ANSWERED:
            return None
        return super().handle_message(message)


class BoundedStdin:
    """stdin as pygls reads it (`readline`, `read(n)`), refusing what is too large.

    The refusal is sent from pygls's reading thread: pygls writes each message
    with one `write` of a buffered stdout, which holds a lock, so it cannot
    interleave with a message the event loop sends.  The empty read that follows
    ends pygls's loop and the server shuts down."""

    def __init__(self, stdin: BinaryIO, protocol: LanguageServerProtocol) -> None:
        self.stdin = stdin
        self.protocol = protocol
        self.refused: str | None = None

    def readline(self) -> bytes:
        line = self.stdin.readline(MAX_HEADER_BYTES + 1)
        if len(line) > MAX_HEADER_BYTES:
            return self._refuse(f"a header line longer than {MAX_HEADER_BYTES} bytes")
        return line

    def read(self, n: int) -> bytes:
        if n > MAX_MESSAGE_BYTES:
            return self._refuse(
                f"a message of {n} bytes (Content-Length); at most {MAX_MESSAGE_BYTES} are accepted"
            )
        return self.stdin.read(n)

    def _refuse(self, what: str) -> bytes:
        self.refused = f"kostyorc lsp: {what}: closing the connection"
        log.error("%s", self.refused)
        reply = {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": -32600, "message": self.refused},
        }
        self.protocol._send_data(reply)
        return b""
