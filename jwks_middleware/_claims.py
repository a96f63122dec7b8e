"""`Claims`: the validated claims of a token, as a read-only mapping with typed helpers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

__all__ = ["Claims", "collect_values"]

_DEFAULT_SCOPE_CLAIMS = (("scope",), ("scp",), ("permissions",))
_DEFAULT_ROLE_CLAIMS = (("roles",),)


class Claims(Mapping[str, Any]):
    """The verified claims of a token: equal, as a mapping, to the token's payload.

    `scopes` is the union of the `scope` string, the `scp` string or list and the
    `permissions` list (or the claims an `Issuer` names in `scope_claims`); `roles`
    likewise from `role_claims` (default `roles`).
    """

    __slots__ = ("_claims", "roles", "scopes")

    def __init__(
        self,
        claims: Mapping[str, Any],
        *,
        scope_claims: Iterable[tuple[str, ...]] = _DEFAULT_SCOPE_CLAIMS,
        role_claims: Iterable[tuple[str, ...]] = _DEFAULT_ROLE_CLAIMS,
    ) -> None:
        self._claims = dict(claims)
        #: Granted scopes and permissions.
        self.scopes: frozenset[str] = collect_values(self._claims, scope_claims)
        #: Granted roles or groups.
        self.roles: frozenset[str] = collect_values(self._claims, role_claims)

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
        value: Any = claims
        for name in path:
            value = value.get(name) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return frozenset(found)
