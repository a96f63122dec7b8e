"""How a `LocalIssuer` answers HTTP: endpoints, faults, counters, and the two ways to serve them.

`IssuerEndpoints` decides every answer (normal documents with caching headers, or an injected
fault) and counts requests; `LoopbackServer` serves it with the stdlib `ThreadingHTTPServer`
in a daemon thread on a loopback address, and `IssuerEndpoints.asgi_app` as a Starlette app.
Both share one decision path, so a fault behaves the same over a socket and in memory.

Private module: `jwks_middleware.testing.LocalIssuer` is the public face of all of this.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import socketserver
import sys
import threading
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["DEFAULT_CACHE_MAX_AGE", "IssuerEndpoints", "LoopbackServer", "RecordedRequest", "encode_json"]

#: `Cache-Control: max-age` of served documents, in seconds (what Auth0 and Okta send, roughly).
DEFAULT_CACHE_MAX_AGE: Final = 900
#: Requests remembered in `request_log`; older ones are dropped.
REQUEST_LOG_SIZE: Final = 1000
#: How long an idle keep-alive connection is kept open, in seconds.
_IDLE_TIMEOUT: Final = 10.0
#: How often the accept loop checks for shutdown, in seconds (bounds `stop()`'s latency).
_POLL_INTERVAL: Final = 0.02
_JSON: Final = "application/json"
_NO_BODY_STATUSES: Final = frozenset({204, 304})


def encode_json(document: Mapping[str, Any] | bytes | str) -> bytes:
    """A document as the compact UTF-8 JSON bytes served; bytes and str are served verbatim."""
    if isinstance(document, bytes):
        return document
    if isinstance(document, str):
        return document.encode()
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RecordedRequest:
    """One request the local issuer received (header names lower-cased; left out of the repr,
    as they may carry credentials)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class _Rule:
    answer: _Answer | None  # None: the normal answer, only delayed
    delay: float
    remaining: int | None
    trickle: float = 0.0  # seconds between two bytes of the body; 0: all at once


class IssuerEndpoints:
    """The served side of a `LocalIssuer`: documents, caching headers, faults and counters.

    Every method is safe to call from the test while the server thread answers requests.
    """

    # Provided by the subclass.
    jwks_uri: str
    discovery_url: str
    oauth_metadata_url: str

    def jwks(self) -> dict[str, Any]:
        raise NotImplementedError

    def metadata(self) -> dict[str, Any]:
        raise NotImplementedError

    def __init__(self) -> None:
        #: `max-age` of the `Cache-Control` header on served documents; None sends no header.
        self.cache_max_age: int | None = DEFAULT_CACHE_MAX_AGE
        #: Whether `/.well-known/openid-configuration` is served (False: 404).
        self.serve_discovery = True
        #: Whether the RFC 8414 `/.well-known/oauth-authorization-server` document is served.
        self.serve_oauth_metadata = True
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)
        self._rules: dict[str | None, _Rule] = {}
        self._jwks_override: bytes | None = None
        self._metadata_override: bytes | None = None
        self._counts: Counter[str] = Counter()
        self._log: deque[RecordedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self._server: LoopbackServer | None = None

    # -- observation ---------------------------------------------------------------------------

    @property
    def requests(self) -> Counter[str]:
        """Requests received so far, by path (a snapshot; `.total()` counts every path)."""
        with self._lock:
            return Counter(self._counts)

    @property
    def request_log(self) -> tuple[RecordedRequest, ...]:
        """The last requests received, oldest first (at most `REQUEST_LOG_SIZE`)."""
        with self._lock:
            return tuple(self._log)

    def wait_for_requests(self, count: int, *, path: str | None = None, timeout: float = 5.0) -> bool:
        """Block until `count` requests (to `path`, a path or a URL, or in all) have been received;
        False if `timeout` seconds pass first. For a test waiting on a background fetch (from async
        code, call it through a worker thread, e.g. ``anyio.to_thread.run_sync``)."""
        key = _path_of(path) if path is not None else None

        def reached() -> bool:
            return (self._counts[key] if key is not None else self._counts.total()) >= count

        with self._received:
            return self._received.wait_for(reached, timeout)

    def reset_counts(self) -> None:
        """Forget the requests counted and logged so far."""
        with self._lock:
            self._counts.clear()
            self._log.clear()

    # -- faults --------------------------------------------------------------------------------

    def fail_with(
        self,
        status: int = 500,
        body: bytes | str = b"",
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer requests with this canned response until `recover()`.

        `path` (a path or a full URL) limits the fault to one endpoint, otherwise every request
        gets it; `times` limits it to the next N requests. `delay` seconds pass before the answer
        (interrupted by `stop()`). A body without a `Content-Type` header is sent as text/plain.
        A later fault for the same path replaces the earlier one.
        """
        content = body.encode() if isinstance(body, str) else body
        merged = dict(headers or {})
        if content and not any(name.lower() == "content-type" for name in merged):
            merged["Content-Type"] = "text/plain; charset=utf-8"
        self._add_rule(path, _Rule(_Answer(status, tuple(merged.items()), content), delay, times))

    def serve_garbage(
        self,
        body: bytes = b"<html><body>Gateway maintenance</body></html>",
        *,
        content_type: str = _JSON,
        path: str | None = None,
        times: int | None = None,
    ) -> None:
        """Answer 200 with a body that is not JSON (labelled `application/json` by default)."""
        self.fail_with(200, body, headers={"Content-Type": content_type}, path=path, times=times)

    def redirect(
        self, location: str, *, status: int = 302, path: str | None = None, times: int | None = None
    ) -> None:
        """Answer with a redirect to `location` (fetchers must not follow it)."""
        self.fail_with(status, headers={"Location": location}, path=path, times=times)

    def slow_down(self, delay: float, *, path: str | None = None, times: int | None = None) -> None:
        """Answer normally, but only after `delay` seconds (interrupted by `stop()`)."""
        self._add_rule(path, _Rule(None, delay, times))

    def trickle(self, interval: float = 0.3, *, path: str | None = None, times: int | None = None) -> None:
        """Answer normally, but send the body one byte every `interval` seconds (interrupted by
        `stop()`): every read finishes well within a client's read timeout, the whole answer never
        does. The headers, `Content-Length` included, come at once."""
        if not interval > 0:
            raise ValueError("interval must be positive")
        self._add_rule(path, _Rule(None, 0.0, times, trickle=interval))

    def serve_jwks(self, document: Mapping[str, Any] | bytes | str | None) -> None:
        """Serve this JWKS (a mapping, or raw bytes served verbatim) instead of the issuer's keys,
        with the usual caching headers, until `recover()`; None goes back to the real keys.

        For instance ``serve_jwks({"keys": []})`` serves an empty key set.
        """
        with self._lock:
            self._jwks_override = None if document is None else encode_json(document)

    def serve_metadata(self, document: Mapping[str, Any] | bytes | str | None) -> None:
        """Serve this discovery document (at both metadata URLs) until `recover()`; None: the real one."""
        with self._lock:
            self._metadata_override = None if document is None else encode_json(document)

    def recover(self) -> None:
        """Back to normal answers: drop every fault and served-document override."""
        with self._lock:
            self._rules.clear()
            self._jwks_override = self._metadata_override = None

    def _add_rule(self, path: str | None, rule: _Rule) -> None:
        if rule.delay < 0:
            raise ValueError("delay must not be negative")
        if rule.remaining is not None and rule.remaining < 1:
            raise ValueError("times must be at least 1 (or None: until recover())")
        with self._lock:
            self._rules[_path_of(path) if path is not None else None] = rule

    # -- answering -----------------------------------------------------------------------------

    def _receive(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> _Rule | None:
        """Count a request and take the fault that applies to it, if any."""
        with self._lock:
            self._counts[path] += 1
            self._log.append(RecordedRequest(method, path, query, headers))
            self._received.notify_all()
            key: str | None = path if path in self._rules else None
            rule = self._rules.get(key)
            if rule is not None and rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    del self._rules[key]
            return rule

    def _answer(self, method: str, path: str, headers: Mapping[str, str]) -> _Answer:
        """The normal answer to a request."""
        if path == _path_of(self.jwks_uri):
            with self._lock:
                body = self._jwks_override
            document = body if body is not None else encode_json(self.jwks())
        elif (path == _path_of(self.discovery_url) and self.serve_discovery) or (
            path == _path_of(self.oauth_metadata_url) and self.serve_oauth_metadata
        ):
            with self._lock:
                body = self._metadata_override
            document = body if body is not None else encode_json(self.metadata())
        else:
            return _Answer(404, (("Content-Type", _JSON),), b'{"error":"not_found"}')
        if method not in ("GET", "HEAD"):
            return _Answer(405, (("Allow", "GET, HEAD"),), b"")
        return self._document(document, headers.get("if-none-match"))

    def _document(self, body: bytes, if_none_match: str | None) -> _Answer:
        # A strong validator of the exact bytes served (RFC 9110 section 8.8.3).
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        cache: tuple[tuple[str, str], ...] = (("ETag", etag),)
        if self.cache_max_age is not None:
            cache += (("Cache-Control", f"public, max-age={self.cache_max_age}"),)
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            # RFC 9110 section 15.4.5: a 304 repeats ETag and Cache-Control, and has no body.
            return _Answer(304, cache, b"")
        return _Answer(200, (("Content-Type", _JSON), *cache), body)

    # -- serving -------------------------------------------------------------------------------

    def start(self) -> None:
        """Serve again after `stop()`, on the same port; does nothing when already serving."""
        self._served().start(self)

    def stop(self) -> None:
        """Stop serving: clients get "connection refused" until `start()`. Slow answers in
        progress are cut short; waits for every server thread. Does nothing when stopped."""
        self._served().stop()

    @property
    def serving(self) -> bool:
        """Whether the real server is accepting connections."""
        return self._server is not None and self._server.running

    def _served(self) -> LoopbackServer:
        if self._server is None:
            raise RuntimeError("this LocalIssuer has no server: use `with LocalIssuer.serve() as issuer:`")
        return self._server

    def asgi_app(self) -> Starlette:
        """The endpoints as a Starlette app, for ``httpx.ASGITransport``; faults and counters apply
        (a delay is an ``anyio.sleep``)."""
        import anyio
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response, StreamingResponse
        from starlette.routing import Route

        async def endpoint(request: Request) -> Response:
            method, path = request.method, request.url.path
            headers = {name.lower(): value for name, value in request.headers.items()}
            rule = self._receive(method, path, request.url.query, headers)
            if rule is not None and rule.delay:
                await anyio.sleep(rule.delay)
            answer = rule.answer if rule is not None and rule.answer is not None else None
            if answer is None:
                answer = self._answer(method, path, headers)
            body = b"" if method == "HEAD" else answer.body
            interval = rule.trickle if rule is not None else 0.0
            response: Response
            if interval and body:

                async def trickled() -> AsyncIterator[bytes]:
                    for index in range(len(body)):
                        if index:
                            await anyio.sleep(interval)
                        yield body[index : index + 1]

                response = StreamingResponse(trickled(), status_code=answer.status)
            else:
                response = Response(status_code=answer.status)
                response.body = body
            response.raw_headers = [
                (name.lower().encode("latin-1"), value.encode("latin-1"))
                for name, value in _with_length(answer)
            ]
            return response

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])


def _with_length(answer: _Answer) -> Iterable[tuple[str, str]]:
    yield from answer.headers
    has_length = any(name.lower() == "content-length" for name, _ in answer.headers)
    if answer.status not in _NO_BODY_STATUSES and answer.status >= 200 and not has_length:
        yield ("Content-Length", str(len(answer.body)))


def _path_of(url_or_path: str) -> str:
    return urlsplit(url_or_path).path or "/"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 section 13.1.2: `*` or a list of entity tags, compared weakly.
    if if_none_match.strip() == "*":
        return True
    tags = (tag.strip() for tag in if_none_match.split(","))
    return any((tag[2:] if tag.startswith("W/") else tag) == etag for tag in tags)


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
        if length.isdigit():
            self.rfile.read(int(length))  # a body is ignored, but read so keep-alive works
        rule = endpoints._receive(self.command, path, parts.query, headers)
        if rule is not None and rule.delay and self.server.stopping.wait(rule.delay):
            self.close_connection = True  # stopped while waiting: hang up without answering
            return
        answer = rule.answer if rule is not None and rule.answer is not None else None
        if answer is None:
            answer = endpoints._answer(self.command, path, headers)
        self.send_response(answer.status)
        for name, value in _with_length(answer):
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD" or answer.status in _NO_BODY_STATUSES:
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
