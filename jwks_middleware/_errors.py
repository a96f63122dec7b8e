"""Refusals, each carrying its RFC 6750 answer.

The tree::

    AuthError                       (base; never raised itself)
    +-- InvalidRequestError         400 invalid_request
    +-- MissingTokenError           401, no error code (no credentials sent)
    +-- InvalidTokenError           401 invalid_token
    |   +-- MalformedTokenError         not a compact JWS, bad base64url/JSON, too large
    |   +-- UnsupportedTokenError       JWE, crit, b64:false, header URLs or embedded keys
    |   +-- DisallowedAlgorithmError    alg not allowed for this issuer or this key
    |   +-- UntrustedIssuerError        iss not configured
    |   +-- UnknownKeyError             no single key of the issuer fits the token
    |   +-- InvalidSignatureError
    |   +-- ExpiredTokenError           exp in the past
    |   +-- ImmatureTokenError          nbf or iat in the future
    |   +-- InvalidAudienceError
    |   +-- InvalidClaimError           a required claim missing or with a wrong value
    |   +-- KeyBoundTokenError          bound to a key (`cnf`), sent without a proof of possession
    |   +-- DPoPBindingError            `cnf.jkt` missing or not the DPoP proof's key
    |   +-- CertificateBindingError     `cnf.x5t#S256` not the client certificate
    |   +-- UnboundTokenError           not bound, where the issuer requires bound tokens
    |   +-- RevokedTokenError           revoked (hook) or no longer active (introspection)
    |   +-- ClaimsCheckError            refused by the issuer's claims check
    |   +-- StaleKeysError              the issuer's keys are older than max_stale
    +-- InvalidDPoPProofError       401 invalid_dpop_proof (ReplayedDPoPProofError: a replay)
    +-- UseDPoPNonceError           401 use_dpop_nonce, with a DPoP-Nonce header
    +-- InsufficientScopeError      403 insufficient_scope
    +-- KeysUnavailableError        503, the issuer's keys were never loaded
    +-- ReplayStoreUnavailableError 503, the DPoP replay store cannot be asked
    +-- AuthUnavailableError        503, misconfigured, or a check could not be made

`description` is safe to send to the client: fixed text in RFC 6750's character set,
never anything the client sent. `detail` says exactly why, for logs and the command line;
it may name claim values but never contains the token.
"""

from __future__ import annotations

from collections.abc import Iterable


class AuthError(Exception):
    """Base of every refusal: a status, an RFC 6750 error code and a client-safe description."""

    status_code: int = 401
    error: str | None = "invalid_token"
    description: str = "The access token is invalid"
    #: Short machine-readable reason, used in events and counters.
    reason: str = "invalid"

    def __init__(self, detail: str | None = None, *, description: str | None = None) -> None:
        if description is not None:
            self.description = description
        self.detail = detail or self.description
        super().__init__(self.detail)


class InvalidRequestError(AuthError):
    """The request carries credentials in a malformed way (RFC 6750 section 3.1)."""

    status_code = 400
    error = "invalid_request"
    description = "The request is malformed"
    reason = "invalid_request"


class MissingTokenError(AuthError):
    """No credentials were sent: 401 with a challenge and no error code (RFC 6750 section 3.1)."""

    status_code = 401
    error = None
    description = "Authentication required"
    reason = "missing"


class InvalidTokenError(AuthError):
    """The token is expired, revoked, malformed or invalid for this API."""

    reason = "invalid"


class MalformedTokenError(InvalidTokenError):
    """Not a compact JWS: bad base64url or JSON, wrong part count, too large."""

    description = "The access token is malformed"
    reason = "malformed"


class UnsupportedTokenError(InvalidTokenError):
    """A JWE, a `crit` or `b64` header, or a header key reference (`jku`, `x5u`, `jwk`)."""

    description = "The access token uses an unsupported feature"
    reason = "unsupported"


class DisallowedAlgorithmError(InvalidTokenError):
    """`alg` is `none`, outside the issuer's allowlist, or does not fit the key."""

    description = "The access token algorithm is not allowed"
    reason = "algorithm"


class UntrustedIssuerError(InvalidTokenError):
    """`iss` is missing or not a configured issuer; nothing is fetched for it."""

    description = "The access token issuer is not trusted"
    reason = "issuer"


class UnknownKeyError(InvalidTokenError):
    """No single key of the issuer fits the token's `kid` and algorithm."""

    description = "The access token signing key is unknown"
    reason = "unknown_key"


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the issuer's key."""

    description = "The access token signature is invalid"
    reason = "signature"


class ExpiredTokenError(InvalidTokenError):
    """`exp` is in the past, beyond the leeway."""

    description = "The access token expired"
    reason = "expired"


class ImmatureTokenError(InvalidTokenError):
    """`nbf` or `iat` is in the future, beyond the leeway."""

    description = "The access token is not valid yet"
    reason = "not_yet_valid"


class InvalidAudienceError(InvalidTokenError):
    """`aud` names none of the issuer's configured audiences."""

    description = "The access token audience is not accepted"
    reason = "audience"


class InvalidClaimError(InvalidTokenError):
    """A required claim is missing, malformed or has a value the issuer does not accept."""

    description = "The access token claims are invalid"
    reason = "claims"


class KeyBoundTokenError(InvalidTokenError):
    """The token is bound to a key (`cnf`, RFC 7800: DPoP's `jkt`, a certificate's `x5t#S256`),
    so it is no bearer token: accepted only with a proof of possession of that key."""

    description = "The access token is bound to a key and was sent without proof of possession"
    reason = "key_bound"


class StaleKeysError(InvalidTokenError):
    """The issuer's keys are older than `max_stale` and could not be refreshed."""

    description = "The signing keys of the access token issuer are unavailable"
    reason = "stale_keys"


class InsufficientScopeError(AuthError):
    """The token is valid but lacks what the resource requires (RFC 6750 section 3.1)."""

    status_code = 403
    error = "insufficient_scope"
    description = "The access token lacks the required scope"
    reason = "insufficient_scope"

    def __init__(self, required: Iterable[str], missing: Iterable[str], *, what: str = "scope") -> None:
        self.required = tuple(required)
        self.missing = tuple(missing)
        super().__init__(f"missing {what}: {' '.join(self.missing)}")


class KeysUnavailableError(AuthError):
    """The issuer's keys have never been loaded: the server cannot check any token yet."""

    status_code = 503
    error = None
    description = "The token signing keys are not available yet"
    reason = "keys_unavailable"


class InvalidDPoPProofError(AuthError):
    """The `DPoP` proof is missing, malformed, or fails a check of RFC 9449 section 4.3."""

    status_code = 401
    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid"
    reason = "dpop_proof"


class ReplayedDPoPProofError(InvalidDPoPProofError):
    """The `DPoP` proof's `jti` was seen before within its window (RFC 9449 section 11.1)."""

    description = "The DPoP proof was already used"
    reason = "dpop_replay"


class UseDPoPNonceError(AuthError):
    """The proof lacks a current server nonce (RFC 9449 section 9); `nonce` is the one to
    send in the `DPoP-Nonce` response header."""

    status_code = 401
    error = "use_dpop_nonce"
    description = "The resource server requires a nonce in the DPoP proof"
    reason = "dpop_nonce"

    def __init__(self, detail: str | None = None, *, nonce: str) -> None:
        self.nonce = nonce
        super().__init__(detail)


class DPoPBindingError(InvalidTokenError):
    """The token's `cnf.jkt` is missing or is not the proof key's thumbprint (RFC 9449 section 6.1)."""

    description = "Invalid DPoP key binding"
    reason = "dpop_binding"


class UnboundTokenError(InvalidTokenError):
    """A token of an issuer that requires sender-constrained tokens (`Issuer(dpop="required")`
    or `certificate_bound="required"`) is not bound to a key (RFC 9449 section 7.1, RFC 8705)."""

    description = "The access token must be bound to the client's key"
    reason = "not_bound"


class RevokedTokenError(InvalidTokenError):
    """The issuer's revocation hook (`Issuer(is_revoked=...)`) says the token was revoked,
    or its introspection endpoint says it is no longer active (RFC 7662 section 2.2)."""

    description = "The access token was revoked"
    reason = "revoked"


class ClaimsCheckError(InvalidTokenError):
    """The issuer's claims check (`Issuer(claims_check=...)`) refused the token; its reason is
    logged, never sent to the client."""

    reason = "claims_check"


class ReplayStoreUnavailableError(AuthError):
    """The DPoP replay store could not be asked: the proof cannot be checked, so it is refused."""

    status_code = 503
    error = None
    description = "The DPoP replay check is unavailable"
    reason = "replay_store_unavailable"


class CertificateBindingError(InvalidTokenError):
    """The token is not bound to the client certificate of the request (RFC 8705 section 3)."""

    description = "The access token is not bound to the client certificate"
    reason = "certificate_binding"


class AuthUnavailableError(AuthError):
    """The app's authentication is misconfigured, so no token can be checked: answered 503
    (never 500) while the details go to the log, for the operator."""

    status_code = 503
    error = None
    description = "Authentication is unavailable"
    reason = "misconfigured"
