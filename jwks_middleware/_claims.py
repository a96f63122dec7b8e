"""`Claims`: the validated claims of a token, as a read-only mapping with typed helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, final

__all__ = ["Claims", "collect_values"]

_DEFAULT_SCOPE_CLAIMS = (("scope",), ("scp",), ("permissions",))
_DEFAULT_ROLE_CLAIMS = (("roles",),)


@final
class Claims(Mapping[str, Any]):
    """The verified claims of a token: equal, as a mapping, to the token's payload.

    `scopes` is the union of the `scope` string, the `scp` string or list and the
    `permissions` list (or the claims an `Issuer` names in `scope_claims`); `roles`
    likewise from `role_claims` (default `roles`).
    """

    # `scopes` and `roles` are computed on first use, once per token (the verifier caches
    # `Claims`): a request that never asks for them costs nothing.
    __slots__ = ("_claims", "_role_claims", "_roles", "_scope_claims", "_scopes")

    def __init__(
        self,
        claims: Mapping[str, Any],
        *,
        scope_claims: Iterable[tuple[str, ...]] = _DEFAULT_SCOPE_CLAIMS,
        role_claims: Iterable[tuple[str, ...]] = _DEFAULT_ROLE_CLAIMS,
    ) -> None:
        self._claims = dict(claims)
        self._scope_claims = tuple(scope_claims)
        self._role_claims = tuple(role_claims)
        self._scopes: frozenset[str] | None = None
        self._roles: frozenset[str] | None = None

    @classmethod
    def _adopt(
        cls,
        claims: dict[str, Any],
        scope_claims: tuple[tuple[str, ...], ...],
        role_claims: tuple[tuple[str, ...], ...],
    ) -> Claims:
        """Claims of a payload the verifier just parsed, verified and owns: no copy (internal)."""
        self = cls.__new__(cls)
        self._claims = claims
        self._scope_claims = scope_claims
        self._role_claims = role_claims
        self._scopes = self._roles = None
        return self

    @property
    def scopes(self) -> frozenset[str]:
        """Granted scopes and permissions."""
        scopes = self._scopes
        if scopes is None:
            scopes = self._scopes = collect_values(self._claims, self._scope_claims)
        return scopes

    @property
    def roles(self) -> frozenset[str]:
        """Granted roles or groups."""
        roles = self._roles
        if roles is None:
            roles = self._roles = collect_values(self._claims, self._role_claims)
        return roles

    def __getitem__(self, name: str) -> Any:
        return self._claims[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._claims)

    def __len__(self) -> int:
        return len(self._claims)

    def __contains__(self, name: object) -> bool:
        return name in self._claims

    @property
    def subject(self) -> str | None:
        """The `sub` claim: who the token is about."""
        value = self._claims.get("sub")
        return value if isinstance(value, str) else None

    @property
    def issuer(self) -> str:
        """The `iss` claim."""
        return str(self._claims.get("iss", ""))

    @property
    def audience(self) -> str | tuple[str, ...] | None:
        """The `aud` claim as the token carries it: a string or a tuple of strings."""
        value = self._claims.get("aud")
        if isinstance(value, list):
            return tuple(value)
        return value if isinstance(value, str) else None

    @property
    def expires_at(self) -> datetime | None:
        """The `exp` claim as an aware UTC datetime."""
        value = self._claims.get("exp")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return None

    def __repr__(self) -> str:
        return f"Claims(sub={self.subject!r}, iss={self.issuer!r}, scopes={sorted(self.scopes)!r})"


def collect_values(claims: Mapping[str, Any], paths: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """Union of the space-separated strings and string lists found at each claim path."""
    found: set[str] = set()
    for path in paths:
        if len(path) == 1:  # the common case: a top-level claim
            value: Any = claims.get(path[0])
        else:
            value = claims
            for name in path:
                value = value.get(name) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return frozenset(found)
