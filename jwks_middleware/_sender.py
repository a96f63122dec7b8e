"""Sender-constrained tokens: the proof that the client holds the key a token is bound to.

A token bound to a key (`cnf`, RFC 7800) is verified like any other by the verifier
(`verify_bound`); then `SenderConstraints.check` asks for the proof its binding needs:

- ``Authorization: DPoP`` (RFC 9449): one valid `DPoP` proof for this request, signed by the key
  whose thumbprint is the token's `cnf.jkt`;
- `cnf.x5t#S256` (RFC 8705): the request's TLS client certificate has that thumbprint.

Each issuer says which bindings it accepts or requires (`Issuer(dpop=..., certificate_bound=...)`).
A binding nothing here can check (`cnf.jwk`, `cnf.kid`, ...) is refused. The proof is checked on
every request: the verified-token cache saves the token's signature, never the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.types import Scope

from ._dpop import check_binding, proof_header, verify_proof
from ._dpop_policy import DPoPPolicy
from ._dpop_url import request_url
from ._errors import DPoPBindingError, InvalidDPoPProofError, KeyBoundTokenError, UnboundTokenError
from ._extract import Credentials
from ._issuer import Issuer
from ._mtls import CertificateSource, check_certificate_binding, client_certificate_thumbprint
from ._replay import MemoryReplayStore, ReplayStore
from ._responses import Challenges

__all__ = ["SenderConstraints"]

_CHECKED_BINDINGS = frozenset({"jkt", "x5t#S256"})


class SenderConstraints:
    """The proofs of possession an app checks: DPoP proofs under `dpop`, and client
    certificates from `client_certificate` (None: certificate-bound tokens are refused)."""

    __slots__ = ("client_certificate", "dpop", "dpop_configured", "replay_store")

    def __init__(
        self,
        *,
        dpop: DPoPPolicy | None,
        client_certificate: CertificateSource | None,
        clock: Callable[[], float],
    ) -> None:
        if dpop is not None and not isinstance(dpop, DPoPPolicy):
            raise TypeError("dpop must be a DPoPPolicy")
        if client_certificate is not None and not isinstance(client_certificate, CertificateSource):
            raise TypeError("client_certificate must be a CertificateSource")
        self.dpop_configured = dpop is not None
        self.dpop = dpop or DPoPPolicy()
        self.client_certificate = client_certificate
        self.replay_store: ReplayStore = self.dpop.replay_store or MemoryReplayStore(clock=clock)

    def challenges(
        self, issuers: Sequence[Issuer], *, resolvers: bool, realm: str | None, resource_metadata: str | None
    ) -> Challenges:
        """The challenges of an app trusting `issuers` (and issuers found by resolvers): `DPoP`
        when an issuer accepts it (or `dpop` was configured), `Bearer` unless every issuer
        requires DPoP."""
        dpop = self.dpop_configured or any(issuer.dpop != "refused" for issuer in issuers)
        bearer = resolvers or any(issuer.dpop != "required" for issuer in issuers)
        return Challenges(
            realm=realm,
            bearer=bearer,
            dpop_algorithms=tuple(self.dpop.algorithms) if dpop else (),
            resource_metadata=resource_metadata,
        )

    def needs_bound_verification(self, credentials: Credentials) -> bool:
        """Whether a token sent this way may be bound, so that its proof must be checked here."""
        return credentials.scheme == "dpop" or self.client_certificate is not None

    async def check(
        self, scope: Scope, credentials: Credentials, claims: Mapping[str, Any], issuer: Issuer, now: float
    ) -> None:
        """Refuse the request unless every binding of the token is proven and the issuer's
        requirements are met; raise an `AuthError`."""
        cnf = claims.get("cnf")
        if cnf is not None and not isinstance(cnf, Mapping):
            raise KeyBoundTokenError("token 'cnf' is not an object")
        bindings = frozenset(cnf or ())
        if bindings - _CHECKED_BINDINGS:
            raise KeyBoundTokenError("token is bound to a key in a way this server cannot check (RFC 7800)")
        if credentials.scheme == "dpop":
            await self._check_dpop(scope, credentials.token, claims, issuer, now)
        elif "jkt" in bindings:  # RFC 9449 section 7.2: a DPoP-bound token needs its proof
            # The refusal `verify` gives (`check_bearer`), whether or not certificates are checked.
            raise KeyBoundTokenError("token is bound to a DPoP key and was sent with the Bearer scheme")
        elif issuer.dpop == "required" and "x5t#S256" not in bindings:
            raise UnboundTokenError("token is not DPoP-bound, and its issuer requires DPoP")
        if "x5t#S256" in bindings:
            if issuer.certificate_bound == "refused" or self.client_certificate is None:
                raise KeyBoundTokenError("token is bound to a client certificate, which is not checked here")
            thumbprint = client_certificate_thumbprint(scope, self.client_certificate)
            check_certificate_binding(claims, thumbprint)  # RFC 8705 section 3
        elif issuer.certificate_bound == "required" and credentials.scheme != "dpop":
            raise UnboundTokenError("token is not certificate-bound, and its issuer requires it")

    async def _check_dpop(
        self, scope: Scope, token: str, claims: Mapping[str, Any], issuer: Issuer, now: float
    ) -> None:
        if issuer.dpop == "refused":
            raise DPoPBindingError("DPoP is not accepted for tokens of this issuer")
        proof = proof_header(scope)
        if proof is None:  # RFC 9449 section 7.1: the DPoP scheme comes with a proof
            raise InvalidDPoPProofError("no DPoP proof was sent with the DPoP scheme")
        policy = self.dpop
        verified = await verify_proof(
            proof,
            method="GET" if scope["type"] == "websocket" else scope["method"],
            url=request_url(
                scope, public_origin=policy.public_origin, trust_forwarded=policy.trust_forwarded
            ),
            access_token=token,
            policy=policy,
            replay_store=self.replay_store,
            now=now,
        )
        check_binding(claims, verified.jkt)  # RFC 9449 section 6.1
