"""Presets for well-known identity providers: ordinary `Issuer` objects that know their quirks.

    from jwks_middleware import providers

    issuers = [
        providers.auth0("tenant.eu.auth0.com", "https://api.example.com"),
        *providers.google("1234.apps.googleusercontent.com"),
    ]

Each preset builds the exact `iss`, the key source and the claim checks its provider
documents, in the provider's own terms; see docs/providers.md for the quirks each one handles
and how it is tested. Every preset also takes the ordinary `Issuer` options (`IssuerOptions`:
`algorithms`, `leeway`, `timeout`, `max_stale`, ...). A key source given there (`jwks=`,
`jwks_uri=`, `public_key=`, `discovery_url=`) replaces the preset's; `claim_values` adds checks
to the preset's (never replaces one); `fetch_headers` are merged into the preset's; an option
given as None keeps the preset's value.
Invalid arguments raise `ValueError` (or `TypeError`) at once, never at the first request.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict
from urllib.parse import urlsplit

import httpx

from ._issuer import ClaimPath, FetchHeaders, Issuer, check_fetch_url
from ._store import IssuerResolver

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ENTRA_COMMON_JWKS_URI",
    "GOOGLE_ISSUERS",
    "GOOGLE_JWKS_URI",
    "EntraTenants",
    "IssuerOptions",
    "auth0",
    "clerk",
    "cognito",
    "combine",
    "entra_id",
    "entra_id_multi_tenant",
    "google",
    "keycloak",
    "okta",
    "onelogin",
    "supertokens",
]

#: Keys of every Entra ID tenant (the "common" endpoint), used for multi-tenant apps.
ENTRA_COMMON_JWKS_URI: Final = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
#: Google signs ID tokens with either spelling of its issuer (OpenID Connect docs, "Validating an ID token").
GOOGLE_ISSUERS: Final = ("https://accounts.google.com", "accounts.google.com")
GOOGLE_JWKS_URI: Final = "https://www.googleapis.com/oauth2/v3/certs"


class IssuerOptions(TypedDict, total=False):
    """`Issuer` options every preset passes through (see `Issuer` for each one)."""

    jwks_uri: str | None
    discovery_url: str | None
    jwks: Mapping[str, Any] | None
    public_key: str | bytes | None
    algorithms: Iterable[str] | None
    leeway: float
    token_types: Iterable[str] | None
    access_token_profile: bool
    required_claims: Iterable[str]
    claim_values: Mapping[str, str | Iterable[str]] | None
    scope_claims: Iterable[ClaimPath]
    role_claims: Iterable[ClaimPath]
    fetch_headers: FetchHeaders | None
    max_stale: float
    refresh_cooldown: float
    max_keys: int
    max_document_bytes: int
    timeout: httpx.Timeout | float


_OPTIONS: Final = frozenset(IssuerOptions.__annotations__)
_KEY_SOURCES: Final = ("jwks_uri", "discovery_url", "jwks", "public_key")
_MERGED: Final = ("claim_values", "fetch_headers")
_LABEL: Final = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST: Final = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_GUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ENTRA_ISSUER: Final = re.compile(
    rf"https://login\.microsoftonline\.com/(?P<v2>{_GUID})/v2\.0|https://sts\.windows\.net/(?P<v1>{_GUID})/"
)
_ENTRA_NAMES: Final = frozenset({"common", "organizations", "consumers"})


# -- Auth0 ------------------------------------------------------------------------------


def auth0(domain: str, audience: str | Iterable[str], **options: Unpack[IssuerOptions]) -> Issuer:
    """Auth0: access tokens for an API, from a tenant domain (or custom domain).

    `domain` is the tenant domain without a scheme (`tenant.eu.auth0.com`); `iss` is
    `https://{domain}/` (with the trailing slash). `audience` is the API Identifier. Auth0
    adds `https://{domain}/userinfo` to `aud` when `openid` was requested; that URL is never
    accepted as this API's audience. Scopes are the `scope` string plus the `permissions`
    list (RBAC "Add Permissions in the Access Token"). Keys: `/.well-known/jwks.json`, RSA
    with `x5c`/`x5t`; Auth0 signs with RS256 (or PS256).
    """
    host = _domain(domain, "domain", "tenant.eu.auth0.com")
    userinfo = f"https://{host}/userinfo"
    audiences = _names(audience, "audience")
    if userinfo in audiences:
        raise ValueError(f"{userinfo} is Auth0's userinfo audience, not your API's: give the API Identifier")
    return _issuer(
        f"https://{host}/",
        {
            "audience": audiences,
            "jwks_uri": f"https://{host}/.well-known/jwks.json",
            "algorithms": ("RS256", "PS256"),
            "scope_claims": ("scope", "permissions"),
        },
        options,
    )


# -- Okta -------------------------------------------------------------------------------


def okta(
    domain: str,
    audience: str | Iterable[str],
    *,
    authorization_server: str | None = "default",
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Okta: tokens of a custom authorization server (`default` unless told) or the org server.

    `iss` is `https://{domain}/oauth2/{authorization_server}`, or `https://{domain}` with
    `authorization_server=None` (the org authorization server, whose access tokens are meant
    for Okta's own APIs: verify its ID tokens only, with the client ID as `audience`). The
    `default` server's audience is `api://default` unless changed. Scopes come from the `scp`
    list. Okta rotates its RS256 signing keys regularly: an unknown `kid` refreshes the keys.
    """
    host = _domain(domain, "domain", "dev-123456.okta.com")
    if authorization_server is None:
        iss, jwks_uri = f"https://{host}", f"https://{host}/oauth2/v1/keys"
    else:
        if not isinstance(authorization_server, str) or not re.fullmatch(
            r"[A-Za-z0-9_-]+", authorization_server
        ):
            raise ValueError("authorization_server must be an authorization server ID such as 'default'")
        iss = f"https://{host}/oauth2/{authorization_server}"
        jwks_uri = f"{iss}/v1/keys"
    return _issuer(
        iss,
        {
            "audience": audience,
            "jwks_uri": jwks_uri,
            "algorithms": ("RS256",),
            "scope_claims": ("scp", "scope"),
        },
        options,
    )


# -- AWS Cognito ------------------------------------------------------------------------


def cognito(
    region: str,
    user_pool_id: str,
    client_ids: str | Iterable[str],
    *,
    token_use: Literal["access", "id"] = "access",  # noqa: S107 - a claim value, not a password
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Amazon Cognito user pool tokens, bound to your app client IDs.

    `iss` is `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}`. Access tokens carry
    no `aud`: they are bound by `client_id` (one of `client_ids`) and `token_use` "access".
    With `token_use="id"`, ID tokens are checked by `aud` and `token_use` "id". Groups
    (`cognito:groups`) become roles; the `scope` string becomes scopes.
    """
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(?:-[a-z]+)+-\d+", region):
        raise ValueError(f"region must be an AWS region such as 'us-east-1', not {region!r}")
    if not isinstance(user_pool_id, str) or not re.fullmatch(
        rf"{re.escape(region)}_[A-Za-z0-9]+", user_pool_id
    ):
        raise ValueError(f"user_pool_id must look like '{region}_AbC123xyZ' (the pool's region, '_', its ID)")
    clients = _names(client_ids, "client_ids")
    iss = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
    preset: dict[str, Any] = {
        "jwks_uri": f"{iss}/.well-known/jwks.json",
        "algorithms": ("RS256",),
        "role_claims": ("cognito:groups",),
    }
    if token_use not in ("access", "id"):
        raise ValueError(f"token_use must be 'access' or 'id', not {token_use!r}")
    if token_use == "id":  # noqa: S105 - a claim value, not a password
        preset.update(audience=clients, claim_values={"token_use": "id"})
    else:
        preset.update(verify_audience=False, claim_values={"client_id": clients, "token_use": "access"})
    return _issuer(iss, preset, options)


# -- Clerk ------------------------------------------------------------------------------


def clerk(
    frontend_api: str | None = None,
    *,
    authorized_parties: Iterable[str] | None,
    publishable_key: str | None = None,
    audience: str | Iterable[str] | None = None,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Clerk session tokens, bound to your app's origins by `azp` instead of `aud`.

    The instance is named by its Frontend API URL (`frontend_api`, `https://clerk.example.com`
    or just the host) or by its publishable key (`pk_live_...`, which encodes it); `iss` is
    that URL. Keys come from `{frontend_api}/.well-known/jwks.json`, or, networkless, from
    `public_key`: the JWT public key of the dashboard (`CLERK_JWT_KEY`, PEM with or without
    its header and footer). `authorized_parties` lists the origins (`https://app.example.com`)
    allowed in `azp`; a token without `azp` is then refused (stricter than Clerk's SDK). Pass
    `authorized_parties=None` to skip the check. Session tokens carry no `aud`; give `audience`
    only for JWT templates that set one. Roles: the organization role (`o.rol`, `org_role`).
    """
    if publishable_key is not None:
        if frontend_api is not None:
            raise ValueError("give the Frontend API URL or the publishable key, not both")
        frontend_api = _clerk_frontend_api(publishable_key)
    elif frontend_api is None:
        raise ValueError("give the Frontend API URL (frontend_api=...) or the publishable key")
    if isinstance(frontend_api, str) and frontend_api.startswith(("https://", "http://")):
        iss = _base_url(frontend_api, "frontend_api", "https://clerk.example.com", allow_path=False)
    else:
        iss = f"https://{_domain(frontend_api, 'frontend_api', 'clerk.example.com')}"
    preset: dict[str, Any] = {
        "audience": audience,
        "verify_audience": audience is not None,
        "algorithms": ("RS256",),
        "role_claims": (("o", "rol"), "org_role"),
        "jwks_uri": f"{iss}/.well-known/jwks.json",  # replaced by public_key=..., if given
    }
    if authorized_parties is not None:
        preset["claim_values"] = {
            "azp": [_origin(party) for party in _names(authorized_parties, "authorized_parties")]
        }
    return _issuer(iss, preset, options)


def _clerk_frontend_api(publishable_key: str) -> str:
    # A publishable key is `pk_test_` or `pk_live_` and base64 of "{frontend API host}$".
    if not isinstance(publishable_key, str):
        raise TypeError("publishable_key must be a string")
    prefix, _, encoded = publishable_key.partition("_test_")
    if not encoded:
        prefix, _, encoded = publishable_key.partition("_live_")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if prefix != "pk" or not decoded.endswith("$"):
        raise ValueError("publishable_key is not a Clerk publishable key (pk_test_... or pk_live_...)")
    return decoded[:-1]


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"authorized parties are origins such as 'https://app.example.com', not {value!r}")
    return value


# -- OneLogin ---------------------------------------------------------------------------


def onelogin(
    subdomain: str,
    access_token: str | Callable[[], Awaitable[str]],
    audience: str | Iterable[str],
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """OneLogin OpenID Connect tokens of `https://{subdomain}.onelogin.com/oidc/2`.

    The key set (`/oidc/2/certs`) is requested with `Authorization: Bearer {access_token}`,
    an API access token made with OneLogin's Generate Token API. Such tokens expire (10 h):
    give an async callable returning a current one and it is called before every key fetch.
    `audience` is the
    application's client ID (or the API authorization's audience). Scopes: `scope`; roles:
    `groups` (when the app sends them) and `roles`.
    """
    if not isinstance(subdomain, str) or not re.fullmatch(_LABEL, subdomain.lower()):
        raise ValueError(
            f"subdomain must be the OneLogin subdomain ('acme' of acme.onelogin.com), not {subdomain!r}"
        )
    iss = f"https://{subdomain.lower()}.onelogin.com/oidc/2"
    headers: FetchHeaders
    if callable(access_token):
        token_source = access_token

        async def headers() -> Mapping[str, str]:
            return {"Authorization": f"Bearer {_api_token(await token_source())}"}

    else:
        headers = {"Authorization": f"Bearer {_api_token(access_token)}"}
    return _issuer(
        iss,
        {
            "audience": audience,
            "jwks_uri": f"{iss}/certs",
            "fetch_headers": headers,
            "role_claims": ("groups", "roles"),
        },
        options,
    )


# -- SuperTokens ------------------------------------------------------------------------


def supertokens(
    api_domain: str,
    api_base_path: str = "/auth",
    audience: str | Iterable[str] | None = None,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """SuperTokens session access tokens of the backend at `{apiDomain}{apiBasePath}`.

    `api_domain` and `api_base_path` are the `appInfo` values of your SuperTokens backend SDK
    (`https://api.example.com`, `/auth`); `iss` is their concatenation and the keys are at
    `{apiDomain}{apiBasePath}/jwt/jwks.json`. Session tokens carry no `aud`, so none is checked
    unless `audience` is given. Roles come from the UserRoles claim (`st-role.v`); its
    permissions (`st-perm.v`) count as scopes.
    """
    domain = _base_url(api_domain, "api_domain", "https://api.example.com", allow_path=False)
    if not isinstance(api_base_path, str) or not re.fullmatch(r"[A-Za-z0-9._~/-]*", api_base_path):
        raise ValueError(f"api_base_path must be a URL path such as '/auth', not {api_base_path!r}")
    path = api_base_path.strip("/")
    iss = f"{domain}/{path}" if path else domain
    return _issuer(
        iss,
        {
            "audience": audience,
            "verify_audience": audience is not None,
            "jwks_uri": f"{iss}/jwt/jwks.json",
            "algorithms": ("RS256",),
            "scope_claims": (("st-perm", "v"), "scope"),
            "role_claims": (("st-role", "v"),),
        },
        options,
    )


# -- Microsoft Entra ID -----------------------------------------------------------------


def entra_id(
    tenant_id: str,
    audience: str | Iterable[str],
    *,
    version: Literal[1, 2] = 2,
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Microsoft Entra ID (Azure AD) access tokens of one tenant.

    `tenant_id` is the Directory (tenant) ID, a GUID. `version` is the access token version
    your API's app registration asks for (`requestedAccessTokenVersion` in the manifest):
    2 gives `iss` `https://login.microsoftonline.com/{tid}/v2.0` and `aud` the Application
    (client) ID; 1 gives `https://sts.windows.net/{tid}/` and usually the Application ID URI
    (`api://...`). Give both in `audience` if unsure; use two presets to accept both versions.
    Delegated scopes come in the `scp` string, application permissions in the `roles` list.
    Entra publishes RSA keys without `alg`; RS256 is assumed.
    """
    tid = _entra_tenant(tenant_id)
    return _issuer(_entra_iss(tid, version), _entra_preset(tid, audience, version), options)


def entra_id_multi_tenant(
    tenants: Iterable[str] | Callable[[str], bool],
    audience: str | Iterable[str],
    *,
    versions: Iterable[Literal[1, 2]] = (1, 2),
    **options: Unpack[IssuerOptions],
) -> EntraTenants:
    """A resolver for a multi-tenant Entra ID app: only the tenants you allow are trusted.

    Multi-tenant apps receive tokens whose `iss` names the user's tenant. `tenants` is the
    allowlist of tenant IDs (or a callable deciding for a tenant ID, e.g. a database lookup).
    A token is trusted only when its `iss` is exactly the v2 or v1 issuer of an allowed
    tenant, its `tid` equals that tenant, and it is signed by a key of the common key set
    (`ENTRA_COMMON_JWKS_URI`). Pass the result as `issuers=` (or through `combine`).
    """
    return EntraTenants(tenants, audience, versions=versions, options=options)


class EntraTenants:
    """`IssuerResolver` for multi-tenant Entra ID: `iss` -> `Issuer` of an allowed tenant, else None."""

    def __init__(
        self,
        tenants: Iterable[str] | Callable[[str], bool],
        audience: str | Iterable[str],
        *,
        versions: Iterable[Literal[1, 2]] = (1, 2),
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.versions = frozenset(versions)
        if not self.versions or not self.versions <= {1, 2}:
            raise ValueError("versions must hold 1, 2 or both")
        self._audience = audience
        self._options = dict(options or {})
        self._allows: Callable[[str], bool] | None = None
        self._issuers: dict[str, Issuer] = {}
        if callable(tenants):
            self._allows = tenants
            # Build one Issuer now so a bad audience or option fails at start-up, not per request.
            _issuer(_entra_iss(_SAMPLE_TENANT, 2), _entra_preset(_SAMPLE_TENANT, audience, 2), self._options)
        else:
            allowed = [_entra_tenant(tenant) for tenant in _names(tenants, "tenants")]
            for tid in allowed:
                for version in sorted(self.versions):
                    issuer = self._build(tid, version)
                    self._issuers[issuer.issuer] = issuer

    def _build(self, tid: str, version: int) -> Issuer:
        preset = _entra_preset(tid, self._audience, version)
        preset["jwks_uri"] = ENTRA_COMMON_JWKS_URI
        return _issuer(_entra_iss(tid, version), preset, self._options)

    def __call__(self, iss: str) -> Issuer | None:
        """The `Issuer` for this unverified `iss`, or None when its tenant is not allowed."""
        if self._allows is None:
            return self._issuers.get(iss)
        match = _ENTRA_ISSUER.fullmatch(iss)
        if match is None:
            return None
        version = 2 if match["v2"] else 1
        tid = match["v2"] or match["v1"]
        if version not in self.versions or not self._allows(tid):
            return None
        return self._build(tid, version)

    def __repr__(self) -> str:
        tenants = "callable" if self._allows is not None else sorted({i.split("/")[3] for i in self._issuers})
        return f"EntraTenants(tenants={tenants!r}, versions={sorted(self.versions)!r})"


_SAMPLE_TENANT: Final = "00000000-0000-0000-0000-000000000000"


def _entra_tenant(tenant_id: object) -> str:
    if not isinstance(tenant_id, str):
        raise TypeError("a tenant ID is a string (a GUID)")
    if tenant_id.lower() in _ENTRA_NAMES:
        raise ValueError(f"{tenant_id!r} is not a tenant: for multi-tenant apps use entra_id_multi_tenant()")
    if not re.fullmatch(_GUID, tenant_id.lower()):
        raise ValueError(f"tenant_id must be the Directory (tenant) ID, a GUID; not {tenant_id!r}")
    return tenant_id.lower()


def _entra_iss(tid: str, version: int) -> str:
    if version == 2:
        return f"https://login.microsoftonline.com/{tid}/v2.0"
    if version == 1:
        return f"https://sts.windows.net/{tid}/"
    raise ValueError(f"version must be 1 or 2, not {version!r}")


def _entra_preset(tid: str, audience: str | Iterable[str], version: int) -> dict[str, Any]:
    keys = "discovery/v2.0/keys" if version == 2 else "discovery/keys"
    return {
        "audience": audience,
        "jwks_uri": f"https://login.microsoftonline.com/{tid}/{keys}",
        "algorithms": ("RS256",),
        "claim_values": {"tid": tid},
        "scope_claims": ("scp",),
        "role_claims": ("roles",),
    }


# -- Keycloak ---------------------------------------------------------------------------


def keycloak(
    server_url: str,
    realm: str,
    audience: str | Iterable[str],
    *,
    client_id: str | None = None,
    token_type: str | None = "Bearer",  # noqa: S107 - Keycloak's `typ` claim, not a password
    **options: Unpack[IssuerOptions],
) -> Issuer:
    """Keycloak access tokens of a realm: `iss` `{server_url}/realms/{realm}`.

    `server_url` is the server's base URL (`https://sso.example.com`, or with `/auth` for
    Keycloak before 17). Keycloak puts `aud` `account` in access tokens by default; add an
    Audience mapper (Included Client Audience: your API's client) and pass that client ID as
    `audience` rather than accepting `account`, which every token of the realm carries. Roles:
    realm roles (`realm_access.roles`) and, with `client_id`, that client's roles
    (`resource_access.{client_id}.roles`). `token_type` checks Keycloak's `typ` claim, so ID
    tokens ("ID") are not accepted as access tokens ("Bearer"); None turns that off.
    """
    base = _base_url(server_url, "server_url", "https://sso.example.com", allow_path=True)
    if not isinstance(realm, str) or not re.fullmatch(r"[^\s/?#%]+", realm):
        raise ValueError(f"realm must be a realm name such as 'myrealm', not {realm!r}")
    iss = f"{base}/realms/{realm}"
    roles: list[ClaimPath] = [("realm_access", "roles")]
    if client_id is not None:
        if not isinstance(client_id, str) or not client_id:
            raise ValueError("client_id must be the Keycloak client ID whose roles to use")
        roles.append(("resource_access", client_id, "roles"))
    preset: dict[str, Any] = {
        "audience": audience,
        "jwks_uri": f"{iss}/protocol/openid-connect/certs",
        "role_claims": tuple(roles),
    }
    if token_type is not None:
        preset["claim_values"] = {"typ": token_type}
    return _issuer(iss, preset, options)


# -- Google -----------------------------------------------------------------------------


def google(
    audience: str | Iterable[str], *, hosted_domain: str | None = None, **options: Unpack[IssuerOptions]
) -> list[Issuer]:
    """Google ID tokens: two `Issuer`s, one per spelling of Google's `iss`.

    Google signs with `iss` `https://accounts.google.com` or `accounts.google.com`; both are
    accepted, with keys from `GOOGLE_JWKS_URI`. `audience` is your OAuth client ID (or, for
    Cloud Run / service-to-service tokens, the receiving service's URL). `hosted_domain`
    requires the `hd` claim of a Google Workspace domain. Spread the result into `issuers=`.
    """
    preset: dict[str, Any] = {"audience": audience, "jwks_uri": GOOGLE_JWKS_URI, "algorithms": ("RS256",)}
    if hosted_domain is not None:
        preset["claim_values"] = {"hd": _domain(hosted_domain, "hosted_domain", "example.com")}
    return [_issuer(iss, preset, options) for iss in GOOGLE_ISSUERS]


# -- combining --------------------------------------------------------------------------


def combine(*sources: Issuer | Iterable[Issuer] | IssuerResolver) -> IssuerResolver:
    """One resolver from issuers, lists of issuers (`google()`) and resolvers (`EntraTenants`).

    A configured `Issuer` wins over resolvers for its `iss`; resolvers are asked in order.
    """
    fixed: dict[str, Issuer] = {}
    resolvers: list[IssuerResolver] = []
    for source in sources:
        if isinstance(source, Issuer):
            issuers: Iterable[object] = (source,)
        elif callable(source):
            resolvers.append(source)
            continue
        else:
            issuers = source
        for issuer in issuers:
            if not isinstance(issuer, Issuer):
                raise TypeError(f"combine() takes issuers and resolvers, not {type(issuer).__name__}")
            if issuer.issuer in fixed:
                raise ValueError(f"issuer {issuer.issuer!r} is configured twice")
            fixed[issuer.issuer] = issuer
    if not fixed and not resolvers:
        raise ValueError("combine() needs at least one issuer or resolver")

    def resolve(iss: str) -> Issuer | None:
        found = fixed.get(iss)
        for resolver in resolvers:
            if found is not None:
                break
            found = resolver(iss)
        return found

    return resolve


# -- helpers ----------------------------------------------------------------------------


def _issuer(iss: str, preset: Mapping[str, Any], options: Mapping[str, Any]) -> Issuer:
    """The preset's `Issuer` arguments, overridden or extended by the caller's options."""
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"unexpected Issuer options: {', '.join(unknown)}")
    given = {name: value for name, value in options.items() if value is not None}
    arguments = dict(preset)
    if any(name in given for name in _KEY_SOURCES):
        for name in _KEY_SOURCES:
            arguments.pop(name, None)
    for name, value in given.items():
        if name in _MERGED:
            preset_value = arguments.get(name, {})
            if callable(preset_value) or callable(value):
                raise ValueError(f"this preset makes its own {name}; it cannot be combined with yours")
            # The preset's claim checks are what binds tokens to you: add to them, never replace.
            clash = sorted(set(preset_value) & set(value)) if name == "claim_values" else []
            if clash:
                raise ValueError(f"this preset already checks {', '.join(clash)}; use its own parameters")
            value = {**preset_value, **value}
        arguments[name] = value
    return Issuer(iss, **arguments)


def _api_token(token: object) -> str:
    if not isinstance(token, str) or not re.fullmatch(r"[\x21-\x7e]+", token):
        raise ValueError("access_token must be a OneLogin API access token (printable, no spaces)")
    return token


def _domain(value: object, what: str, example: str) -> str:
    """A host name as providers print it: no scheme, no path, no port."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a host name such as {example!r}")
    if "://" in value:
        raise ValueError(f"give {what} without a scheme, e.g. {example!r}, not {value!r}")
    host = value.lower()
    if len(host) > 253 or not _HOST.fullmatch(host):
        raise ValueError(f"{what} must be a host name such as {example!r}, not {value!r}")
    return host


def _base_url(value: object, what: str, example: str, *, allow_path: bool) -> str:
    """An https URL (http only on loopback), without a trailing slash, query or fragment."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a URL such as {example!r}")
    try:
        parts = urlsplit(value)
        check_fetch_url(value)
    except ValueError:
        raise ValueError(f"{what} must be an https URL such as {example!r}, not {value!r}") from None
    path = parts.path.rstrip("/")
    if parts.query or parts.fragment or "@" in parts.netloc or (path and not allow_path):
        raise ValueError(f"{what} must be a URL such as {example!r}, not {value!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}{path}"


def _names(value: str | Iterable[str], what: str) -> list[str]:
    """A string or a list of strings, as a non-empty list of non-empty strings."""
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"{what} must be a string or a list of strings")
    if not names or not all(names):
        raise ValueError(f"{what} must be a non-empty string or a list of them")
    return names
