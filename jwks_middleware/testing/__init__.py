"""A local token issuer for tests: it makes keys, mints tokens, serves discovery and JWKS.

Test an app protected by jwks-middleware with no network::

    from jwks_middleware.testing import LocalIssuer

    with LocalIssuer.serve() as issuer:  # a real HTTP server on 127.0.0.1, random port
        app = Starlette(routes=..., middleware=[Middleware(JWKSMiddleware, issuers=[issuer.config()])])
        with TestClient(app) as client:
            token = issuer.issue(scopes=["read:items"])
            client.get("/items", headers={"Authorization": f"Bearer {token}"})

Without a server, ``issuer.asgi_app()`` serves the same documents in memory (give the
middleware ``http_client=issuer.http_client()``), and ``issuer.config(jwks=issuer.jwks())``
needs no fetch at all. The pytest plugin (``jwks_middleware.pytest_plugin``) provides the
``local_issuer`` and ``local_issuer_config`` fixtures.

Opaque tokens: ``issuer.issue_opaque(...)`` makes a reference token that only the issuer's
introspection endpoint (RFC 7662, ``issuer.introspection_endpoint``) can read;
``issuer.introspection()`` is the `Introspection` configuration for it, and
``issuer.revoke(token)`` makes it (or a JWT) inactive.

A served issuer can also misbehave on purpose (`fail_with`, `serve_garbage`, `redirect`,
`slow_down`, `trickle`, `serve_jwks`, `serve_metadata`, `stop`), rotate its keys (`publish_next_key`,
`switch_signer`, `retire_old_keys`, `rotate`) and count what it was asked (`requests`,
`request_log`).

Keys are generated in memory for each issuer and never written anywhere. Tokens are never
logged, and the server logs nothing.
"""

from __future__ import annotations

from .._public import show_as_public
from ._dpop import DPoPKey, dpop_bound_claims
from ._endpoints import DEFAULT_CACHE_MAX_AGE, RecordedRequest
from ._issuer import DEFAULT_AUDIENCE, DEFAULT_ISSUER_URL, WRONG_AUDIENCE, LocalIssuer
from ._mtls import TestCertificate, TestCertificateAuthority, certificate_bound_claims, x5t_s256
from ._signing import CURRENT_KEY, SUPPORTED_ALGORITHMS

__all__ = [
    "CURRENT_KEY",
    "DEFAULT_AUDIENCE",
    "DEFAULT_CACHE_MAX_AGE",
    "DEFAULT_ISSUER_URL",
    "SUPPORTED_ALGORITHMS",
    "WRONG_AUDIENCE",
    "DPoPKey",
    "LocalIssuer",
    "RecordedRequest",
    "TestCertificate",
    "TestCertificateAuthority",
    "certificate_bound_claims",
    "dpop_bound_claims",
    "x5t_s256",
]

show_as_public(__name__, globals(), __all__)
