"""Serving a `LocalIssuer`'s endpoints over real sockets: the stdlib `ThreadingHTTPServer` in a
daemon thread on a loopback address, which can stop and start again on its port.

Private module: `jwks_middleware.testing.LocalIssuer` is the public face of all of this.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import urlsplit

from ._endpoints import NO_BODY_STATUSES, IssuerEndpoints, with_length

__all__ = ["LoopbackServer"]

#: How long an idle keep-alive connection is kept open, in seconds.
_IDLE_TIMEOUT: Final = 10.0
#: How often the accept loop checks for shutdown, in seconds (bounds `stop()`'s latency).
_POLL_INTERVAL: Final = 0.02
#: Largest request body read (an introspection form is far smaller); a larger one is refused.
_MAX_BODY: Final = 64 * 1024


class _HTTPServer(ThreadingHTTPServer):
    # Handler threads are joined by server_close() (on every Python version), so stop() leaves
    # no thread behind.
    daemon_threads = False
    block_on_close = True
    endpoints: IssuerEndpoints

    def __init__(self, address: tuple[str, int]) -> None:
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look the host name up (socket.getfqdn); not needed here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def track(self, connection: socket.socket) -> None:
        with self.connections_lock:
            self.connections.add(connection)
            stopping = self.stopping.is_set()
        if stopping:
            _shut(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self.connections_lock:
            self.connections.discard(connection)

    def close_connections(self) -> None:
        with self.connections_lock:
            self.stopping.set()
            connections = list(self.connections)
        for connection in connections:
            _shut(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a fetcher's timeout, a stop() in progress) is expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the client
        connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real identity providers answer
    timeout = _IDLE_TIMEOUT
    # Answer in one segment, without Nagle's delay: otherwise each keep-alive request waits
    # ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    wbufsize = -1
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # nothing is logged: a request line may carry a token

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET  # noqa: N815

    def _serve(self) -> None:
        endpoints = self.server.endpoints
        parts = urlsplit(self.path)
        path = parts.path or "/"
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = headers.get("content-length", "")
        size = int(length) if length.isdigit() else 0
        if size > _MAX_BODY:
            self.send_error(413)  # unread, the body would be taken for the next request: hang up
            self.close_connection = True
            return
        body = self.rfile.read(size)  # read even when unused, so keep-alive works
        rule = endpoints.receive(self.command, path, parts.query, headers)
        if rule is not None and rule.delay and self.server.stopping.wait(rule.delay):
            self.close_connection = True  # stopped while waiting: hang up without answering
            return
        answer = rule.answer if rule is not None and rule.answer is not None else None
        if answer is None:
            answer = endpoints.answer(self.command, path, headers, body)
        self.send_response(answer.status)
        for name, value in with_length(answer):
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD" or answer.status in NO_BODY_STATUSES:
            self.wfile.flush()
        elif rule is not None and rule.trickle:
            self._trickle(answer.body, rule.trickle)
        else:
            self.wfile.write(answer.body)
            self.wfile.flush()

    def _trickle(self, body: bytes, interval: float) -> None:
        for index in range(len(body)):
            if index and self.server.stopping.wait(interval):
                self.close_connection = True  # stopped meanwhile: hang up mid-answer
                return
            self.wfile.write(body[index : index + 1])
            self.wfile.flush()


class LoopbackServer:
    """A `ThreadingHTTPServer` in a daemon thread that can stop and start again on its port."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://[{self.host}]:{self.port}" if ":" in self.host else f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def bind(self) -> _HTTPServer:
        """Bind and listen (port 0 the first time: a free port, kept from then on)."""
        if self._httpd is None:
            server_class = _HTTPServer6 if ":" in self.host else _HTTPServer
            # SO_REUSEADDR (HTTPServer.allow_reuse_address) lets start() rebind the same port
            # while connections of the previous run are in TIME_WAIT.
            self._httpd = server_class((self.host, self.port))
            self.port = int(self._httpd.server_address[1])
        return self._httpd

    def start(self, endpoints: IssuerEndpoints) -> None:
        with self._lock:
            if self._thread is not None:
                return
            httpd = self.bind()
            httpd.endpoints = endpoints
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": _POLL_INTERVAL},
                name=f"LocalIssuer {self.url}",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
            if httpd is None:
                return
            if thread is not None:
                httpd.shutdown()  # the accept loop ends: no new connection after this
            httpd.close_connections()  # wakes slow answers and idle keep-alive connections
            httpd.server_close()  # closes the listening socket, joins the handler threads
            if thread is not None:
                thread.join()
