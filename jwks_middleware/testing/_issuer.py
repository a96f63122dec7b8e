"""`LocalIssuer`: keys, tokens (JWTs and opaque ones), documents, rotation and serving.

It has a key ring (`_signing.py`), a memory of opaque and revoked tokens
(`_introspection.py`) and the endpoints that serve them all (`_endpoints.py`), whose
controls it forwards (`_controls.py`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

from ._controls import EndpointControls
from ._endpoints import IssuerEndpoints, encode_json
from ._introspection import IntrospectionService
from ._signing import CURRENT_KEY, KeyRing, KidChoice, b64

if TYPE_CHECKING:
    import httpx

    from .._introspection_config import Introspection
    from .._issuer import Issuer

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_ISSUER_URL", "WRONG_AUDIENCE", "LocalIssuer"]

#: `iss` of a `LocalIssuer` made without a URL (the `.test` top-level domain never resolves).
DEFAULT_ISSUER_URL: Final = "https://issuer.example.test"
#: Audience of a `LocalIssuer`'s tokens unless told otherwise.
DEFAULT_AUDIENCE: Final = "https://api.example.test"
#: Audience of `wrong_audience_token()`.
WRONG_AUDIENCE: Final = "https://another-api.example.test"

_T = TypeVar("_T", bound="LocalIssuer")


class LocalIssuer(EndpointControls):
    """An OpenID Connect issuer that lives in the test: keys, tokens, discovery and JWKS.

    `url` is the `iss` of its tokens, exactly as given; its endpoints are built from it
    without a trailing slash. Signing keys are RSA 2048 (RS*/PS*), EC P-256/384/521 or
    secp256k1 (ES*), or Ed25519/Ed448 (EdDSA, Ed25519, Ed448); the `kid` of each is its
    RFC 7638 thumbprint. `clock` (seconds since the epoch) dates the tokens and decides
    which are still active.

    Serving (`serve()`, `asgi_app()`): the JWKS at `jwks_uri`, the metadata at
    `discovery_url` and at the RFC 8414 `oauth_metadata_url`, each with `Cache-Control:
    public, max-age=<cache_max_age>` and a strong `ETag` (304 to a matching `If-None-Match`);
    token introspection (RFC 7662) at `introspection_endpoint` and revocation (RFC 7009) at
    `revocation_endpoint`, both POST only, for the client `introspection_client`.
    """

    def __init__(
        self,
        url: str = DEFAULT_ISSUER_URL,
        *,
        algorithm: str = "RS256",
        audience: str = DEFAULT_AUDIENCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the issuer URL must be an http(s) URL without query or fragment, not {url!r}")
        self._keys = KeyRing(algorithm)
        self.url = url
        self.audience = audience
        self.algorithm = algorithm
        base, path = url.rstrip("/"), parts.path.rstrip("/")
        self.jwks_uri = f"{base}/.well-known/jwks.json"
        self.discovery_url = f"{base}/.well-known/openid-configuration"  # OpenID Connect Discovery 1.0 §4
        self.oauth_metadata_url = (
            f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"
        )
        self.token_endpoint = f"{base}/token"  # advertised, not served
        self.introspection_endpoint = f"{base}/introspect"
        self.revocation_endpoint = f"{base}/revoke"
        self._clock = clock
        self._tokens = IntrospectionService(clock=clock, jwt_claims=self._keys.claims_of)
        forms = {
            self.introspection_endpoint: self._tokens.introspection_answer,
            self.revocation_endpoint: self._tokens.revocation_answer,
        }
        super().__init__(IssuerEndpoints(self, forms=forms))

    def __repr__(self) -> str:
        return f"LocalIssuer({self.url!r}, algorithm={self.algorithm!r}, kid={self.kid!r})"

    @property
    def kid(self) -> str:
        """The `kid` of the current signing key."""
        return self._keys.signer.kid

    @property
    def published_kids(self) -> tuple[str, ...]:
        """The `kid`s in the JWKS, oldest first."""
        return tuple(key.kid for key in self._keys.published)

    # -- tokens --------------------------------------------------------------------------------

    def issue(
        self,
        sub: str | None = "user-123",
        scopes: Iterable[str] = (),
        audience: str | list[str] | None = None,
        expires_in: float = 300,
        *,
        kid: KidChoice = CURRENT_KEY,
        headers: Mapping[str, Any] | None = None,
        issued_at: float | None = None,
        **claims: Any,
    ) -> str:
        """Mint a signed JWT.

        Claims: `iss` (this issuer's `url`), `sub`, `aud` (`audience`, default this issuer's),
        `iat` (`issued_at`, default now), `exp` (`iat + expires_in`), a random `jti`, and
        `scope` (the `scopes` joined by spaces) when scopes are given. `claims` add or replace
        claims; a claim given as None is left out (``exp=None`` makes a token without `exp`).

        Header: `alg`, `typ: JWT` and the signing key's `kid`. `kid` picks the signing key
        among the keys this issuer made (published or retired); None signs with the current
        key and sends no `kid`. `headers` add or replace header members after that (None
        removes one); they change only what the header says, e.g. ``{"alg": "HS256"}`` or
        ``{"jku": ...}``: the signature is always made by the chosen key with this issuer's
        algorithm.
        """
        payload = self._claims(sub, scopes, audience, expires_in, issued_at, claims)
        key = self._keys.key(kid)
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if kid is not None:
            header["kid"] = key.kid
        header.update(headers or {})
        return self.sign(payload, header=_without_none(header), kid=key.kid)

    def issue_opaque(
        self,
        sub: str | None = "user-123",
        scopes: Iterable[str] = (),
        audience: str | list[str] | None = None,
        expires_in: float = 300,
        *,
        issued_at: float | None = None,
        **claims: Any,
    ) -> str:
        """Make an opaque (reference) token: a random string that only this issuer's
        introspection endpoint can read. Its claims are those `issue` would sign, with the
        same arguments; introspection answers them, with ``active: true``, until `exp` or
        `revoke`."""
        return self._tokens.issue(self._claims(sub, scopes, audience, expires_in, issued_at, claims))

    def revoke(self, token: str) -> None:
        """Revoke a token (opaque, or a JWT of this issuer): introspection answers
        ``active: false`` for it from now on. The JWKS does not change."""
        self._tokens.revoke(token)

    def sign(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        header: Mapping[str, Any] | bytes | None = None,
        kid: KidChoice = CURRENT_KEY,
    ) -> str:
        """Sign any payload under any protected header, used verbatim (bytes as they are), for
        tokens `issue` cannot make: duplicate JSON members, odd encodings, no claims at all.

        Without `header`: ``{"alg": <algorithm>, "typ": "JWT", "kid": <key's kid>}``. `kid`
        picks the signing key as in `issue`.
        """
        key = self._keys.key(kid)
        if header is None:
            header = {"alg": self.algorithm, "typ": "JWT", "kid": key.kid}
        return self._keys.sign(payload, header, key)

    def expired_token(self, **kw: Any) -> str:
        """A token whose `exp` passed 10 minutes ago, beyond any allowed leeway (`issue` arguments)."""
        now = self._clock()
        kw.setdefault("issued_at", now - 15 * 60)
        kw.setdefault("exp", int(now - 10 * 60))
        return self.issue(**kw)

    def wrong_audience_token(self, **kw: Any) -> str:
        """A token for another API (`aud` is `WRONG_AUDIENCE` unless `audience=` is given)."""
        kw.setdefault("audience", WRONG_AUDIENCE)
        return self.issue(**kw)

    def wrong_key_token(self, **kw: Any) -> str:
        """A token whose header names the current `kid` but is signed by another private key."""
        headers = {"kid": self.kid, **(kw.pop("headers", None) or {})}
        return self.issue(kid=self._keys.unpublished().kid, headers=headers, **kw)

    def unknown_kid_token(self, **kw: Any) -> str:
        """A token signed by a key this issuer never published, under that key's own `kid`."""
        return self.issue(kid=self._keys.unpublished().kid, **kw)

    def unsigned_token(self, **kw: Any) -> str:
        """A token with ``alg: none`` and an empty signature (RFC 7519 section 6; never valid)."""
        payload = self.issue(**kw).split(".")[1]
        return f"{b64(encode_json({'alg': 'none', 'typ': 'JWT'})).decode()}.{payload}."

    def _claims(
        self,
        sub: str | None,
        scopes: Iterable[str],
        audience: str | list[str] | None,
        expires_in: float,
        issued_at: float | None,
        claims: Mapping[str, Any],
    ) -> dict[str, Any]:
        if isinstance(scopes, str):
            raise TypeError("scopes must be a list of scope names, not a string")
        iat = int(self._clock() if issued_at is None else issued_at)
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": sub,
            "aud": self.audience if audience is None else audience,
            "iat": iat,
            "exp": int(iat + expires_in),
            "jti": secrets.token_urlsafe(16),
        }
        scope_list = list(scopes)
        if scope_list:
            payload["scope"] = " ".join(scope_list)
        payload.update(claims)
        return _without_none(payload)

    # -- documents -----------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The published JWK Set: public members only, with `kid`, `alg` and ``use: sig``."""
        return {"keys": [dict(key.public) for key in self._keys.published]}

    def metadata(self) -> dict[str, Any]:
        """The OpenID Connect discovery document (also served as RFC 8414 metadata)."""
        base = self.url.rstrip("/")
        client_auth = ["client_secret_basic", "client_secret_post"]
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "introspection_endpoint": self.introspection_endpoint,
            "introspection_endpoint_auth_methods_supported": client_auth,
            "revocation_endpoint": self.revocation_endpoint,
            "revocation_endpoint_auth_methods_supported": client_auth,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "scopes_supported": ["openid"],
        }

    def public_key_pem(self, kid: str | None = None) -> str:
        """A key's public half as PEM (default: the current signing key)."""
        pem: bytes = self._keys.key(kid).key.as_pem(private=False)
        return pem.decode("ascii")

    def oversized_jwks(self, min_bytes: int = 1024 * 1024) -> dict[str, Any]:
        """The JWKS padded with copies of the current public key (distinct `kid`s) to at least
        `min_bytes` of JSON: too big and too many keys at once. Serve it with `serve_jwks`."""
        document = self.jwks()
        template, size, index = document["keys"][-1], len(encode_json(document)), 0
        while size < min_bytes:
            entry = {**template, "kid": f"padding-{index:07d}"}
            document["keys"].append(entry)
            size += len(encode_json(entry)) + 1
            index += 1
        return document

    def config(self, **issuer_options: Any) -> Issuer:
        """The `Issuer` trusting this issuer: ``Issuer(url, audience=audience, **issuer_options)``."""
        from .._issuer import Issuer

        return Issuer(self.url, **{"audience": self.audience, **issuer_options})

    @property
    def introspection_client(self) -> tuple[str, str]:
        """The client id and secret the introspection and revocation endpoints accept (made up
        for this issuer; `client_secret_basic` or `client_secret_post`)."""
        return self._tokens.client_id, self._tokens.client_secret

    def introspection(self, **options: Any) -> Introspection:
        """An `Introspection` for this issuer's endpoint and client: ``Introspection(client_id,
        client_secret=..., endpoint=introspection_endpoint, **options)``."""
        from .._introspection_config import Introspection

        client_id, client_secret = self.introspection_client
        settings = {"client_secret": client_secret, "endpoint": self.introspection_endpoint, **options}
        return Introspection(client_id, **settings)

    def http_client(self, **client_options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` answered in memory by `asgi_app()`; the caller closes it."""
        import httpx

        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi_app()), **client_options)

    # -- rotation ------------------------------------------------------------------------------

    def publish_next_key(self) -> str:
        """Make a new key and add it to the JWKS, not signing yet; return its `kid`."""
        return self._keys.publish_next_key()

    def switch_signer(self) -> None:
        """Sign with the newest published key from now on."""
        self._keys.switch_signer()

    def retire_old_keys(self) -> None:
        """Drop every key but the current signing key from the JWKS (they can still sign)."""
        self._keys.retire_old_keys()

    def rotate(self) -> str:
        """`publish_next_key` then `switch_signer`; the old key stays published. Return the new `kid`."""
        kid = self.publish_next_key()
        self.switch_signer()
        return kid

    # -- serving -------------------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def serve(
        cls: type[_T],
        *,
        algorithm: str = "RS256",
        audience: str = DEFAULT_AUDIENCE,
        host: str = "127.0.0.1",
        path: str = "",
        clock: Callable[[], float] = time.time,
    ) -> Iterator[_T]:
        """Run a local issuer on ``http://<host>:<free port><path>`` in a thread, for the block.

        The port is bound first and the issuer's `url` made from it. `host` must be a loopback
        address. `stop()` and `start()` take the server down and back up on the same port.
        """
        from ._server import LoopbackServer

        if not _is_loopback(host):
            raise ValueError(f"a LocalIssuer serves only on a loopback address, not {host!r}")
        if path and (not path.startswith("/") or path.endswith("/")):
            raise ValueError("path must start with '/' and not end with one")
        server = LoopbackServer(host)
        server.bind()
        try:
            issuer = cls(server.url + path, algorithm=algorithm, audience=audience, clock=clock)
            issuer._endpoints.use_server(server)
            issuer.start()
            yield issuer
        finally:
            server.stop()


def _without_none(members: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
