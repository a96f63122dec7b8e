"""Provider presets accept tokens shaped exactly like each provider's, and refuse the rest.

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
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from jwks_middleware import (
    Claims,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidTokenError,
    Issuer,
    IssuerResolver,
    TokenVerifier,
    UntrustedIssuerError,
    providers,
)

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures" / "providers"
Issuers = Iterable[Issuer] | IssuerResolver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- fixtures of real shapes, filled with test keys --------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
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
            "<n>": _uint(numbers.n),
            "<e>": _uint(numbers.e),
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


def _idp(name: str) -> IdentityProvider:
    return IdentityProvider(Provider(name))


# -- Auth0 ---------------------------------------------------------------------------------

AUTH0_DOMAIN = "example-tenant.us.auth0.com"
AUTH0_API = "https://api.example.com"


def test_auth0_sample_jwks_certificate_agrees_with_n_and_e() -> None:
    sample = json.loads((FIXTURES / "auth0-sample-jwks.json").read_text())
    (key,) = sample["keys"]
    der = base64.b64decode(key["x5c"][0])
    public = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert _uint(public.public_numbers().n) == key["n"]
    assert _uint(public.public_numbers().e) == key["e"]
    # Auth0's older x5t (and kid): base64url of the SHA-1 thumbprint written in upper-case hex.
    thumbprint = hashlib.sha1(der).hexdigest().upper()  # noqa: S324 - the x5t definition
    assert base64.urlsafe_b64decode(key["x5t"] + "==").decode() == thumbprint
    issuer = providers.auth0(AUTH0_DOMAIN, AUTH0_API, jwks=sample)
    assert issuer.static_keys is not None
    assert [k.kid for k in issuer.static_keys] == [key["kid"]]


def test_auth0_sample_jwks_with_a_modulus_not_of_its_certificate_is_refused() -> None:
    sample = json.loads((FIXTURES / "auth0-sample-jwks.json").read_text())
    other = Provider("auth0").jwk("current")
    tampered = {"keys": [{**sample["keys"][0], "n": other["n"]}]}
    with pytest.raises(ValueError, match="no usable signing key"):
        providers.auth0(AUTH0_DOMAIN, AUTH0_API, jwks=tampered)


async def test_auth0_scopes_are_the_scope_string_and_the_permissions_list() -> None:
    idp = _idp("auth0")
    (claims,) = await idp.verify([providers.auth0(AUTH0_DOMAIN, AUTH0_API)], "user_access_token")
    assert claims.scopes == {"openid", "profile", "email", "read:items", "write:items"}
    assert claims.audience == (AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo")
    assert idp.urls == [f"https://{AUTH0_DOMAIN}/.well-known/jwks.json"]


async def test_auth0_keys_with_x5c_and_hex_thumbprint_kids_verify_every_token_kind() -> None:
    idp = _idp("auth0")
    issuer = providers.auth0(AUTH0_DOMAIN.upper(), AUTH0_API)
    assert issuer.issuer == f"https://{AUTH0_DOMAIN}/"
    profile, machine = await idp.verify([issuer], "rfc9068_access_token", "machine_access_token")
    assert profile["client_id"] == machine["azp"]
    assert machine.subject is not None
    assert machine.subject.endswith("@clients")


async def test_auth0_rfc9068_profile_can_be_required() -> None:
    idp = _idp("auth0")
    issuer = providers.auth0(AUTH0_DOMAIN, AUTH0_API, access_token_profile=True)
    (claims,) = await idp.verify([issuer], "rfc9068_access_token")
    assert claims.scopes == {"read:items"}
    async with idp.verifier([issuer]) as verifier:
        with pytest.raises(InvalidTokenError, match="type"):  # the Auth0-profile token has typ JWT
            await verifier.verify(idp.provider.token("user_access_token"))


async def test_auth0_id_token_is_not_an_access_token_for_the_api() -> None:
    idp = _idp("auth0")
    async with idp.verifier([providers.auth0(AUTH0_DOMAIN, AUTH0_API)]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("id_token"))


def test_auth0_refuses_the_userinfo_url_as_the_api_audience() -> None:
    with pytest.raises(ValueError, match="userinfo"):
        providers.auth0(AUTH0_DOMAIN, [AUTH0_API, f"https://{AUTH0_DOMAIN}/userinfo"])


# -- Okta ----------------------------------------------------------------------------------

OKTA_DOMAIN = "dev-12345678.okta.com"


async def test_okta_scp_list_becomes_scopes() -> None:
    idp = _idp("okta")
    (claims,) = await idp.verify([providers.okta(OKTA_DOMAIN, "api://default")], "access_token")
    assert claims.scopes == {"openid", "profile", "items:read"}
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"]


async def test_okta_key_rotation_is_picked_up_on_the_new_kid() -> None:
    idp = _idp("okta")
    async with idp.verifier([providers.okta(OKTA_DOMAIN, "api://default")]) as verifier:
        await verifier.verify(idp.provider.token("access_token"))
        idp.documents = idp.provider.key_sets("rotated_key_sets")
        claims = await verifier.verify(idp.provider.token("access_token_after_rotation"))
        assert "items:write" in claims.scopes
        await verifier.verify(idp.provider.token("access_token"))  # the old key still verifies
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"] * 2


async def test_okta_org_authorization_server() -> None:
    idp = _idp("okta")
    issuer = providers.okta(OKTA_DOMAIN, "0oa1b2c3d4e5f6g7h8i9", authorization_server=None)
    assert issuer.issuer == f"https://{OKTA_DOMAIN}"
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("org_id_token"))
        assert claims.subject == "00u1a2b3c4d5e6f7g8h9"
        with pytest.raises(UntrustedIssuerError):  # a token of the default server
            await verifier.verify(idp.provider.token("access_token"))
    assert idp.urls == [f"https://{OKTA_DOMAIN}/oauth2/v1/keys"]


def test_okta_custom_authorization_server() -> None:
    issuer = providers.okta(OKTA_DOMAIN, "api://items", authorization_server="aus1a2b3c4d5e6f7g8h9")
    assert issuer.issuer == f"https://{OKTA_DOMAIN}/oauth2/aus1a2b3c4d5e6f7g8h9"
    assert issuer.jwks_uri == f"https://{OKTA_DOMAIN}/oauth2/aus1a2b3c4d5e6f7g8h9/v1/keys"
    with pytest.raises(ValueError, match="authorization_server"):
        providers.okta(OKTA_DOMAIN, "api://items", authorization_server="default/../x")


# -- Amazon Cognito --------------------------------------------------------------------------

POOL = ("us-east-1", "us-east-1_AbCdEfGhI")
APP_CLIENT = "1example23456789abcdefghij"
MACHINE_CLIENT = "7machine890client12345abcd"


async def test_cognito_access_token_without_aud_is_bound_by_client_id_and_token_use() -> None:
    idp = _idp("cognito")
    issuer = providers.cognito(*POOL, [APP_CLIENT, MACHINE_CLIENT])
    user, machine = await idp.verify([issuer], "access_token", "machine_access_token")
    assert "aud" not in user
    assert user.roles == {"admin", "editors"}
    assert user.scopes == {"aws.cognito.signin.user.admin", "openid", "items/read"}
    assert machine.scopes == {"items/read", "items/write"}
    assert idp.urls == [f"https://cognito-idp.us-east-1.amazonaws.com/{POOL[1]}/.well-known/jwks.json"]


async def test_cognito_access_token_of_another_app_client_is_refused() -> None:
    idp = _idp("cognito")
    async with idp.verifier([providers.cognito(*POOL, "another-app-client")]) as verifier:
        with pytest.raises(InvalidClaimError, match="client_id"):
            await verifier.verify(idp.provider.token("access_token"))


async def test_cognito_id_token_is_refused_where_access_tokens_are_expected() -> None:
    idp = _idp("cognito")
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT)]) as verifier:
        with pytest.raises(InvalidClaimError):
            await verifier.verify(idp.provider.token("id_token"))


async def test_cognito_token_use_must_match_even_with_the_right_client() -> None:
    idp = _idp("cognito")
    forged = dict(idp.provider.claims("id_token"), client_id=APP_CLIENT)
    idp.provider.data["tokens"]["id_token"]["claims"] = forged
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT)]) as verifier:
        with pytest.raises(InvalidClaimError, match="token_use"):
            await verifier.verify(idp.provider.token("id_token"))


async def test_cognito_id_tokens_are_checked_by_aud() -> None:
    idp = _idp("cognito")
    (claims,) = await idp.verify([providers.cognito(*POOL, APP_CLIENT, token_use="id")], "id_token")
    assert claims["cognito:username"] == "janedoe"
    assert claims.roles == {"admin", "editors"}
    async with idp.verifier([providers.cognito(*POOL, APP_CLIENT, token_use="id")]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("access_token"))


@pytest.mark.parametrize(
    ("region", "pool", "clients", "token_use"),
    [
        ("us-east", "us-east_AbC", "client", "access"),
        ("us-east-1", "eu-west-1_AbCdEfGhI", "client", "access"),
        ("us-east-1", "AbCdEfGhI", "client", "access"),
        ("us-east-1", "us-east-1_AbCdEfGhI", [], "access"),
        ("us-east-1", "us-east-1_AbCdEfGhI", "client", "refresh"),
    ],
)
def test_cognito_refuses_bad_pool_settings(region: str, pool: str, clients: Any, token_use: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.cognito(region, pool, clients, token_use=token_use)


# -- Clerk ---------------------------------------------------------------------------------

CLERK_FRONTEND_API = "https://clerk.example.com"
APP_ORIGIN = "https://app.example.com"


async def test_clerk_session_token_is_bound_by_azp_not_aud() -> None:
    idp = _idp("clerk")
    issuer = providers.clerk(CLERK_FRONTEND_API, authorized_parties=[APP_ORIGIN, "http://localhost:3000"])
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("session_token"))
        assert claims.roles == {"admin"}
        assert (await verifier.verify(idp.provider.token("session_token_v1"))).roles == {"org:admin"}
        with pytest.raises(InvalidClaimError, match="azp"):
            await verifier.verify(idp.provider.token("session_token_other_origin"))
    assert idp.urls == [f"{CLERK_FRONTEND_API}/.well-known/jwks.json"]


async def test_clerk_azp_check_can_be_turned_off_explicitly() -> None:
    idp = _idp("clerk")
    issuer = providers.clerk("clerk.example.com", authorized_parties=None)
    (claims,) = await idp.verify([issuer], "session_token_other_origin")
    assert claims["azp"] == "https://evil.example.net"


async def test_clerk_pem_public_key_from_the_environment_needs_no_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    idp = _idp("clerk")
    pem = (
        idp.provider.private_key("instance")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # The dashboard's "JWT public key" is the PEM body on one line, without header and footer.
    body = "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))
    monkeypatch.setenv("CLERK_JWT_KEY", body)
    issuer = providers.clerk(
        publishable_key=idp.provider.data["publishable_key"],
        public_key=os.environ["CLERK_JWT_KEY"],
        authorized_parties=[APP_ORIGIN],
    )
    assert issuer.issuer == CLERK_FRONTEND_API
    assert not issuer.fetches_keys
    (claims,) = await idp.verify([issuer], "session_token")
    assert claims.subject == "user_2aBcDeFgHiJkLmNoPqRsTuVwXyZ"
    assert idp.requests == []


def test_clerk_development_instance_from_its_publishable_key() -> None:
    key = "pk_test_" + base64.b64encode(b"verb-noun-12.clerk.accounts.dev$").decode().rstrip("=")
    issuer = providers.clerk(publishable_key=key, authorized_parties=["http://localhost:3000"])
    assert issuer.issuer == "https://verb-noun-12.clerk.accounts.dev"
    assert issuer.jwks_uri == "https://verb-noun-12.clerk.accounts.dev/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"authorized_parties": [APP_ORIGIN]}, "Frontend API URL"),
        (
            {"frontend_api": CLERK_FRONTEND_API, "publishable_key": "pk_live_x", "authorized_parties": None},
            "not both",
        ),
        (
            {"publishable_key": "sk_live_Y2xlcmsuZXhhbXBsZS5jb20k", "authorized_parties": None},
            "publishable key",
        ),
        (
            {"publishable_key": "pk_live_Y2xlcmsuZXhhbXBsZS5jb20", "authorized_parties": None},
            "publishable key",
        ),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": ["https://app.example.com/"]}, "origins"),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": ["app.example.com"]}, "origins"),
        ({"frontend_api": CLERK_FRONTEND_API, "authorized_parties": []}, "authorized_parties"),
        ({"frontend_api": "http://clerk.example.com", "authorized_parties": None}, "https"),
        ({"frontend_api": "https://clerk.example.com/v1", "authorized_parties": None}, "URL"),
    ],
)
def test_clerk_refuses_bad_settings(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        providers.clerk(**arguments)


# -- OneLogin ------------------------------------------------------------------------------


async def test_onelogin_key_set_request_carries_the_api_bearer_token() -> None:
    idp = _idp("onelogin")
    api_token = idp.provider.data["api_access_token"]
    issuer = providers.onelogin("acme", api_token, "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d123456")
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.roles == {"Engineering", "Admins"}
    assert claims.scopes == {"openid", "profile", "groups"}
    (request,) = idp.requests
    assert str(request.url) == "https://acme.onelogin.com/oidc/2/certs"
    assert request.headers["Authorization"] == f"Bearer {api_token}"
    assert api_token not in repr(issuer)


@pytest.mark.parametrize(
    ("subdomain", "token"),
    [("acme.onelogin.com", "t0ken"), ("", "t0ken"), ("acme", "t0ken\r\nX: y"), ("acme", "")],
)
def test_onelogin_refuses_bad_settings(subdomain: str, token: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.onelogin(subdomain, token, "client")


# -- SuperTokens ---------------------------------------------------------------------------


async def test_supertokens_keys_at_the_api_base_path_and_roles_from_the_user_roles_claim() -> None:
    idp = _idp("supertokens")
    app = idp.provider.data["app_info"]
    issuer = providers.supertokens(app["apiDomain"], app["apiBasePath"])
    assert issuer.issuer == "https://api.example.com/auth"
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.roles == {"admin"}
    assert claims.scopes == {"read:items", "write:items"}
    assert idp.urls == ["https://api.example.com/auth/jwt/jwks.json"]


def test_supertokens_normalises_domain_and_base_path_as_the_sdk_does() -> None:
    assert providers.supertokens("https://API.example.com/", "auth/").issuer == "https://api.example.com/auth"
    root = providers.supertokens("http://localhost:3001", "/")
    assert (root.issuer, root.jwks_uri) == ("http://localhost:3001", "http://localhost:3001/jwt/jwks.json")
    with_audience = providers.supertokens("https://api.example.com", audience="items")
    assert with_audience.verify_audience


@pytest.mark.parametrize(
    ("domain", "path"),
    [
        ("api.example.com", "/auth"),
        ("http://api.example.com", "/auth"),
        ("https://api.example.com/v1", "/auth"),
        ("https://api.example.com?x=1", "/auth"),
        ("https://api.example.com", "/auth?x"),
    ],
)
def test_supertokens_refuses_bad_app_info(domain: str, path: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        providers.supertokens(domain, path)


# -- Microsoft Entra ID --------------------------------------------------------------------


def _entra() -> tuple[IdentityProvider, dict[str, str], dict[str, str]]:
    idp = _idp("entra_id")
    return idp, idp.provider.data["tenants"], idp.provider.data["api"]


async def test_entra_v2_scp_string_and_roles_list_from_keys_without_alg() -> None:
    idp, tenants, api = _entra()
    assert all("alg" not in key for doc in idp.documents.values() for key in doc["keys"])
    issuer = providers.entra_id(tenants["contoso"], api["application_id"])
    delegated, app_only = await idp.verify([issuer], "v2_delegated", "v2_app_only")
    assert delegated.scopes == {"Items.Read", "Items.Write"}
    assert app_only.scopes == frozenset()
    assert app_only.roles == {"Items.Read.All"}
    assert idp.urls == [f"https://login.microsoftonline.com/{tenants['contoso']}/discovery/v2.0/keys"]


async def test_entra_v1_issuer_and_application_id_uri_audience() -> None:
    idp, tenants, api = _entra()
    issuer = providers.entra_id(tenants["contoso"], api["application_id_uri"], version=1)
    assert issuer.issuer == f"https://sts.windows.net/{tenants['contoso']}/"
    (claims,) = await idp.verify([issuer], "v1_delegated")
    assert claims.scopes == {"Items.Read"}
    assert idp.urls == [f"https://login.microsoftonline.com/{tenants['contoso']}/discovery/keys"]


async def test_entra_single_tenant_trusts_only_its_own_version_and_tenant() -> None:
    idp, tenants, api = _entra()
    issuer = providers.entra_id(
        tenants["contoso"].upper(), [api["application_id"], api["application_id_uri"]]
    )
    async with idp.verifier([issuer]) as verifier:
        for token in ("v1_delegated", "v2_fabrikam"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))


async def test_entra_multi_tenant_accepts_allowed_tenants_in_both_versions() -> None:
    idp, tenants, api = _entra()
    resolver = providers.entra_id_multi_tenant(
        [tenants["contoso"], tenants["fabrikam"]], [api["application_id"], api["application_id_uri"]]
    )
    found = await idp.verify(resolver, "v2_delegated", "v1_delegated", "v2_fabrikam", "v1_fabrikam")
    assert [claims["tid"] for claims in found] == [tenants["contoso"]] * 2 + [tenants["fabrikam"]] * 2
    assert set(idp.urls) == {providers.ENTRA_COMMON_JWKS_URI}


async def test_entra_multi_tenant_refuses_other_tenants_without_fetching() -> None:
    idp, tenants, api = _entra()
    resolver = providers.entra_id_multi_tenant([tenants["contoso"]], api["application_id"])
    async with idp.verifier(resolver) as verifier:
        for token in ("v2_woodgrove", "v1_woodgrove", "v2_fabrikam"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))
    assert idp.requests == []


async def test_entra_multi_tenant_tid_must_be_the_tenant_of_the_issuer() -> None:
    idp, tenants, api = _entra()
    resolver = providers.entra_id_multi_tenant(
        [tenants["contoso"], tenants["fabrikam"]], api["application_id"]
    )
    async with idp.verifier(resolver) as verifier:
        with pytest.raises(InvalidClaimError, match="tid"):
            await verifier.verify(idp.provider.token("v2_contoso_iss_fabrikam_tid"))


async def test_entra_multi_tenant_with_a_tenant_lookup_and_one_version() -> None:
    idp, tenants, api = _entra()
    asked: list[str] = []

    def onboarded(tenant_id: str) -> bool:
        asked.append(tenant_id)
        return tenant_id == tenants["fabrikam"]

    resolver = providers.entra_id_multi_tenant(onboarded, api["application_id"], versions=[2])
    assert "callable" in repr(resolver)
    assert resolver("https://login.microsoftonline.com/common/v2.0") is None
    async with idp.verifier(resolver) as verifier:
        await verifier.verify(idp.provider.token("v2_fabrikam"))
        for token in ("v1_fabrikam", "v2_woodgrove"):
            with pytest.raises(UntrustedIssuerError):
                await verifier.verify(idp.provider.token(token))
    assert asked == [tenants["fabrikam"], tenants["woodgrove"]]


def test_entra_multi_tenant_issuers_are_exact() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    resolver = providers.entra_id_multi_tenant([tid], "api://items")
    assert tid in repr(resolver)
    v2 = resolver(f"https://login.microsoftonline.com/{tid}/v2.0")
    assert v2 is not None
    assert v2.jwks_uri == providers.ENTRA_COMMON_JWKS_URI
    assert v2.claim_values["tid"] == {tid}
    for iss in (
        f"https://login.microsoftonline.com/{tid}/v2.0/",
        f"https://login.microsoftonline.com/{tid.upper()}/v2.0",
        f"https://sts.windows.net/{tid}",
        f"http://sts.windows.net/{tid}/",
        f"https://login.microsoftonline.com/{tid}",
    ):
        assert resolver(iss) is None


@pytest.mark.parametrize(
    "tenant",
    ["common", "organizations", "consumers", "contoso.onmicrosoft.com", "3f5b6d1e8c2a4e7f9b102d4c6e8a0f12"],
)
def test_entra_refuses_tenant_names_that_are_not_tenant_ids(tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        providers.entra_id(tenant, "api://items")
    with pytest.raises(ValueError, match="tenant"):
        providers.entra_id_multi_tenant([tenant], "api://items")


def test_entra_refuses_bad_versions() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    with pytest.raises(ValueError, match="version"):
        providers.entra_id(tid, "api://items", version=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="versions"):
        providers.entra_id_multi_tenant([tid], "api://items", versions=[])
    with pytest.raises(TypeError):
        providers.entra_id_multi_tenant([42], "api://items")  # type: ignore[list-item]
    with pytest.raises(ValueError, match="audience"):  # checked at once, even with a lookup
        providers.entra_id_multi_tenant(lambda tid: True, [])


# -- Keycloak ------------------------------------------------------------------------------


async def test_keycloak_realm_and_client_roles_appear_in_claims_roles() -> None:
    idp = _idp("keycloak")
    issuer = providers.keycloak("https://sso.example.com", "acme", "items-api", client_id="items-api")
    async with idp.verifier([issuer]) as verifier:
        claims = await verifier.verify(idp.provider.token("access_token"))
        (state,) = verifier.key_store.states()
    assert claims.roles == {
        "default-roles-acme",
        "offline_access",
        "uma_authorization",
        "auditor",
        "items-admin",
    }
    assert "manage-account" not in claims.roles  # another client's roles
    assert claims.scopes == {"openid", "email", "profile"}
    # Keycloak publishes its encryption key in the same set: skipped, never used to verify.
    assert [skipped.kid for skipped in state.skipped] == [idp.provider.jwk("rsa-enc-generated")["kid"]]
    assert idp.urls == ["https://sso.example.com/realms/acme/protocol/openid-connect/certs"]


async def test_keycloak_default_account_audience_is_not_the_api() -> None:
    idp = _idp("keycloak")
    async with idp.verifier([providers.keycloak("https://sso.example.com", "acme", "items-api")]) as verifier:
        with pytest.raises(InvalidAudienceError):
            await verifier.verify(idp.provider.token("access_token_default_audience"))


async def test_keycloak_id_token_is_refused_by_its_typ_claim() -> None:
    idp = _idp("keycloak")
    async with idp.verifier([providers.keycloak("https://sso.example.com", "acme", "items-api")]) as verifier:
        with pytest.raises(InvalidClaimError, match="typ"):
            await verifier.verify(idp.provider.token("id_token"))
    lenient = providers.keycloak("https://sso.example.com", "acme", "items-api", token_type=None)
    (claims,) = await _idp("keycloak").verify([lenient], "id_token")
    assert claims.roles == frozenset()


def test_keycloak_server_url_forms() -> None:
    legacy = providers.keycloak("https://sso.example.com/auth/", "acme", "items-api")
    assert legacy.issuer == "https://sso.example.com/auth/realms/acme"
    assert legacy.jwks_uri == "https://sso.example.com/auth/realms/acme/protocol/openid-connect/certs"
    local = providers.keycloak("http://localhost:8080", "dev", "items-api")
    assert local.issuer == "http://localhost:8080/realms/dev"
    for url, realm in [
        ("http://sso.example.com", "acme"),
        ("sso.example.com", "acme"),
        ("https://sso", "a/b"),
    ]:
        with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
            providers.keycloak(url, realm, "items-api")
    with pytest.raises(ValueError, match="client_id"):
        providers.keycloak("https://sso.example.com", "acme", "items-api", client_id="")


# -- Google --------------------------------------------------------------------------------

GOOGLE_CLIENT = "1234987819200.apps.googleusercontent.com"


async def test_google_both_issuer_spellings_are_accepted() -> None:
    idp = _idp("google")
    issuers = providers.google(GOOGLE_CLIENT)
    assert [issuer.issuer for issuer in issuers] == ["https://accounts.google.com", "accounts.google.com"]
    long, short = await idp.verify(issuers, "id_token", "id_token_short_issuer")
    assert (long.issuer, short.issuer) == ("https://accounts.google.com", "accounts.google.com")
    assert set(idp.urls) == {providers.GOOGLE_JWKS_URI}


async def test_google_hosted_domain_requires_the_hd_claim() -> None:
    idp = _idp("google")
    async with idp.verifier(providers.google(GOOGLE_CLIENT, hosted_domain="Example.com")) as verifier:
        assert (await verifier.verify(idp.provider.token("id_token")))["hd"] == "example.com"
        with pytest.raises(InvalidClaimError, match="hd"):
            await verifier.verify(idp.provider.token("id_token_consumer_account"))


# -- combining, options and input checks -----------------------------------------------------


async def test_combine_trusts_a_resolver_and_a_list_together() -> None:
    entra, tenants, api = _entra()
    google = _idp("google")
    resolver = providers.combine(
        providers.entra_id_multi_tenant([tenants["fabrikam"]], api["application_id"]),
        providers.google(GOOGLE_CLIENT),
    )
    (from_google,) = await google.verify(resolver, "id_token_short_issuer")
    assert from_google.issuer == "accounts.google.com"
    (from_entra,) = await entra.verify(resolver, "v2_fabrikam")
    assert from_entra["tid"] == tenants["fabrikam"]
    assert resolver("https://issuer.example.test") is None


def test_combine_refuses_duplicates_and_non_issuers() -> None:
    auth0 = providers.auth0(AUTH0_DOMAIN, AUTH0_API)
    assert providers.combine(auth0)(auth0.issuer) is auth0
    with pytest.raises(ValueError, match="twice"):
        providers.combine(auth0, [auth0])
    with pytest.raises(TypeError):
        providers.combine(["https://issuer.example.test"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        providers.combine()


async def test_static_jwks_replaces_the_preset_key_source() -> None:
    idp = _idp("okta")
    jwks = idp.documents[f"https://{OKTA_DOMAIN}/oauth2/default/v1/keys"]
    issuer = providers.okta(OKTA_DOMAIN, "api://default", jwks=jwks, jwks_uri=None)
    assert issuer.jwks_uri is None
    assert not issuer.fetches_keys
    await idp.verify([issuer], "access_token")
    assert idp.requests == []


def test_issuer_options_pass_through_and_merge() -> None:
    cognito = providers.cognito(
        *POOL, APP_CLIENT, claim_values={"username": "janedoe"}, leeway=5, max_keys=10
    )
    assert cognito.claim_values == {
        "client_id": {APP_CLIENT},
        "token_use": {"access"},
        "username": {"janedoe"},
    }
    assert (cognito.leeway, cognito.max_keys) == (5.0, 10)
    onelogin = providers.onelogin("acme", "t0ken", "client", fetch_headers={"User-Agent": "items-api"})
    assert onelogin.fetch_headers == {"Authorization": "Bearer t0ken", "User-Agent": "items-api"}
    okta = providers.okta(OKTA_DOMAIN, "api://default", algorithms=["RS256", "ES256"], role_claims=["groups"])
    assert okta.algorithms == {"RS256", "ES256"}
    assert okta.role_claims == (("groups",),)
    with pytest.raises(ValueError, match="already checks tid"):
        providers.entra_id_multi_tenant(
            ["3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"], "api://items", claim_values={"tid": "another"}
        )
    with pytest.raises(TypeError, match="verify_audience"):
        providers.okta(OKTA_DOMAIN, "api://default", verify_audience=False)  # type: ignore[call-arg]


def test_presets_default_to_the_algorithms_their_providers_sign_with() -> None:
    tid = "3f5b6d1e-8c2a-4e7f-9b10-2d4c6e8a0f12"
    assert providers.entra_id(tid, "api://items").algorithms == {"RS256"}
    assert providers.auth0(AUTH0_DOMAIN, AUTH0_API).algorithms == {"RS256", "PS256"}
    assert "ES256" in providers.keycloak("https://sso.example.com", "acme", "items-api").algorithms


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "https://tenant.eu.auth0.com",
        "tenant.eu.auth0.com/",
        "tenant",
        "tenant .auth0.com",
        "tenant.auth0.com:443",
    ],
)
def test_domain_presets_refuse_anything_but_a_host_name(domain: str) -> None:
    with pytest.raises(ValueError, match="domain"):
        providers.auth0(domain, AUTH0_API)
    with pytest.raises(ValueError, match="domain"):
        providers.okta(domain, "api://default")


def test_google_hosted_domain_and_audience_are_checked() -> None:
    with pytest.raises(ValueError, match="hosted_domain"):
        providers.google(GOOGLE_CLIENT, hosted_domain="https://example.com")
    with pytest.raises(ValueError, match="audience"):
        providers.google([])


@pytest.mark.parametrize(
    "make",
    [
        lambda: providers.entra_id(42, "api://items"),  # type: ignore[arg-type]
        lambda: providers.clerk(publishable_key=42, authorized_parties=None),  # type: ignore[arg-type]
        lambda: providers.supertokens(None),  # type: ignore[arg-type]
        lambda: providers.cognito(*POOL, [APP_CLIENT, None]),  # type: ignore[list-item]
    ],
)
def test_presets_refuse_values_of_the_wrong_type(make: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        make()


def test_clerk_refuses_a_publishable_key_that_is_not_base64() -> None:
    with pytest.raises(ValueError, match="publishable key"):
        providers.clerk(publishable_key="pk_live_%%%", authorized_parties=None)


async def test_onelogin_asks_for_a_current_api_token_before_every_key_fetch() -> None:
    idp = _idp("onelogin")
    api_token: str = idp.provider.data["api_access_token"]
    calls: list[str] = []

    async def current_api_token() -> str:
        calls.append("asked")
        return api_token

    issuer = providers.onelogin("acme", current_api_token, "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d123456")
    (claims,) = await idp.verify([issuer], "access_token")
    assert claims.subject
    (request,) = idp.requests
    assert request.headers["Authorization"] == f"Bearer {api_token}"
    assert calls == ["asked"]


def test_onelogin_with_a_token_callable_cannot_merge_more_fetch_headers() -> None:
    async def current_api_token() -> str:
        return "t0ken"

    with pytest.raises(ValueError, match="fetch_headers"):
        providers.onelogin("acme", current_api_token, "client", fetch_headers={"User-Agent": "items-api"})
