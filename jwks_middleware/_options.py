"""The verifier's options: one definition, taken alike by `TokenVerifier`, `JWKSMiddleware` and
`JWKSAuth` (same names, same defaults), and validated once, when the verifier is made."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TypedDict

from ._config import DEFAULT_MAX_TOKEN_BYTES, DEFAULT_RESOLVED_ISSUERS, DEFAULT_TOKEN_CACHE_SIZE
from ._events import EventHook
from ._keys.fetch import HTTPClient

__all__ = ["VerifierOptions", "VerifierSettings"]

#: Smallest `max_token_bytes` accepted: no signed token is shorter.
_MIN_TOKEN_BYTES = 256


class VerifierOptions(TypedDict, total=False):
    """Keyword options of `TokenVerifier`, `JWKSMiddleware` and `JWKSAuth` (see `VerifierSettings`)."""

    http_client: HTTPClient | None
    clock: Callable[[], float]
    on_event: EventHook | None
    token_cache_size: int
    max_token_bytes: int
    max_resolved_issuers: int


@dataclasses.dataclass(frozen=True)
class VerifierSettings:
    """The verifier's options with their defaults, checked at construction.

    - `http_client`: the client for key and discovery fetches (default: one of our own, with
      this library's timeouts and limits);
    - `clock`: seconds since the epoch, for `exp`/`nbf`/`iat` and the caches (tests inject one);
    - `on_event`: called with every `Event` (fetches, refusals, key changes);
    - `token_cache_size`: verified tokens remembered (0 turns the cache off);
    - `max_token_bytes`: longer tokens are refused before any parsing;
    - `max_resolved_issuers`: issuers kept when a resolver decides which `iss` is trusted.
    """

    http_client: HTTPClient | None = None
    clock: Callable[[], float] = time.time
    on_event: EventHook | None = None
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
    max_token_bytes: int = DEFAULT_MAX_TOKEN_BYTES
    max_resolved_issuers: int = DEFAULT_RESOLVED_ISSUERS

    def __post_init__(self) -> None:
        if not callable(self.clock):
            raise TypeError("clock must be a callable returning seconds since the epoch")
        if self.on_event is not None and not callable(self.on_event):
            raise TypeError("on_event must be a callable taking an Event")
        for name in ("token_cache_size", "max_token_bytes", "max_resolved_issuers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an integer")
        if self.token_cache_size < 0:
            raise ValueError("token_cache_size must be >= 0 (0 turns the cache off)")
        if self.max_token_bytes < _MIN_TOKEN_BYTES:
            raise ValueError(f"max_token_bytes must be >= {_MIN_TOKEN_BYTES}")
        if self.max_resolved_issuers < 1:
            raise ValueError("max_resolved_issuers must be at least 1")
