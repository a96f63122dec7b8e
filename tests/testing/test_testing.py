"""`LocalIssuer`: minting, tokens that must be refused, documents, and rotation."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any, cast

import pytest
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    SecurityWarning,
)
from joserfc.jwk import KeySet, RSAKey

from jwks_middleware._issuer import Issuer
from jwks_middleware.testing import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER_URL,
    WRONG_AUDIENCE,
    LocalIssuer,
)

NOW = 1_700_000_000
PUBLIC_MEMBERS = {"kty", "use", "alg", "kid", "n", "e", "crv", "x", "y"}
KEY_SHAPES = {
    "RS256": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES256K": ("EC", "secp256k1"),
    "EdDSA": ("OKP", "Ed25519"),
    "Ed448": ("OKP", "Ed448"),
}


def decode(issuer: LocalIssuer, token: str, jwks: dict[str, Any] | None = None) -> jwt.Token:
    """Verify a token's signature with joserfc against the issuer's published keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)  # "EdDSA" is deprecated by RFC 9864
        return jwt.decode(token, key_set(jwks or issuer.jwks()), algorithms=[issuer.algorithm])


def key_set(jwks: dict[str, Any]) -> KeySet:
    key_set: KeySet = KeySet.import_key_set(cast(Any, jwks))
    return key_set


def segments(token: str) -> tuple[bytes, bytes, bytes]:
    header, payload, signature = (
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")
    )
    return header, payload, signature


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    """An unserved issuer with a fixed clock (RSA key generation is the slow part: share it)."""
    return LocalIssuer(clock=lambda: NOW)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_issue_sets_the_standard_claims(issuer: LocalIssuer) -> None:
    claims = decode(issuer, issuer.issue()).claims
    assert claims["iss"] == DEFAULT_ISSUER_URL
    assert claims["sub"] == "user-123"
    assert claims["aud"] == DEFAULT_AUDIENCE
    assert claims["iat"] == NOW
    assert claims["exp"] == NOW + 300
    assert set(claims) == {"iss", "sub", "aud", "iat", "exp", "jti"}


def test_each_token_gets_a_fresh_jti(issuer: LocalIssuer) -> None:
    assert decode(issuer, issuer.issue()).claims["jti"] != decode(issuer, issuer.issue()).claims["jti"]


def test_issue_header_names_alg_typ_and_current_kid(issuer: LocalIssuer) -> None:
    assert decode(issuer, issuer.issue()).header == {"alg": "RS256", "typ": "JWT", "kid": issuer.kid}


def test_scopes_become_a_space_separated_scope_claim(issuer: LocalIssuer) -> None:
    assert decode(issuer, issuer.issue(scopes=["read:items", "write:items"])).claims["scope"] == (
        "read:items write:items"
    )


def test_scopes_given_as_one_string_are_refused(issuer: LocalIssuer) -> None:
    with pytest.raises(TypeError, match="list of scope names"):
        issuer.issue(scopes="read:items")


@pytest.mark.parametrize("audience", ["https://other.example.test", ["https://a.example.test", "b"]])
def test_audience_can_be_overridden(issuer: LocalIssuer, audience: str | list[str]) -> None:
    assert decode(issuer, issuer.issue(audience=audience)).claims["aud"] == audience


def test_issued_at_and_expires_in_date_the_token(issuer: LocalIssuer) -> None:
    claims = decode(issuer, issuer.issue(issued_at=NOW - 50, expires_in=10)).claims
    assert (claims["iat"], claims["exp"]) == (NOW - 50, NOW - 40)


def test_extra_claims_are_added_and_override(issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="svc", permissions=["a"], iss="https://evil.test", nbf=NOW)
    claims = decode(issuer, token).claims
    assert claims["sub"] == "svc"
    assert claims["permissions"] == ["a"]
    assert claims["iss"] == "https://evil.test"
    assert claims["nbf"] == NOW


@pytest.mark.parametrize("claim", ["exp", "iat", "aud", "iss", "jti"])
def test_a_claim_given_as_none_is_left_out(issuer: LocalIssuer, claim: str) -> None:
    removed: dict[str, Any] = {claim: None}
    assert claim not in decode(issuer, issuer.issue(**removed)).claims


def test_sub_none_is_left_out(issuer: LocalIssuer) -> None:
    assert "sub" not in decode(issuer, issuer.issue(sub=None)).claims


def test_headers_add_replace_and_remove_members(issuer: LocalIssuer) -> None:
    token = issuer.issue(headers={"typ": "at+jwt", "jku": "https://evil.test/jwks", "x-extra": 1})
    header = json.loads(segments(token)[0])
    assert header == {
        "alg": "RS256",
        "typ": "at+jwt",
        "kid": issuer.kid,
        "jku": "https://evil.test/jwks",
        "x-extra": 1,
    }
    assert "typ" not in json.loads(segments(issuer.issue(headers={"typ": None}))[0])


def test_a_header_alg_override_does_not_change_the_signing_algorithm(issuer: LocalIssuer) -> None:
    token = issuer.issue(headers={"alg": "HS256"})
    assert json.loads(segments(token)[0])["alg"] == "HS256"
    signature = token.split(".")[2]
    rs256 = issuer.sign(json.loads(segments(token)[1]), header=json.loads(segments(token)[0]))
    assert rs256.split(".")[2] == signature  # RSASSA-PKCS1-v1_5 is deterministic


def test_kid_none_signs_with_the_current_key_and_sends_no_kid(issuer: LocalIssuer) -> None:
    token = issuer.issue(kid=None)
    assert "kid" not in json.loads(segments(token)[0])
    key = key_set(issuer.jwks()).keys[0]
    assert jwt.decode(token, key, algorithms=["RS256"]).claims["sub"] == "user-123"


def test_kid_of_a_key_never_made_is_refused(issuer: LocalIssuer) -> None:
    with pytest.raises(ValueError, match="no key with kid"):
        issuer.issue(kid="nope")


def test_sign_uses_header_and_payload_bytes_verbatim(issuer: LocalIssuer) -> None:
    header = b'{"alg":"RS256","kid":"%s","kid":"other"}' % issuer.kid.encode()
    payload = b'{"sub":"a","sub":"b"}'
    token = issuer.sign(payload, header=header)
    assert segments(token)[:2] == (header, payload)
    key = key_set(issuer.jwks()).keys[0]
    assert jwt.decode(issuer.sign({"sub": "x", "exp": NOW}), key, algorithms=["RS256"]).header == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": issuer.kid,
    }


@pytest.mark.parametrize("algorithm", sorted(KEY_SHAPES))
def test_every_algorithm_signs_tokens_its_jwks_verifies(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    token = decode(issuer, issuer.issue())
    assert token.header["alg"] == algorithm
    (key,) = issuer.jwks()["keys"]
    assert (key["kty"], key.get("crv")) == KEY_SHAPES[algorithm]
    assert (key["alg"], key["use"], key["kid"]) == (algorithm, "sig", issuer.kid)


def test_unsupported_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        LocalIssuer(algorithm="HS256")


@pytest.mark.parametrize("url", ["issuer.example.test", "ftp://x.test", "https://x.test/?q=1"])
def test_an_issuer_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        LocalIssuer(url, algorithm="ES256")


def test_expired_token_expired_ten_minutes_ago(issuer: LocalIssuer) -> None:
    token = decode(issuer, issuer.expired_token())
    assert token.claims["exp"] == NOW - 600
    with pytest.raises(ExpiredTokenError):
        jwt.JWTClaimsRegistry(now=NOW, leeway=60, exp={"essential": True}).validate(token.claims)


def test_wrong_audience_token_is_for_another_api(issuer: LocalIssuer) -> None:
    token = decode(issuer, issuer.wrong_audience_token())
    assert token.claims["aud"] == WRONG_AUDIENCE
    registry = jwt.JWTClaimsRegistry(now=NOW, aud={"essential": True, "value": DEFAULT_AUDIENCE})
    with pytest.raises(InvalidClaimError):
        registry.validate(token.claims)


def test_wrong_key_token_names_the_current_kid_but_has_a_bad_signature(issuer: LocalIssuer) -> None:
    token = issuer.wrong_key_token(scopes=["admin"])
    assert json.loads(segments(token)[0])["kid"] == issuer.kid
    with pytest.raises(BadSignatureError):
        decode(issuer, token)


def test_unknown_kid_token_is_signed_by_an_unpublished_key(issuer: LocalIssuer) -> None:
    token = issuer.unknown_kid_token()
    kid = json.loads(segments(token)[0])["kid"]
    assert kid not in issuer.published_kids
    with pytest.raises(InvalidKeyIdError):
        decode(issuer, token)
    # it is a genuine signature, by a key the issuer holds but never published
    assert issuer.wrong_key_token().split(".")[2] != issuer.unknown_kid_token().split(".")[2]


def test_unsigned_token_says_alg_none_and_has_no_signature(issuer: LocalIssuer) -> None:
    token = issuer.unsigned_token()
    header, payload, signature = segments(token)
    assert json.loads(header) == {"alg": "none", "typ": "JWT"}
    assert json.loads(payload)["iss"] == issuer.url
    assert signature == b""
    with pytest.raises(JoseError):
        decode(issuer, token)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_jwks_holds_no_private_members(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    issuer.rotate()
    for key in issuer.jwks()["keys"]:
        assert set(key) <= PUBLIC_MEMBERS
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_jwks_is_a_copy(issuer: LocalIssuer) -> None:
    issuer.jwks()["keys"][0]["kid"] = "changed"
    assert issuer.jwks()["keys"][0]["kid"] == issuer.kid


def test_public_key_pem_verifies_the_tokens(issuer: LocalIssuer) -> None:
    pem = issuer.public_key_pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in pem
    key = RSAKey.import_key(pem)
    assert jwt.decode(issuer.issue(), key, algorithms=["RS256"]).claims["sub"] == "user-123"


def test_metadata_is_an_openid_discovery_document(issuer: LocalIssuer) -> None:
    metadata = issuer.metadata()
    assert metadata["issuer"] == DEFAULT_ISSUER_URL
    assert metadata["jwks_uri"] == f"{DEFAULT_ISSUER_URL}/.well-known/jwks.json"
    assert metadata["token_endpoint"] == f"{DEFAULT_ISSUER_URL}/token"
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"authorization_endpoint", "response_types_supported", "subject_types_supported"} <= set(metadata)


def test_urls_keep_the_issuer_exactly_and_build_endpoints_without_double_slashes() -> None:
    issuer = LocalIssuer("https://tenant.example.test/oauth2/default/", algorithm="ES256")
    assert issuer.url == "https://tenant.example.test/oauth2/default/"
    assert issuer.jwks_uri == "https://tenant.example.test/oauth2/default/.well-known/jwks.json"
    assert (
        issuer.discovery_url == "https://tenant.example.test/oauth2/default/.well-known/openid-configuration"
    )
    assert issuer.oauth_metadata_url == (
        "https://tenant.example.test/.well-known/oauth-authorization-server/oauth2/default"
    )
    assert decode(issuer, issuer.issue()).claims["iss"] == issuer.url


def test_urls_match_where_an_issuer_config_looks_for_metadata() -> None:
    issuer = LocalIssuer("https://tenant.example.test/realms/x", algorithm="ES256")
    assert issuer.config().metadata_urls == (issuer.discovery_url, issuer.oauth_metadata_url)


def test_config_trusts_this_issuer_with_its_audience(issuer: LocalIssuer) -> None:
    config = issuer.config()
    assert isinstance(config, Issuer)
    assert (config.issuer, config.audiences) == (issuer.url, frozenset({issuer.audience}))


def test_config_passes_options_through(issuer: LocalIssuer) -> None:
    config = issuer.config(jwks=issuer.jwks(), audience=["a", "b"], leeway=5)
    assert config.static_keys is not None
    assert [key.kid for key in config.static_keys] == [issuer.kid]
    assert (config.audiences, config.leeway) == (frozenset({"a", "b"}), 5)


def test_repr_shows_no_key_material(issuer: LocalIssuer) -> None:
    assert repr(issuer) == f"LocalIssuer({DEFAULT_ISSUER_URL!r}, algorithm='RS256', kid={issuer.kid!r})"


def test_rotation_sequence_publishes_switches_and_retires() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    old = issuer.kid

    new = issuer.publish_next_key()
    assert issuer.published_kids == (old, new)
    assert issuer.kid == old
    assert decode(issuer, issuer.issue()).header["kid"] == old

    issuer.switch_signer()
    assert issuer.kid == new
    assert decode(issuer, issuer.issue()).header["kid"] == new
    assert decode(issuer, issuer.issue(kid=old)).header["kid"] == old  # old tokens still verify

    issuer.retire_old_keys()
    assert list(issuer.published_kids) == [new]
    assert [key["kid"] for key in issuer.jwks()["keys"]] == [new]
    with pytest.raises(InvalidKeyIdError):
        decode(issuer, issuer.issue(kid=old))  # a retired key can still sign, and is refused


def test_rotate_switches_to_a_new_key_and_keeps_the_old_one_published() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    old = issuer.kid
    new = issuer.rotate()
    assert new != old
    assert issuer.kid == new
    assert issuer.published_kids == (old, new)
