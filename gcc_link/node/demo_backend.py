"""A stand-in agency backend for the demo and tests: answers every demo service with JSON.

Serves ``POST /backend/<CC>/<AGENCY>/<code>`` on 127.0.0.1 with answers that
are plainly marked ``"demonstration_data": true``. Standard library only.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..protocol.identifiers import ServiceId


def answer(service: str, request: Any, sender: str) -> dict[str, Any]:
    """The demonstration answer of ``service`` to ``request``."""
    code = ServiceId.parse(service).code
    req = request if isinstance(request, dict) else {"request": request}
    base: dict[str, Any] = {"service": service, "asked_by": sender, "demonstration_data": True}
    if code.endswith("verify"):
        return {**base, "id_number": req.get("id_number"), "valid": True, "status": "active"}
    if code == "vehicle-record":
        return {
            **base,
            "plate": req.get("plate"),
            "registered": True,
            "make": "Toyota",
            "model": "Land Cruiser",
            "year": 2022,
            "insurance_valid_until": "2027-06-30",
        }
    if code == "nurse-licence":
        return {**base, "licence": req.get("licence"), "status": "active", "speciality": "general nursing"}
    if code == "commercial-registration":
        return {**base, "cr_number": req.get("cr_number"), "status": "active", "activity": "general trading"}
    return {**base, "echo": req}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        if not self.path.startswith("/backend/"):
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(min(length, 1 << 20)) or b"null")
        except ValueError:
            self.send_error(400)
            return
        body = json.dumps(
            answer(self.path[len("/backend/") :], request, self.headers.get("X-GCC-Link-Sender", ""))
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def start(port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve in a daemon thread; call ``.shutdown()`` to stop."""
    server = ThreadingHTTPServer((host, port), _Handler)
    threading.Thread(target=server.serve_forever, name="demo-backend", daemon=True).start()
    return server
