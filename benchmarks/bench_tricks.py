"""Speed tricks, timed with and without: what each buys a first-sight token.

A trick stays in the package only where this shows what it buys (STYLE: a speed trick earns
its place with a number beside it). Each is timed on the same tokens in interleaved rounds,
alone in a loop (`tricks`) and inside first-sight requests (`IN_REQUEST`, variants of the
in-process rounds):

- the header memo: `_jws._header` is a `functools.lru_cache`; without it, every token's
  header is decoded, parsed and checked again;
- calling `json.JSONDecoder`'s C scanner (`scan_once`, undocumented) directly instead of
  `JSONDecoder.decode` (two whitespace regular expressions around the same scanner): removed
  from the package; the "with" variant here is the removed code;
- the direct signature check (`VerificationKey.verify`) against joserfc's `verify` (in a
  loop: the table of steps, `bench_inprocess.first_sight_stages`);
- on the cached path, `JWKSMiddleware.__call__` reading the Authorization header with
  `bearer_credentials` (its token sources checked once, at construction) instead of through
  `TokenSources.header_token` (timed on a repeated token: alone around an app that does
  nothing, and inside requests, `CACHED_IN_REQUEST`).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench_driver import BASE_SCOPE, COMMON_HEADERS
from starlette.types import ASGIApp, Receive, Scope, Send

from jwks_middleware import Issuer, JWKSMiddleware, _jws
from jwks_middleware._algorithms import algorithm_model
from jwks_middleware._jwk import VerificationKey
from jwks_middleware._jws import _DECODER, _b64decode, loads_strict, parse_token
from jwks_middleware._request import CHALLENGES_SCOPE_KEY

ROUNDS: Final = 15
_WHITESPACE: Final = " \t\n\r"
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = _DECODER.scan_once  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Trick:
    name: str
    kept: bool
    with_us: float
    without_us: float


def _scanner_loads(data: bytes) -> Any:
    """The removed trick: `JSONDecoder.decode` with its scanner called directly."""
    text = data.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _SCAN(text, start)
    except StopIteration as error:
        raise json.JSONDecodeError("Expecting value", text, error.value) from None
    if text[end:].lstrip(_WHITESPACE):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _interleaved(
    with_trick: Callable[[], object], without: Callable[[], object], count: int
) -> tuple[float, float]:
    """Median µs per item of each, over rounds that run both."""
    timed: tuple[list[float], list[float]] = ([], [])
    for _ in range(ROUNDS):
        for samples, function in zip(timed, (with_trick, without), strict=True):
            start = time.perf_counter()
            function()
            samples.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(timed[0]), statistics.median(timed[1])


def _parse_all(tokens: Sequence[str]) -> None:
    for token in tokens:
        parse_token(token, max_bytes=16 * 1024)


def _parse_all_without_memo(tokens: Sequence[str]) -> None:
    memo = _jws._header
    _jws._header = memo.__wrapped__  # type: ignore[assignment]  # the undecorated function
    try:
        _parse_all(tokens)
    finally:
        _jws._header = memo


def tricks(tokens: Sequence[str]) -> list[Trick]:
    """Both tricks on `tokens` (distinct tokens of one issuer, as first sight sees them)."""
    payloads = [_b64decode(token.split(".")[1].encode("ascii"), "payload") for token in tokens]
    memo = _interleaved(lambda: _parse_all(tokens), lambda: _parse_all_without_memo(tokens), len(tokens))
    scanner = _interleaved(
        lambda: [_scanner_loads(payload) for payload in payloads],
        lambda: [loads_strict(payload) for payload in payloads],
        len(payloads),
    )
    return [
        Trick("header memo (`functools.lru_cache` on `_jws._header`), per `parse_token`", True, *memo),
        Trick("JSON scanner called directly (`scan_once`), per token payload", False, *scanner),
    ]


# -- the same tricks inside first-sight requests ------------------------------------------------


def _scanner_loads_strict(data: bytes) -> Any:
    """`loads_strict` as it was with the scanner trick."""
    try:
        return _scanner_loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"invalid JSON: {error}") from None


def _joserfc_verify(self: VerificationKey, alg: str, signing_input: bytes, signature: bytes) -> bool:
    """`VerificationKey.verify` as it was: through joserfc's algorithm object."""
    return algorithm_model(alg).verify(signing_input, signature, self.key)


async def _call_through_header_token(
    self: JWKSMiddleware, scope: Scope, receive: Receive, send: Send
) -> None:
    """`JWKSMiddleware.__call__`'s cached path as it was: the header scanned by
    `TokenSources.header_token`."""
    if self._header_only and scope["type"] == "http":
        candidate = self.sources.header_token(scope)
        if candidate is not None:
            claims = self.verifier.cached(candidate)
            if claims is not None:
                scope[CHALLENGES_SCOPE_KEY] = self.challenges
                self.request_claims.put(scope, claims, self.verifier)
                await self.app(scope, receive, send)
                return
    await _IN_PLACE(self, scope, receive, send)


_IN_PLACE: Final = JWKSMiddleware.__call__


async def _nothing(scope: Scope, receive: Receive, send: Send) -> None:
    return None


async def header_scan_trick(issuer: Issuer, token: str) -> Trick:
    """The cached path with the header read by `bearer_credentials` and by `header_token`: µs per
    request of a middleware around an app that does nothing, `token` cached."""
    middleware = JWKSMiddleware(_nothing, issuers=[issuer])
    headers = [*COMMON_HEADERS, (b"authorization", b"Bearer " + token.encode("ascii"))]
    count = 20_000
    timed: tuple[list[float], list[float]] = ([], [])
    async with middleware.verifier as verifier:
        await verifier.verify(token)
        for _ in range(ROUNDS):
            for samples, call in zip(timed, (_IN_PLACE, _call_through_header_token), strict=True):
                scopes = [{**BASE_SCOPE, "headers": headers, "state": {}} for _ in range(count)]
                start = time.perf_counter()
                for scope in scopes:
                    await call(middleware, scope, _never, _never)
                samples.append((time.perf_counter() - start) / count * 1e6)
    return Trick(
        "`bearer_credentials` in `JWKSMiddleware.__call__` instead of `header_token`, per cached request",
        True,
        statistics.median(timed[0]),
        statistics.median(timed[1]),
    )


async def _never(*args: Any) -> Any:  # pragma: no cover - the app does nothing
    raise AssertionError("not called")


class Swapped:
    """An app run with attributes of the package replaced during each of its requests (the
    driver sends one request at a time): the package with and without a trick, in one process.
    Every variant, the control too, replaces the same attributes, so each pays the same."""

    def __init__(self, app: ASGIApp, replacements: dict[str, Any]) -> None:
        self.app = app
        self.replacements = [
            (_TARGETS[name], name.rsplit(".", 1)[-1], value) for name, value in replacements.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        saved = [(owner, attribute, getattr(owner, attribute)) for owner, attribute, _ in self.replacements]
        for owner, attribute, value in self.replacements:
            setattr(owner, attribute, value)
        try:
            await self.app(scope, receive, send)
        finally:
            for owner, attribute, value in saved:
                setattr(owner, attribute, value)


_TARGETS: Final[dict[str, Any]] = {
    "JWKSMiddleware.__call__": JWKSMiddleware,
    "_jws._header": _jws,
    "_jws.loads_strict": _jws,
    "VerificationKey.verify": VerificationKey,
}
#: The replacements of each in-request variant: the package as it is (control), and each trick
#: undone or redone.
IN_REQUEST: Final[dict[str, dict[str, Any]]] = {
    "trick_control": {
        "_jws._header": _jws._header,
        "_jws.loads_strict": _jws.loads_strict,
        "VerificationKey.verify": VerificationKey.verify,
    },
    "trick_no_memo": {
        "_jws._header": _jws._header.__wrapped__,
        "_jws.loads_strict": _jws.loads_strict,
        "VerificationKey.verify": VerificationKey.verify,
    },
    "trick_scanner": {
        "_jws._header": _jws._header,
        "_jws.loads_strict": _scanner_loads_strict,
        "VerificationKey.verify": VerificationKey.verify,
    },
    "trick_joserfc": {
        "_jws._header": _jws._header,
        "_jws.loads_strict": _jws.loads_strict,
        "VerificationKey.verify": _joserfc_verify,
    },
}
#: The same on the cached path (a repeated token): the header read directly, or not.
CACHED_IN_REQUEST: Final[dict[str, dict[str, Any]]] = {
    "trick_cached_control": {"JWKSMiddleware.__call__": _IN_PLACE},
    "trick_cached_header_token": {"JWKSMiddleware.__call__": _call_through_header_token},
}
