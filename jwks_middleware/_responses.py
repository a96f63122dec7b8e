"""Refusals over ASGI: the `WWW-Authenticate` challenges (RFC 6750 `Bearer`, RFC 9449 `DPoP`,
with RFC 9728 `resource_metadata`), a JSON body, and the WebSocket handshake denial."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._errors import (
    AuthError,
    DPoPBindingError,
    InsufficientScopeError,
    InvalidDPoPProofError,
    UseDPoPNonceError,
)

__all__ = [
    "BEARER_ONLY",
    "Challenges",
    "RefusalResponse",
    "challenge",
    "error_body",
    "refusal_header_map",
    "refusal_headers",
    "send_refusal",
]

# RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E; scope tokens
# are %x21 / %x23-5B / %x5D-7E. Anything else is dropped, never echoed.
_NOT_DESCRIPTION: Final = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_NOT_SCOPE: Final = re.compile(r"[^\x21\x23-\x5b\x5d-\x7e]")
#: WebSocket close code of a refused handshake (RFC 6455 section 7.4.1: policy violation).
WS_POLICY_VIOLATION: Final = 1008


@dataclass(frozen=True)
class Challenges:
    """What a refusal's `WWW-Authenticate` offers: one challenge per accepted scheme.

    `bearer`: the `Bearer` scheme (RFC 6750 section 3); `dpop_algorithms`: the proof algorithms
    of the `DPoP` scheme, announced in `algs` (RFC 9449 section 7.1), empty when DPoP is not
    accepted; `resource_metadata`: the URL of the RFC 9728 metadata, named in every challenge
    (section 5.1); `scheme`: the scheme the request used, whose challenge carries the error.
    """

    realm: str | None = None
    bearer: bool = True
    dpop_algorithms: tuple[str, ...] = ()
    resource_metadata: str | None = None
    scheme: Literal["bearer", "dpop"] = "bearer"

    def for_scheme(self, scheme: Literal["bearer", "dpop"]) -> Challenges:
        """These challenges, for a request that used `scheme` (made once per scheme)."""
        return self if scheme == self.scheme else self._other_scheme

    @functools.cached_property
    def _other_scheme(self) -> Challenges:
        return dataclasses.replace(self, scheme="bearer" if self.scheme == "dpop" else "dpop")

    def values(self, error: AuthError) -> list[str]:
        """The `WWW-Authenticate` values of a refusal, the one carrying the error first."""
        dpop_error = self.scheme == "dpop" or isinstance(error, _DPOP_ERRORS)
        carrier = "dpop" if self.dpop_algorithms and (dpop_error or not self.bearer) else "bearer"
        extra = [] if self.resource_metadata is None else [f'resource_metadata="{self.resource_metadata}"']
        found: list[str] = []
        if self.bearer or carrier == "bearer":
            params = _params(error if carrier == "bearer" else None, self.realm)
            found.append(_join("Bearer", [*params, *extra]))
        if self.dpop_algorithms:
            params = _params(error if carrier == "dpop" else None, self.realm)
            dpop = _join("DPoP", [*params, *extra, f'algs="{" ".join(self.dpop_algorithms)}"'])
            found.insert(0 if carrier == "dpop" else len(found), dpop)
        return found


#: The challenges of an app that accepts bearer tokens only, without a realm.
BEARER_ONLY: Final = Challenges()
_DPOP_ERRORS: Final = (InvalidDPoPProofError, UseDPoPNonceError, DPoPBindingError)


def challenge(error: AuthError, realm: str | None = None) -> str:
    """The `Bearer` `WWW-Authenticate` value for a refusal (RFC 6750 section 3)."""
    return _join("Bearer", _params(error, realm))


def _params(error: AuthError | None, realm: str | None) -> list[str]:
    params = []
    if realm is not None:
        params.append(f'realm="{_NOT_DESCRIPTION.sub("", realm)}"')
    if error is not None and error.error is not None:
        params.append(f'error="{error.error}"')
        params.append(f'error_description="{_NOT_DESCRIPTION.sub("", error.description)}"')
    if isinstance(error, InsufficientScopeError) and error.required:
        scope = " ".join(_NOT_SCOPE.sub("", item) for item in error.required)
        params.append(f'scope="{scope}"')
    return params


def _join(scheme: str, params: list[str]) -> str:
    return f"{scheme} " + ", ".join(params) if params else scheme


def error_body(error: AuthError) -> dict[str, Any]:
    """The JSON body of a refusal; client-safe fields only."""
    body: dict[str, Any] = {
        "error": error.error or ("unauthorized" if error.status_code == 401 else "unavailable"),
        "error_description": error.description,
    }
    if isinstance(error, InsufficientScopeError) and error.required:
        body["scope"] = " ".join(error.required)
    return body


def refusal_headers(error: AuthError, challenges: Challenges) -> list[tuple[bytes, bytes]]:
    """The headers of a refusal: JSON, never cached, its challenges (and `DPoP-Nonce`)."""
    headers = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
    if error.status_code in (401, 403, 400):
        headers.extend((b"www-authenticate", value.encode("latin-1")) for value in challenges.values(error))
    if isinstance(error, UseDPoPNonceError):  # RFC 9449 section 9
        headers.append((b"dpop-nonce", error.nonce.encode("ascii")))
    if error.status_code == 503:
        headers.append((b"retry-after", b"5"))
    return headers


def refusal_header_map(error: AuthError, challenges: Challenges) -> dict[str, str]:
    """`refusal_headers` as a mapping, for FastAPI's `HTTPException`: several challenges are
    joined into one `WWW-Authenticate` field, as RFC 9110 section 11.6.1 allows."""
    found: dict[str, str] = {}
    for name, value in refusal_headers(error, challenges):
        key, text = name.decode("latin-1"), value.decode("latin-1")
        found[key] = f"{found[key]}, {text}" if key in found else text
    return found


def _body(error: AuthError) -> bytes:
    return json.dumps(error_body(error), separators=(",", ":")).encode()


async def send_refusal(
    error: AuthError, scope: Scope, receive: Receive, send: Send, challenges: Challenges = BEARER_ONLY
) -> None:
    """Answer a refused HTTP request, or deny a WebSocket handshake before it is accepted."""
    body = _body(error)
    headers = refusal_headers(error, challenges)
    if scope["type"] == "websocket":
        message = await receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {"type": "websocket.http.response.start", "status": error.status_code, "headers": headers}
            )
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": error.description})
        return
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RefusalResponse(Response):
    """A refusal as a Starlette `Response`, byte for byte what `send_refusal` answers: over
    HTTP the response itself, on a WebSocket route the handshake denial."""

    def __init__(self, error: AuthError, challenges: Challenges = BEARER_ONLY) -> None:
        self.error, self.challenges = error, challenges
        body = _body(error)
        super().__init__(body, status_code=error.status_code)
        # Raw headers: a refusal may carry two `WWW-Authenticate` fields (Bearer and DPoP).
        self.raw_headers = [*refusal_headers(error, challenges), (b"content-length", b"%d" % len(body))]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send_refusal(self.error, scope, receive, send, self.challenges)
        else:
            await super().__call__(scope, receive, send)
