"""The JSON-RPC layer against a raw client (issue 21, item 11): messages too large,
params of the wrong type, and what each notification leaves behind."""

from __future__ import annotations

import json
import subprocess
import sys

from kostyor_dsl.lsp.server import KostyorLanguageServer

SERVER = [sys.executable, "-m", "kostyor_dsl", "lsp"]
PATIENCE = 60


def frame(message: dict) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_message(stream) -> dict:
    length = None
    while True:
        line = stream.readline()
        assert line, "the server closed its output"
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


def response_to(stream, msg_id) -> dict:
    while True:
        message = read_message(stream)
        if "method" not in message and message.get("id") == msg_id:
            return message


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"processId": None, "rootUri": None, "capabilities": {}},
}


def start(tmp_path):
    return subprocess.Popen(
        SERVER,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )


def stop(proc) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(PATIENCE)
    proc.stdin.close()
    proc.stdout.close()


def test_a_huge_content_length_gets_an_error_and_a_clean_exit(tmp_path):
    proc = start(tmp_path)
    try:
        proc.stdin.write(frame(INITIALIZE))
        proc.stdin.flush()
        assert "capabilities" in response_to(proc.stdout, 1)["result"]
        proc.stdin.write(b"Content-Length: 1000000000000\r\n\r\n")
        proc.stdin.flush()
        reply = response_to(proc.stdout, None)
        assert reply["error"]["code"] == -32600
        assert "1000000000000 bytes" in reply["error"]["message"]
        assert proc.wait(PATIENCE) == 1
    finally:
        stop(proc)


def test_invalid_params_get_an_error_reply(tmp_path):
    proc = start(tmp_path)
    try:
        proc.stdin.write(frame(INITIALIZE))
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        proc.stdin.write(
            frame(
                {
                    "jsonrpc": "2.0",
                    "id": 7,
                    "method": "textDocument/hover",
                    "params": {"textDocument": 5, "position": "here"},
                }
            )
        )
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 8, "method": "shutdown"}))
        proc.stdin.flush()
        assert response_to(proc.stdout, 7)["error"]["code"] == -32602
        assert response_to(proc.stdout, 8)["result"] is None  # and it still answers
    finally:
        stop(proc)


class Collected:
    def __init__(self):
        self.written = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def close(self) -> None:
        pass


def test_notifications_leave_no_futures_behind(tmp_path):
    ls = KostyorLanguageServer()
    ls.protocol.set_writer(Collected())

    def send(message: dict) -> None:
        body = json.dumps(message)
        ls.protocol.handle_message(json.loads(body, object_hook=ls.protocol.structure_message))

    send(INITIALIZE)
    uri = (tmp_path / "a.kostyor").as_uri()
    send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {
                "textDocument": {"uri": uri, "languageId": "kostyor", "version": 1, "text": ""}
            },
        }
    )
    for version in range(2, 502):
        send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"text": f"# {version}\n"}],
                },
            }
        )
    assert len(ls.protocol._request_futures) < 5
