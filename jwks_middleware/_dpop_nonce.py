"""Server-provided DPoP nonces (RFC 9449 section 9), stateless across a fleet.

A nonce is the number of the current time window and an HMAC-SHA256 of it under a secret
the servers share: any server of the fleet checks any other's nonce with no shared state,
and nobody without the secret can make a nonce for a window to come, so a proof cannot be
made ahead of time by someone who has the key only for a while (RFC 9449 section 11.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import time
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_NONCE_LIFETIME",
    "MIN_NONCE_SECRET_BYTES",
    "DPoPNonceMiddleware",
    "NonceSource",
    "send_with_nonces",
]

#: Length of a nonce window, in seconds: a nonce is accepted for one to two windows.
DEFAULT_NONCE_LIFETIME: Final = 300.0
#: Shortest secret accepted, in bytes (the HMAC-SHA256 output size).
MIN_NONCE_SECRET_BYTES: Final = 32

# Domain separation: the secret may be reused elsewhere without a nonce meaning anything there.
_LABEL: Final = b"jwks-middleware DPoP nonce\x00"
_WINDOW_BYTES: Final = 8
_MAC_BYTES: Final = 16  # 128 bits: guessing one is hopeless
_NONCE_CHARACTERS: Final = 32  # base64url of 24 bytes, no padding
# The messages that start an answer with headers: a response, or a WebSocket handshake denial.
_ANSWER_STARTS: Final = frozenset({"http.response.start", "websocket.http.response.start"})


class NonceSource:
    """Issues and checks `DPoP-Nonce` values; servers sharing `secret` accept each other's.

    Time is cut into windows of `lifetime` seconds. `issue(now)` gives the nonce of the
    current window; `check(nonce, now)` accepts the nonces of the current window, the one
    before (so a nonce is good for at least one full `lifetime`) and the one after (servers
    whose clocks run a little ahead). Changing the secret invalidates every nonce given out:
    clients are answered ``use_dpop_nonce`` once, with a fresh nonce, and retry.
    """

    __slots__ = ("_current", "_key", "_lifetime")

    def __init__(self, secret: str | bytes, *, lifetime: float = DEFAULT_NONCE_LIFETIME) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(key) < MIN_NONCE_SECRET_BYTES:
            raise ValueError(f"the nonce secret must have at least {MIN_NONCE_SECRET_BYTES} bytes")
        if not 1 <= lifetime <= 86_400:
            raise ValueError("the nonce lifetime must be between 1 second and 1 day")
        self._key = key
        self._lifetime = float(lifetime)
        self._current: tuple[int, str] = (-1, "")

    def __repr__(self) -> str:
        return f"NonceSource(lifetime={self._lifetime:g})"

    @property
    def lifetime(self) -> float:
        """Length of a window, in seconds."""
        return self._lifetime

    def issue(self, now: float) -> str:
        """The nonce of the window `now` falls in (made once per window)."""
        window = self._window(now)
        if self._current[0] != window:
            raw = window.to_bytes(_WINDOW_BYTES, "big") + self._mac(window)
            self._current = (window, base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"))
        return self._current[1]

    def check(self, nonce: object, now: float) -> bool:
        """Whether `nonce` (anything a proof carried) is a nonce of a window still accepted."""
        if not isinstance(nonce, str) or len(nonce) != _NONCE_CHARACTERS or not nonce.isascii():
            return False
        if nonce == self._current[1]:  # the common case: the nonce this server gives out now
            return abs(self._current[0] - self._window(now)) <= 1
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except ValueError:  # binascii.Error
            return False
        window = int.from_bytes(raw[:_WINDOW_BYTES], "big")
        if abs(window - self._window(now)) > 1:
            return False
        return hmac.compare_digest(raw[_WINDOW_BYTES:], self._mac(window))

    def _window(self, now: float) -> int:
        return max(0, math.floor(now / self._lifetime))

    def _mac(self, window: int) -> bytes:
        message = _LABEL + window.to_bytes(_WINDOW_BYTES, "big")
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def send_with_nonces(send: Send, nonces: NonceSource, clock: Callable[[], float]) -> Send:
    """`send`, giving the client its next nonce on every answer (RFC 9449 section 8.2), so that
    it has a current one before the one it uses expires; an answer that already carries a
    `DPoP-Nonce` (a ``use_dpop_nonce`` refusal) keeps its own."""

    async def send_with_nonce(message: Message) -> None:
        if message["type"] in _ANSWER_STARTS:
            headers = list(message.get("headers", ()))
            if not any(name.lower() == b"dpop-nonce" for name, _ in headers):
                headers.append((b"dpop-nonce", nonces.issue(clock()).encode("ascii")))
                message = {**message, "headers": headers}
        await send(message)

    return send_with_nonce


class DPoPNonceMiddleware:
    """Gives a `DPoP-Nonce` on every answer of a request sent with ``Authorization: DPoP``,
    success or refusal, in front of an app whose routes check the proofs themselves (the
    FastAPI dependencies; `JWKSMiddleware` does the same for the requests it checks)."""

    def __init__(self, app: ASGIApp, *, nonces: NonceSource, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.nonces = nonces
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and _uses_dpop(scope):
            send = send_with_nonces(send, self.nonces, self.clock)
        await self.app(scope, receive, send)


def _uses_dpop(scope: Scope) -> bool:
    # The scheme is case-insensitive (RFC 9110 section 11.1); the dependencies check the rest.
    return any(
        name == b"authorization" and value.lstrip()[:5].lower() == b"dpop "
        for name, value in scope["headers"]
    )
