"""Protect Starlette and FastAPI APIs with JWT bearer tokens from any OpenID Connect issuer.

from jwks_middleware import Issuer, JWKSMiddleware

app = Starlette(routes=..., middleware=[
    Middleware(JWKSMiddleware, issuers=[Issuer("https://tenant.example.com/", audience="https://api")]),
])
"""

from __future__ import annotations

from ._claims import Claims
from ._decorators import (
    requires_any_role,
    requires_any_scope,
    requires_check,
    requires_claim,
    requires_roles,
    requires_scopes,
)
from ._dpop_nonce import NonceSource
from ._dpop_policy import DPoPPolicy
from ._errors import (
    AuthError,
    AuthUnavailableError,
    CertificateBindingError,
    ClaimsCheckError,
    DisallowedAlgorithmError,
    DPoPBindingError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidDPoPProofError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    KeyBoundTokenError,
    KeysUnavailableError,
    MalformedTokenError,
    MissingTokenError,
    ReplayedDPoPProofError,
    ReplayStoreUnavailableError,
    RevokedTokenError,
    StaleKeysError,
    UnboundTokenError,
    UnknownKeyError,
    UnsupportedTokenError,
    UntrustedIssuerError,
    UseDPoPNonceError,
)
from ._events import AuthEvent, EventHook
from ._introspection_config import Introspection
from ._issuer import Issuer
from ._keys.issuer_keys import IssuerState
from ._keys.store import IssuerResolver, KeyStore
from ._middleware import JWKSMiddleware
from ._mtls import CertificateSource
from ._options import VerifierOptions, VerifierSettings
from ._public import show_as_public
from ._replay import MemoryReplayStore, ReplayStore
from ._request import ClaimsUser
from ._resource_audience import issuers_for_resource
from ._resource_metadata import ResourceMetadata, ResourceMetadataMiddleware
from ._verify import TokenVerifier

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "AuthEvent",
    "AuthUnavailableError",
    "CertificateBindingError",
    "CertificateSource",
    "Claims",
    "ClaimsCheckError",
    "ClaimsUser",
    "DPoPBindingError",
    "DPoPPolicy",
    "DisallowedAlgorithmError",
    "EventHook",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "Introspection",
    "InvalidAudienceError",
    "InvalidClaimError",
    "InvalidDPoPProofError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "Issuer",
    "IssuerResolver",
    "IssuerState",
    "JWKSMiddleware",
    "KeyBoundTokenError",
    "KeyStore",
    "KeysUnavailableError",
    "MalformedTokenError",
    "MemoryReplayStore",
    "MissingTokenError",
    "NonceSource",
    "ReplayStore",
    "ReplayStoreUnavailableError",
    "ReplayedDPoPProofError",
    "ResourceMetadata",
    "ResourceMetadataMiddleware",
    "RevokedTokenError",
    "StaleKeysError",
    "TokenVerifier",
    "UnboundTokenError",
    "UnknownKeyError",
    "UnsupportedTokenError",
    "UntrustedIssuerError",
    "UseDPoPNonceError",
    "VerifierOptions",
    "VerifierSettings",
    "__version__",
    "issuers_for_resource",
    "requires_any_role",
    "requires_any_scope",
    "requires_check",
    "requires_claim",
    "requires_roles",
    "requires_scopes",
]

show_as_public(__name__, globals(), __all__)
