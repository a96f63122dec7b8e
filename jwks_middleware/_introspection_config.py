"""`Introspection`: how one issuer's tokens are introspected (RFC 7662); used by `Issuer`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._client_auth import AUTH_METHODS, AuthMethod, PrivateKey, import_private_key
from ._config import (
    DEFAULT_INTROSPECTION_CACHE_SIZE,
    DEFAULT_INTROSPECTION_MAX_STALE,
    DEFAULT_INTROSPECTION_TTL,
)
from ._urls import check_fetch_url

__all__ = ["Introspection"]


@dataclass(frozen=True)
class Introspection:
    """How to introspect one issuer's tokens (RFC 7662).

    `client_id` and, by `auth_method`, `client_secret` (`client_secret_basic`,
    `client_secret_post`) or `private_key` (`private_key_jwt`: a joserfc key, a PEM private
    key or a private JWK) authenticate this API to the issuer. `assertion_audience` is the
    `aud` of a `private_key_jwt` assertion (default: the introspection endpoint's URL, as
    OpenID Connect Core section 9 and Okta want; give the issuer identifier for servers
    that want that). `endpoint`: None reads `introspection_endpoint` from the issuer's
    discovery document; it must be https (http only on loopback hosts, or with the issuer's
    `allow_http`).

    Answers are reused for at most min(the token's `exp`, `cache_ttl`) seconds, which is
    also how long a token revoked at the issuer may still be accepted; at most `cache_size`
    of them. While the endpoint is down, an answer is used up to `max_stale` seconds longer
    (never past `exp`). `all_tokens=True` introspects this issuer's JWTs too (for issuers
    that revoke them); otherwise only tokens that are not JWTs are introspected.
    `opaque_tokens=False`: this issuer gets no opaque tokens (only its JWTs, with
    `all_tokens`); a verifier sends opaque tokens to its one listed issuer that does.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    auth_method: AuthMethod = "client_secret_basic"
    private_key: Any = field(default=None, repr=False)
    endpoint: str | None = None
    assertion_audience: str | None = None
    cache_ttl: float = DEFAULT_INTROSPECTION_TTL
    cache_size: int = DEFAULT_INTROSPECTION_CACHE_SIZE
    max_stale: float = DEFAULT_INTROSPECTION_MAX_STALE
    all_tokens: bool = False
    opaque_tokens: bool = True
    #: The imported `private_key` and its algorithm.
    signing_key: tuple[PrivateKey, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.client_id, str) or not self.client_id:
            raise TypeError("client_id must be a non-empty string")
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(
                f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {self.auth_method!r}"
            )
        if self.auth_method == "private_key_jwt":
            if self.private_key is None or self.client_secret is not None:
                raise ValueError("private_key_jwt takes a private_key and no client_secret")
            object.__setattr__(self, "signing_key", import_private_key(self.private_key))
        else:
            if not isinstance(self.client_secret, str) or not self.client_secret:
                raise TypeError(f"{self.auth_method} needs a client_secret (a non-empty string)")
            if self.private_key is not None:
                raise ValueError("a private_key is only used with auth_method='private_key_jwt'")
        if self.endpoint is not None:
            # The https rule itself (loopback or `allow_http` aside) is applied by the
            # Introspector, which knows the issuer's `allow_http`; here, only the shape.
            check_fetch_url(self.endpoint, allow_http=True)
        for name in ("cache_ttl", "max_stale"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number of seconds, 0 or more")
        if not isinstance(self.cache_size, int) or self.cache_size < 1:
            raise ValueError("cache_size must be a positive integer")
