"""What the provider preset tests share: real-shaped fixtures, filled with test keys.

Every provider's key sets and tokens come from `tests/fixtures/providers/*.json` (see its
README): the shapes are the provider's, the keys are generated here. Key sets are served at
the presets' real URLs through `httpx.MockTransport`, so each test also checks which URL a
preset fetches and with which headers.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from jwks_middleware import Claims, Issuer, IssuerResolver, TokenVerifier

FIXTURES = Path(__file__).parent.parent / "fixtures" / "providers"
Issuers = Iterable[Issuer] | IssuerResolver


# -- fixtures of real shapes, filled with test keys --------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    """An unsigned integer as JWKs write it (RFC 7518 section 2, Base64urlUInt)."""
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@functools.cache
def _private_key(provider: str, name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _certificate(provider: str, name: str) -> bytes:
    """A self-signed certificate for a test key, as providers publish in `x5c`."""
    key = _private_key(provider, name)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{provider} test key {name}")])
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def _render(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        return values.get(template, template)
    if isinstance(template, list):
        return [_render(item, values) for item in template]
    if isinstance(template, dict):
        return {name: _render(value, values) for name, value in template.items() if name != "$key"}
    return template


class Provider:
    """One provider fixture: its key sets and tokens, with keys generated for the test."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
        self.now = float(self.data["now"])

    def private_key(self, key_name: str) -> rsa.RSAPrivateKey:
        template = self.data["keys"][key_name]
        assert template["kty"] == "RSA"
        return _private_key(self.name, template.get("$key", key_name))

    def jwk(self, key_name: str) -> dict[str, Any]:
        """A key of a set, every member as the provider publishes it."""
        base = self.data["keys"][key_name].get("$key", key_name)
        numbers = _private_key(self.name, base).public_key().public_numbers()
        der = _certificate(self.name, base)
        sha1 = hashlib.sha1(der).digest()  # noqa: S324 - x5t is defined as SHA-1 (RFC 7517 section 4.8)
        values = {
            "<n>": b64url_uint(numbers.n),
            "<e>": b64url_uint(numbers.e),
            "<x5c>": base64.b64encode(der).decode("ascii"),
            "<x5t>": _b64url(sha1),
            "<x5t#S256>": _b64url(hashlib.sha256(der).digest()),
            "<auth0-x5t>": _b64url(sha1.hex().upper().encode("ascii")),
        }
        rendered: dict[str, Any] = _render(self.data["keys"][key_name], values)
        return rendered

    def key_sets(self, which: str = "key_sets") -> dict[str, dict[str, Any]]:
        return {url: {"keys": [self.jwk(name) for name in names]} for url, names in self.data[which].items()}

    def token(self, token_name: str) -> str:
        spec = self.data["tokens"][token_name]
        key_name = spec["signed_by"]
        header = _render(spec["header"], {"<kid>": self.jwk(key_name)["kid"]})
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, spec["claims"])
        )
        signature = self.private_key(key_name).sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64url(signature)}"

    def claims(self, token_name: str) -> dict[str, Any]:
        claims: dict[str, Any] = self.data["tokens"][token_name]["claims"]
        return claims


class IdentityProvider:
    """Serves a provider's key sets at their real URLs; records every request."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.documents = provider.key_sets()
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        document = self.documents.get(str(request.url))
        if document is None:
            return httpx.Response(404, json={"error": "not found"})
        return httpx.Response(200, json=document, headers={"Cache-Control": "public, max-age=3600"})

    @property
    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]

    @asynccontextmanager
    async def verifier(self, issuers: Issuers) -> AsyncIterator[TokenVerifier]:
        transport = httpx.MockTransport(self.handle)
        async with (
            httpx.AsyncClient(transport=transport) as client,
            TokenVerifier(issuers, http_client=client, clock=lambda: self.provider.now) as verifier,
        ):
            yield verifier

    async def verify(self, issuers: Issuers, *token_names: str) -> list[Claims]:
        async with self.verifier(issuers) as verifier:
            return [await verifier.verify(self.provider.token(name)) for name in token_names]


def identity_provider(name: str) -> IdentityProvider:
    """The provider fixture `tests/fixtures/providers/{name}.json`, ready to serve its key sets."""
    return IdentityProvider(Provider(name))


def entra_id_provider() -> tuple[IdentityProvider, dict[str, str], dict[str, str]]:
    """The Entra ID fixture, its tenant IDs by name and its API's identifiers."""
    idp = identity_provider("entra_id")
    return idp, idp.provider.data["tenants"], idp.provider.data["api"]


# -- values several test modules share ---------------------------------------------------

AUTH0_DOMAIN = "example-tenant.us.auth0.com"
AUTH0_API = "https://api.example.com"

OKTA_DOMAIN = "dev-12345678.okta.com"
POOL = ("us-east-1", "us-east-1_AbCdEfGhI")
APP_CLIENT = "1example23456789abcdefghij"
GOOGLE_CLIENT = "1234987819200.apps.googleusercontent.com"
