"""Microsoft Entra ID: access tokens of one tenant, or of an allowlist of tenants."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from .._issuer import Issuer
from ._common import IssuerOptions, name_list, preset_issuer

if TYPE_CHECKING:
    from typing_extensions import Unpack


#: Keys of every Entra ID tenant (the "common" endpoint), used for multi-tenant apps.
ENTRA_COMMON_JWKS_URI: Final = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
_GUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ENTRA_ISSUER: Final = re.compile(
    rf"https://login\.microsoftonline\.com/(?P<v2>{_GUID})/v2\.0|https://sts\.windows\.net/(?P<v1>{_GUID})/"
)
_ENTRA_NAMES: Final = frozenset({"common", "organizations", "consumers"})
_SAMPLE_TENANT: Final = "00000000-0000-0000-0000-000000000000"


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
    return preset_issuer(_entra_iss(tid, version), _entra_preset(tid, audience, version), options)


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
            preset_issuer(
                _entra_iss(_SAMPLE_TENANT, 2), _entra_preset(_SAMPLE_TENANT, audience, 2), self._options
            )
        else:
            allowed = [_entra_tenant(tenant) for tenant in name_list(tenants, "tenants")]
            for tid in allowed:
                for version in sorted(self.versions):
                    issuer = self._build(tid, version)
                    self._issuers[issuer.issuer] = issuer

    def _build(self, tid: str, version: int) -> Issuer:
        preset = _entra_preset(tid, self._audience, version)
        preset["jwks_uri"] = ENTRA_COMMON_JWKS_URI
        return preset_issuer(_entra_iss(tid, version), preset, self._options)

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
