"""A read-only stand-in for the Neutron API, used only with ``--neutron standin``.

Nova calls Neutron even for servers booted with ``--nic none`` (security
groups, a migration's resource requests, port lists on delete).  This answers
every collection ``GET /v2.0/<collection>`` with an empty list, the version
documents, and 404 for everything else.  It checks no token.  The harness
prefers the real neutron-server (ML2, no agents); docs/e2e.md says when this
one is used.

    python neutron_standin.py PORT
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        port = self.server.server_address[1]
        if path in ("", "/"):
            self._send(
                200,
                {
                    "versions": [
                        {
                            "id": "v2.0",
                            "status": "CURRENT",
                            "links": [{"rel": "self", "href": f"http://127.0.0.1:{port}/v2.0/"}],
                        }
                    ]
                },
            )
            return
        parts = path.split("/")[1:]
        if parts[0] != "v2.0":
            self._send(404, {"NeutronError": {"message": "not found"}})
        elif len(parts) == 1:
            self._send(200, {"resources": []})
        elif len(parts) == 2:
            name = parts[1].removesuffix(".json").replace("-", "_")
            self._send(200, {name: []})
        else:
            self._send(404, {"NeutronError": {"message": "not found"}})

    def do_POST(self) -> None:
        self._send(404, {"NeutronError": {"message": "the stand-in creates nothing"}})

    do_PUT = do_DELETE = do_POST

    def log_message(self, format, *args) -> None:
        sys.stderr.write(f"{self.command} {self.path}\n")


def main() -> None:
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()


if __name__ == "__main__":
    main()
