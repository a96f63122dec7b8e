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

A served issuer can also misbehave on purpose (`fail_with`, `serve_garbage`, `redirect`,
`slow_down`, `trickle`, `serve_jwks`, `serve_metadata`, `stop`), rotate its keys (`publish_next_key`,
`switch_signer`, `retire_old_keys`, `rotate`) and count what it was asked (`requests`,
`request_log`).

Keys are generated in memory for each issuer and never written anywhere. Tokens are never
logged, and the server logs nothing.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import ipaddress
import secrets
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from ._server import DEFAULT_CACHE_MAX_AGE, IssuerEndpoints, RecordedRequest, encode_json

if TYPE_CHECKING:
    import httpx

    from .._issuer import Issuer

__all__ = [
    "CURRENT_KEY",
    "DEFAULT_AUDIENCE",
    "DEFAULT_CACHE_MAX_AGE",
    "DEFAULT_ISSUER_URL",
    "SUPPORTED_ALGORITHMS",
    "WRONG_AUDIENCE",
    "LocalIssuer",
    "RecordedRequest",
]

#: `iss` of a `LocalIssuer` made without a URL (the `.test` top-level domain never resolves).
DEFAULT_ISSUER_URL: Final = "https://issuer.example.test"
#: Audience of a `LocalIssuer`'s tokens unless told otherwise.
DEFAULT_AUDIENCE: Final = "https://api.example.test"
#: Audience of `wrong_audience_token()`.
WRONG_AUDIENCE: Final = "https://another-api.example.test"

_Key = RSAKey | ECKey | OKPKey
# Algorithm -> key type and parameter (RSA size in bits, or curve name).
_KEY_SPECS: Final[dict[str, tuple[type[_Key], int | str]]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), (RSAKey, 2048)),
    "ES256": (ECKey, "P-256"),
    "ES384": (ECKey, "P-384"),
    "ES512": (ECKey, "P-521"),
    "ES256K": (ECKey, "secp256k1"),
    "EdDSA": (OKPKey, "Ed25519"),
    "Ed25519": (OKPKey, "Ed25519"),
    "Ed448": (OKPKey, "Ed448"),
}
#: Algorithms a `LocalIssuer` can sign with.
SUPPORTED_ALGORITHMS: Final = tuple(_KEY_SPECS)


class _Current(enum.Enum):
    KEY = "the current signing key"


#: Default of `issue(kid=...)`: sign with the current signing key and put its `kid` in the header.
CURRENT_KEY: Final = _Current.KEY

_T = TypeVar("_T", bound="LocalIssuer")


@dataclass(frozen=True)
class _SigningKey:
    kid: str
    key: _Key = field(repr=False)
    public: Mapping[str, Any] = field(repr=False)


class LocalIssuer(IssuerEndpoints):
    """An OpenID Connect issuer that lives in the test: keys, tokens, discovery and JWKS.

    `url` is the `iss` of its tokens, exactly as given; its endpoints are built from it
    without a trailing slash. Signing keys are RSA 2048 (RS*/PS*), EC P-256/384/521 or
    secp256k1 (ES*), or Ed25519/Ed448 (EdDSA, Ed25519, Ed448); the `kid` of each is its
    RFC 7638 thumbprint. `clock` (seconds since the epoch) dates the tokens.

    Serving (`serve()`, `asgi_app()`): the JWKS at `jwks_uri`, the metadata at
    `discovery_url` and at the RFC 8414 `oauth_metadata_url`, each with `Cache-Control:
    public, max-age=<cache_max_age>` and a strong `ETag` (304 to a matching `If-None-Match`).
    """

    def __init__(
        self,
        url: str = DEFAULT_ISSUER_URL,
        *,
        algorithm: str = "RS256",
        audience: str = DEFAULT_AUDIENCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in _KEY_SPECS:
            raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {', '.join(_KEY_SPECS)}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"the issuer URL must be an http(s) URL without query or fragment, not {url!r}")
        super().__init__()
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
        self._clock = clock
        with warnings.catch_warnings():
            # joserfc flags "EdDSA" as deprecated by RFC 9864; tests still need such tokens.
            warnings.simplefilter("ignore", SecurityWarning)
            self._alg = JWSRegistry(algorithms=[algorithm]).get_alg(algorithm)
        self._held: dict[str, _SigningKey] = {}  # every key made, published or not, by kid
        first = self._new_key()
        self._signer = first
        self._published: tuple[_SigningKey, ...] = (first,)
        self._stranger: _SigningKey | None = None

    def __repr__(self) -> str:
        return f"LocalIssuer({self.url!r}, algorithm={self.algorithm!r}, kid={self.kid!r})"

    @property
    def kid(self) -> str:
        """The `kid` of the current signing key."""
        return self._signer.kid

    @property
    def published_kids(self) -> tuple[str, ...]:
        """The `kid`s in the JWKS, oldest first."""
        return tuple(key.kid for key in self._published)

    # -- tokens --------------------------------------------------------------------------------

    def issue(
        self,
        sub: str | None = "user-123",
        scopes: Iterable[str] = (),
        audience: str | list[str] | None = None,
        expires_in: float = 300,
        *,
        kid: str | Literal[_Current.KEY] | None = CURRENT_KEY,
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
        key = self._key(kid)
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "JWT"}
        if kid is not None:
            header["kid"] = key.kid
        header.update(headers or {})
        return self.sign(_without_none(payload), header=_without_none(header), kid=key.kid)

    def sign(
        self,
        payload: Mapping[str, Any] | bytes,
        *,
        header: Mapping[str, Any] | bytes | None = None,
        kid: str | Literal[_Current.KEY] | None = CURRENT_KEY,
    ) -> str:
        """Sign any payload under any protected header, used verbatim (bytes as they are), for
        tokens `issue` cannot make: duplicate JSON members, odd encodings, no claims at all.

        Without `header`: ``{"alg": <algorithm>, "typ": "JWT", "kid": <key's kid>}``. `kid`
        picks the signing key as in `issue`.
        """
        key = self._key(kid)
        if header is None:
            header = {"alg": self.algorithm, "typ": "JWT", "kid": key.kid}
        signing_input = _b64(encode_json(header)) + b"." + _b64(encode_json(payload))
        signature = self._alg.sign(signing_input, key.key)
        return (signing_input + b"." + _b64(signature)).decode("ascii")

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
        return self.issue(kid=self._unpublished().kid, headers=headers, **kw)

    def unknown_kid_token(self, **kw: Any) -> str:
        """A token signed by a key this issuer never published, under that key's own `kid`."""
        return self.issue(kid=self._unpublished().kid, **kw)

    def unsigned_token(self, **kw: Any) -> str:
        """A token with ``alg: none`` and an empty signature (RFC 7519 section 6; never valid)."""
        payload = self.issue(**kw).split(".")[1]
        return f"{_b64(encode_json({'alg': 'none', 'typ': 'JWT'})).decode()}.{payload}."

    # -- documents -----------------------------------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        """The published JWK Set: public members only, with `kid`, `alg` and ``use: sig``."""
        return {"keys": [dict(key.public) for key in self._published]}

    def metadata(self) -> dict[str, Any]:
        """The OpenID Connect discovery document (also served as RFC 8414 metadata)."""
        base = self.url.rstrip("/")
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": self.token_endpoint,
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "scopes_supported": ["openid"],
        }

    def public_key_pem(self, kid: str | None = None) -> str:
        """A key's public half as PEM (default: the current signing key)."""
        pem: bytes = self._key(kid).key.as_pem(private=False)
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

    def http_client(self, **client_options: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` answered in memory by `asgi_app()`; the caller closes it."""
        import httpx

        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.asgi_app()), **client_options)

    # -- rotation ------------------------------------------------------------------------------

    def publish_next_key(self) -> str:
        """Make a new key and add it to the JWKS, not signing yet; return its `kid`."""
        key = self._new_key()
        self._published = (*self._published, key)  # swapped whole: the server thread reads it
        return key.kid

    def switch_signer(self) -> None:
        """Sign with the newest published key from now on."""
        self._signer = self._published[-1]

    def retire_old_keys(self) -> None:
        """Drop every key but the current signing key from the JWKS (they can still sign)."""
        self._published = (self._signer,)

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
            issuer._server = server
            server.start(issuer)
            yield issuer
        finally:
            server.stop()

    # -- internals -----------------------------------------------------------------------------

    def _new_key(self) -> _SigningKey:
        key_type, parameter = _KEY_SPECS[self.algorithm]
        key: _Key = key_type.generate_key(parameter, private=True)  # type: ignore[arg-type]
        kid = key.thumbprint()
        public: dict[str, Any] = {"kty": key.key_type, "use": "sig", "alg": self.algorithm, "kid": kid}
        public.update({name: value for name, value in key.as_dict(private=False).items() if name != "kty"})
        made = _SigningKey(kid, key, public)
        self._held[kid] = made
        return made

    def _unpublished(self) -> _SigningKey:
        if self._stranger is None:
            self._stranger = self._new_key()
        return self._stranger

    def _key(self, kid: str | Literal[_Current.KEY] | None) -> _SigningKey:
        if kid is None or kid is _Current.KEY:
            return self._signer
        try:
            return self._held[kid]
        except KeyError:
            raise ValueError(f"this issuer made no key with kid {kid!r}") from None


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _without_none(members: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in members.items() if value is not None}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
