"""Protect Starlette and FastAPI APIs with JWT bearer tokens from any OpenID Connect issuer.

from jwks_middleware import Issuer, JWKSMiddleware

app = Starlette(routes=..., middleware=[
    Middleware(JWKSMiddleware, issuers=[Issuer("https://tenant.example.com/", audience="https://api")]),
])
"""

from __future__ import annotations

from ._claims import Claims
from ._decorators import requires_scopes
from ._errors import (
    AuthError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeysUnavailableError,
    MalformedTokenError,
    MissingTokenError,
    StaleKeysError,
    UnknownKeyError,
    UnsupportedTokenError,
    UntrustedIssuerError,
)
from ._events import AuthEvent, EventHook
from ._issuer import Issuer
from ._keystore import IssuerState
from ._middleware import ClaimsUser, JWKSMiddleware
from ._store import IssuerResolver, KeyStore
from ._verify import TokenVerifier

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "AuthEvent",
    "Claims",
    "ClaimsUser",
    "DisallowedAlgorithmError",
    "EventHook",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "Issuer",
    "IssuerResolver",
    "IssuerState",
    "JWKSMiddleware",
    "KeyStore",
    "KeysUnavailableError",
    "MalformedTokenError",
    "MissingTokenError",
    "StaleKeysError",
    "TokenVerifier",
    "UnknownKeyError",
    "UnsupportedTokenError",
    "UntrustedIssuerError",
    "__version__",
    "requires_scopes",
]
