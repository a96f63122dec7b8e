"""`Claims`: the verified claims as a read-only mapping with typed helpers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pytest
from support import AUDIENCE, ISSUER, NOW, claims, make_issuer, make_verifier, mint

from jwks_middleware import Claims

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_verified_claims_equal_the_token_payload() -> None:
    payload = claims(scope="read write", nested={"a": [1, 2]}, number=1.5)
    verified = await make_verifier().verify(mint(**payload))
    assert isinstance(verified, Mapping)
    assert verified == payload
    assert dict(verified) == payload
    assert len(verified) == len(payload)
    assert set(verified) == set(payload)
    assert "scope" in verified
    assert "missing" not in verified
    assert verified.get("missing") is None


def test_claims_cannot_be_changed() -> None:
    source = claims()
    verified = Claims(source)
    with pytest.raises(TypeError):
        verified["sub"] = "admin"  # type: ignore[index]
    with pytest.raises(TypeError):
        del verified["sub"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        verified.extra = 1  # type: ignore[attr-defined]
    source["sub"] = "admin"
    assert verified["sub"] == "user-1"


def test_typed_helpers() -> None:
    verified = Claims(claims())
    assert verified.subject == "user-1"
    assert verified.issuer == ISSUER
    assert verified.audience == AUDIENCE
    assert verified.expires_at == datetime(2023, 11, 14, 22, 23, 20, tzinfo=timezone.utc)
    assert verified.expires_at.timestamp() == NOW + 600


def test_expires_at_is_an_aware_utc_datetime() -> None:
    expires_at = Claims(claims(exp=NOW + 0.25)).expires_at
    assert expires_at is not None
    assert expires_at.tzinfo is timezone.utc
    assert expires_at.timestamp() == NOW + 0.25


def test_audience_list_is_a_tuple() -> None:
    assert Claims(claims(aud=["a", AUDIENCE])).audience == ("a", AUDIENCE)


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"sub": 5, "aud": 5, "exp": "tomorrow"}, id="wrong types"),
        pytest.param({"exp": True}, id="bool exp"),
        pytest.param({}, id="absent"),
    ],
)
def test_helpers_are_none_when_the_claim_is_absent_or_not_usable(members: dict[str, Any]) -> None:
    verified = Claims(members)
    assert verified.subject is None
    assert verified.audience is None
    assert verified.expires_at is None
    assert verified.issuer == ""


@pytest.mark.parametrize(
    ("members", "scopes"),
    [
        pytest.param({"scope": "read:items  write:items"}, {"read:items", "write:items"}, id="scope string"),
        pytest.param({"scp": "User.Read Mail.Send"}, {"User.Read", "Mail.Send"}, id="scp string (Entra)"),
        pytest.param({"scp": ["openid", "email"]}, {"openid", "email"}, id="scp list (Okta)"),
        pytest.param({"permissions": ["read:items"]}, {"read:items"}, id="permissions (Auth0)"),
        pytest.param(
            {"scope": "a b", "scp": ["c"], "permissions": ["d", "a"]}, {"a", "b", "c", "d"}, id="union"
        ),
        pytest.param({"scope": ["listed"], "permissions": "x y"}, {"listed", "x", "y"}, id="either shape"),
        pytest.param({"permissions": ["ok", 5, None, {"a": 1}]}, {"ok"}, id="non-strings ignored"),
        pytest.param({"scope": 42, "scp": {"a": 1}}, set(), id="unusable shapes"),
        pytest.param({}, set(), id="none"),
    ],
)
def test_scopes_are_the_union_of_scope_scp_and_permissions(members: dict[str, Any], scopes: set[str]) -> None:
    verified = Claims(members)
    assert verified.scopes == scopes
    assert isinstance(verified.scopes, frozenset)


def test_roles_come_from_the_roles_claim() -> None:
    verified = Claims({"roles": ["admin", "reader"], "scope": "read"})
    assert verified.roles == {"admin", "reader"}
    assert verified.scopes == {"read"}


async def test_issuer_scope_and_role_claims_may_be_nested_paths() -> None:
    issuer = make_issuer(
        scope_claims=["scope", ("resource_access", "api", "roles")], role_claims=[("realm_access", "roles")]
    )
    token = mint(
        scope="read",
        realm_access={"roles": ["admin"]},
        resource_access={"api": {"roles": ["write"]}, "other": {"roles": ["nope"]}},
        roles=["ignored"],
    )
    verified = await make_verifier(issuer).verify(token)
    assert verified.scopes == {"read", "write"}
    assert verified.roles == {"admin"}


def test_nested_path_through_a_non_object_finds_nothing() -> None:
    verified = Claims({"realm_access": ["roles"]}, role_claims=[("realm_access", "roles")])
    assert verified.roles == frozenset()


async def test_repr_shows_no_token_and_no_other_claims() -> None:
    token = mint(scope="read", email="someone@example.test")
    verified = await make_verifier().verify(token)
    text = repr(verified)
    assert text == f"Claims(sub='user-1', iss={ISSUER!r}, scopes=['read'])"
    assert token not in text
    assert "someone@example.test" not in text
