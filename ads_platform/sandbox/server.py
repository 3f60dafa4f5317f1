"""The HTTP transport: a stdlib ThreadingHTTPServer speaking HTTP/1.1 keep-alive.

One thread per connection, so a ``timeout`` fault or ``--latency-ms`` sleeping in
one handler never blocks other connections. Each response is written with a
single ``write`` (status line, headers and body together) and Nagle is off, which
avoids the 40 ms delayed-ACK stall of split writes and keeps throughput above
1,000 requests/s on loopback. Request logging is off.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import socket
import struct
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .admin import ControlApi
from .config import SandboxConfig
from .graph import GraphApi, GraphRequest
from .state import SandboxState
from .wire import JSON_TYPE, GraphError, Response, dumps, invalid_param, param_text

CONTROL_PREFIX = "/__sandbox"
_REASONS = {s.value: s.phrase for s in HTTPStatus}


class SandboxHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its sandbox and can cut idle keep-alive sockets."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.graph = GraphApi(state)
        self.control = ControlApi(state)
        self.closing = False
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Unblock handler threads parked on idle keep-alive connections."""
        self.closing = True
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SandboxGraph/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Request logging is off: it would cost more than serving the request."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server = self.server
        if server.closing:
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            if parts.path.startswith(CONTROL_PREFIX):
                resp = server.control.handle(self.command, parts.path, query, raw)
            else:
                resp = self._graph(parts.path, query, raw)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            resp = Response(
                status=500, body=dumps({"error": {"message": "sandbox failure", "code": 1}})
            )
        if resp.sleep_s > 0:
            time.sleep(resp.sleep_s)
        if resp.reset:
            self._reset()
            return
        if resp.drop:
            self.close_connection = True
            return
        self._write(resp)

    def _reset(self) -> None:
        """Cut the connection with a TCP RST instead of an answer (``connection_reset``).

        With ``SO_LINGER`` on and a zero timeout, closing the socket discards what is
        unsent and sends RST; closing it here, before the server's usual
        ``shutdown(SHUT_WR)`` could send a FIN, makes the client read ``ECONNRESET``,
        not a clean end of stream.
        """
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    def _body_params(self, raw: bytes) -> dict[str, str]:
        """Parameters carried by a POST body: form-encoded (the SDK) or a JSON object.

        Both end up as the same text a query string would carry, so one parser reads
        them (see ``filters.py``); any other body carries no parameters.
        """
        if not raw:
            return {}
        ctype = self.headers.get("Content-Type", "")
        text = raw.decode("utf-8", "replace")
        if "application/x-www-form-urlencoded" in ctype:
            return dict(parse_qsl(text, keep_blank_values=True))
        if "application/json" in ctype:
            try:
                body = json.loads(text)
            except ValueError as exc:
                raise invalid_param("The JSON request body is not valid JSON") from exc
            if not isinstance(body, dict):
                raise invalid_param("A JSON request body must be an object of parameters")
            return {str(k): param_text(v) for k, v in body.items()}
        return {}

    def _graph(self, path: str, query: dict[str, str], raw: bytes) -> Response:
        server = self.server
        try:
            params = {**query, **self._body_params(raw)}
        except GraphError as exc:
            return exc.response(server.state.next_trace_id())
        server.state.stats.enter()
        try:
            resp = server.graph.handle(
                GraphRequest(
                    method=self.command,
                    path=path,
                    params=params,
                    authorization=self.headers.get("Authorization"),
                )
            )
            # The latency is part of the request: a client's concurrency shows in
            # ``max_in_flight`` only if the requests it overlaps are counted while they wait.
            latency = server.state.config.latency_ms
            if latency > 0:
                time.sleep(latency / 1000.0)
        finally:
            server.state.stats.leave()
        return resp

    def _write(self, resp: Response) -> None:
        lines = [
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
            f"Content-Type: {resp.content_type or JSON_TYPE}",
            f"Content-Length: {len(resp.body)}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
        ]
        lines.extend(f"{name}: {value}" for name, value in resp.headers)
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + resp.body)
        except OSError:
            self.close_connection = True


class SandboxServer:
    """A sandbox serving in a background thread of this process."""

    def __init__(self, config: SandboxConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = SandboxState(config)
        self.httpd = SandboxHTTPServer((host, port), self.state)
        bound_host, bound_port = self.httpd.server_address[:2]
        shown = bound_host if isinstance(bound_host, str) else bound_host.decode()
        self.base_url = f"http://{shown}:{bound_port}"
        self.state.base_url = self.base_url
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"sandbox-{self.base_url}",
            daemon=True,
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop`` (or KeyboardInterrupt)."""
        self.httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.close_connections()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
