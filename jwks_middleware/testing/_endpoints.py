"""How a `LocalIssuer` answers HTTP: endpoints, faults and counters.

`IssuerEndpoints` decides every answer (normal documents with caching headers, a form
endpoint's answer, or an injected fault) and counts requests; `LoopbackServer` (`_server.py`)
serves it over real sockets, and `IssuerEndpoints.asgi_app` as a Starlette app. Both share one
decision path, so a fault behaves the same over a socket and in memory.

Private module: `jwks_middleware.testing.LocalIssuer` is the public face of all of this.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_CACHE_MAX_AGE",
    "NO_BODY_STATUSES",
    "Answer",
    "Documents",
    "FormHandler",
    "IssuerEndpoints",
    "RecordedRequest",
    "encode_json",
    "json_answer",
    "with_length",
]

#: `Cache-Control: max-age` of served documents, in seconds (what Auth0 and Okta send, roughly).
DEFAULT_CACHE_MAX_AGE: Final = 900
#: Requests remembered in `request_log`; older ones are dropped.
REQUEST_LOG_SIZE: Final = 1000
_JSON: Final = "application/json"
#: Statuses whose answers carry no body.
NO_BODY_STATUSES: Final = frozenset({204, 304})


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
class Answer:
    """One HTTP answer: status, headers and body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def json_answer(status: int, document: Mapping[str, Any], *headers: tuple[str, str]) -> Answer:
    """A JSON answer that no cache keeps (RFC 7662 section 2.2 and RFC 6749 section 5.1 ask so)."""
    return Answer(
        status, (("Content-Type", _JSON), ("Cache-Control", "no-store"), *headers), encode_json(document)
    )


#: Answers a POST to a form endpoint: its body and lower-cased headers.
FormHandler = Callable[[bytes, Mapping[str, str]], Answer]


class LoopbackServer(Protocol):
    """What the endpoints need of the server that serves them (`_server.LoopbackServer`)."""

    @property
    def running(self) -> bool: ...

    def start(self, endpoints: IssuerEndpoints) -> None: ...

    def stop(self) -> None: ...


class Documents(Protocol):
    """What the endpoints serve, and where: provided by the issuer."""

    @property
    def jwks_uri(self) -> str: ...
    @property
    def discovery_url(self) -> str: ...
    @property
    def oauth_metadata_url(self) -> str: ...
    def jwks(self) -> dict[str, Any]: ...
    def metadata(self) -> dict[str, Any]: ...


@dataclass
class _Rule:
    answer: Answer | None  # None: the normal answer, only delayed
    delay: float
    remaining: int | None
    trickle: float = 0.0  # seconds between two bytes of the body; 0: all at once


class IssuerEndpoints:
    """The served side of a `LocalIssuer`: documents, form endpoints, caching headers, faults
    and counters.

    `documents` gives the JWKS and metadata and their URLs; `forms` maps the URL of each
    POST-only form endpoint (introspection, revocation) to what answers it. Every method is
    safe to call from the test while the server thread answers requests.
    """

    def __init__(self, documents: Documents, *, forms: Mapping[str, FormHandler] | None = None) -> None:
        self._documents = documents
        self._forms = {_path_of(url): handler for url, handler in (forms or {}).items()}
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
        self._add_rule(path, _Rule(Answer(status, tuple(merged.items()), content), delay, times))

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

    def receive(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> _Rule | None:
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

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes = b"") -> Answer:
        """The normal answer to a request."""
        documents = self._documents
        form = self._forms.get(path)
        if form is not None:
            # RFC 7662 section 2.1 and RFC 7009 section 2.1: POST only.
            return form(body, headers) if method == "POST" else Answer(405, (("Allow", "POST"),), b"")
        if path == _path_of(documents.jwks_uri):
            with self._lock:
                override = self._jwks_override
            document = override if override is not None else encode_json(documents.jwks())
        elif (path == _path_of(documents.discovery_url) and self.serve_discovery) or (
            path == _path_of(documents.oauth_metadata_url) and self.serve_oauth_metadata
        ):
            with self._lock:
                override = self._metadata_override
            document = override if override is not None else encode_json(documents.metadata())
        else:
            return Answer(404, (("Content-Type", _JSON),), b'{"error":"not_found"}')
        if method not in ("GET", "HEAD"):
            return Answer(405, (("Allow", "GET, HEAD"),), b"")
        return self._document(document, headers.get("if-none-match"))

    def _document(self, body: bytes, if_none_match: str | None) -> Answer:
        # A strong validator of the exact bytes served (RFC 9110 section 8.8.3).
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        cache: tuple[tuple[str, str], ...] = (("ETag", etag),)
        if self.cache_max_age is not None:
            cache += (("Cache-Control", f"public, max-age={self.cache_max_age}"),)
        if if_none_match is not None and _etag_matches(if_none_match, etag):
            # RFC 9110 section 15.4.5: a 304 repeats ETag and Cache-Control, and has no body.
            return Answer(304, cache, b"")
        return Answer(200, (("Content-Type", _JSON), *cache), body)

    # -- serving -------------------------------------------------------------------------------

    def use_server(self, server: LoopbackServer) -> None:
        """Serve through `server` (`start()` and `stop()` act on it)."""
        self._server = server

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


def with_length(answer: Answer) -> Iterable[tuple[str, str]]:
    """The answer's headers, with a `Content-Length` unless it has one or no body."""
    yield from answer.headers
    has_length = any(name.lower() == "content-length" for name, _ in answer.headers)
    if answer.status not in NO_BODY_STATUSES and answer.status >= 200 and not has_length:
        yield ("Content-Length", str(len(answer.body)))


def _path_of(url_or_path: str) -> str:
    return urlsplit(url_or_path).path or "/"


def _etag_matches(if_none_match: str, etag: str) -> bool:
    # RFC 9110 section 13.1.2: `*` or a list of entity tags, compared weakly.
    if if_none_match.strip() == "*":
        return True
    tags = (tag.strip() for tag in if_none_match.split(","))
    return any((tag[2:] if tag.startswith("W/") else tag) == etag for tag in tags)
