"""Issuer configuration: unsafe or ambiguous settings fail at construction, never later."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import AUDIENCE, ISSUER, SECRET, default_jwks, make_issuer, make_verifier, rsa_key

from jwks_middleware import Issuer, TokenVerifier
from jwks_middleware._algorithms import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS
from jwks_middleware._config import DEFAULT_LEEWAY, DEFAULT_TIMEOUT, MAX_LEEWAY


def test_defaults_follow_the_design() -> None:
    issuer = Issuer(ISSUER, audience=AUDIENCE)
    assert issuer.issuer == ISSUER
    assert issuer.audiences == {AUDIENCE}
    assert issuer.verify_audience
    assert issuer.algorithms == set(ASYMMETRIC_ALGORITHMS)
    assert issuer.leeway == DEFAULT_LEEWAY
    assert issuer.token_types == {"jwt", "at+jwt", "application/at+jwt"}
    assert issuer.required_claims == set()
    assert issuer.fetches_keys
    assert issuer.timeout == DEFAULT_TIMEOUT
    assert issuer.fetch_deadline == 10.0
    assert issuer.max_refresh_interval == 3600.0
    assert not issuer.allow_http


@pytest.mark.parametrize("issuer", ["", None, b"https://issuer.example.test/"])
def test_issuer_must_be_a_non_empty_string(issuer: Any) -> None:
    with pytest.raises(ValueError, match="issuer must be a non-empty string"):
        Issuer(issuer, audience=AUDIENCE)


# -- audience --------------------------------------------------------------------------


@pytest.mark.parametrize("audience", [None, []])
def test_audience_is_required_unless_explicitly_turned_off(audience: Any) -> None:
    with pytest.raises(ValueError, match="verify_audience=False"):
        Issuer(ISSUER, audience=audience)


def test_audience_check_can_be_turned_off_explicitly() -> None:
    issuer = Issuer(ISSUER, verify_audience=False)
    assert not issuer.verify_audience
    assert "not checked" in repr(issuer)


def test_audience_may_be_a_list() -> None:
    assert Issuer(ISSUER, audience=["a", "b"]).audiences == {"a", "b"}


@pytest.mark.parametrize("audience", [[""], [1], ["ok", None]])
def test_audience_must_hold_non_empty_strings(audience: Any) -> None:
    with pytest.raises(TypeError, match="audience"):
        Issuer(ISSUER, audience=audience)


# -- key sources -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources",
    [
        pytest.param({"jwks": default_jwks(), "public_key": rsa_key().as_pem()}, id="jwks and public_key"),
        pytest.param({"jwks_uri": "https://issuer.example.test/jwks", "secret": SECRET}, id="uri and secret"),
        pytest.param({"jwks": default_jwks(), "jwks_uri": "https://issuer.example.test/jwks"}, id="jwks+uri"),
    ],
)
def test_two_key_sources_are_refused(sources: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="give one key source"):
        Issuer(ISSUER, audience=AUDIENCE, **sources)


def test_discovery_url_with_another_key_source_is_refused() -> None:
    with pytest.raises(ValueError, match="discovery_url"):
        Issuer(
            ISSUER,
            audience=AUDIENCE,
            jwks=default_jwks(),
            discovery_url="https://issuer.example.test/.well-known/openid-configuration",
        )


def test_static_key_sources_never_fetch() -> None:
    assert not make_issuer().fetches_keys
    assert not make_issuer(public_key=rsa_key().as_pem()).fetches_keys
    assert not make_issuer(secret=SECRET).fetches_keys


def test_static_jwks_without_a_usable_key_is_refused() -> None:
    with pytest.raises(ValueError, match="no usable signing key"):
        make_issuer(jwks={"keys": [{"kty": "RSA", "use": "enc"}]})


@pytest.mark.parametrize("document", [{}, {"keys": None}, []])
def test_static_document_that_is_not_a_jwks_is_refused(document: Any) -> None:
    with pytest.raises(ValueError, match="not a JWKS"):
        make_issuer(jwks=document)


def test_static_keys_allow_any_issuer_string() -> None:
    # The issuer is only compared with `iss`; nothing is fetched from it.
    assert make_issuer("urn:example:issuer").issuer == "urn:example:issuer"


def test_discovery_documents_are_tried_in_order() -> None:
    issuer = Issuer("https://issuer.example.test/tenant/", audience=AUDIENCE)
    assert issuer.metadata_urls == (
        "https://issuer.example.test/tenant/.well-known/openid-configuration",
        "https://issuer.example.test/.well-known/oauth-authorization-server/tenant",
    )
    explicit = "https://issuer.example.test/meta"
    assert Issuer(ISSUER, audience=AUDIENCE, discovery_url=explicit).metadata_urls == (explicit,)


# -- algorithms ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithms", [["none"], ["RS256", "NONE"], ["None"]])
def test_alg_none_is_never_configurable(algorithms: list[str]) -> None:
    with pytest.raises(ValueError, match="'none'"):
        make_issuer(algorithms=algorithms)


@pytest.mark.parametrize("alg", HMAC_ALGORITHMS)
def test_hmac_algorithms_need_a_secret(alg: str) -> None:
    with pytest.raises(ValueError, match="shared secret"):
        make_issuer(algorithms=["RS256", alg])
    with pytest.raises(ValueError, match="shared secret"):
        Issuer(ISSUER, audience=AUDIENCE, jwks_uri="https://issuer.example.test/jwks", algorithms=[alg])


def test_issuer_with_a_secret_verifies_only_hmac() -> None:
    assert make_issuer(secret=SECRET).algorithms == set(HMAC_ALGORITHMS)
    assert make_issuer(secret=SECRET, algorithms=["HS256"]).algorithms == {"HS256"}
    with pytest.raises(ValueError, match="only HS"):
        make_issuer(secret=SECRET, algorithms=["HS256", "RS256"])


def test_algorithm_list_is_validated() -> None:
    with pytest.raises(TypeError, match="not a string"):
        make_issuer(algorithms="RS256")
    with pytest.raises(ValueError, match="must not be empty"):
        make_issuer(algorithms=[])
    with pytest.raises(ValueError, match="unsupported JWS algorithm"):
        make_issuer(algorithms=["RS1"])
    with pytest.raises(ValueError, match="unsupported JWS algorithm"):
        make_issuer(algorithms=["rs256"])


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make_issuer(secret="too short")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        make_issuer(secret=b"\0" * 31)
    assert make_issuer(secret=b"\0" * 32).static_keys is not None


# -- time and policy -------------------------------------------------------------------


@pytest.mark.parametrize("leeway", [MAX_LEEWAY + 1, 3600, -1])
def test_leeway_outside_0_to_300_seconds_is_refused(leeway: float) -> None:
    with pytest.raises(ValueError, match="leeway"):
        make_issuer(leeway=leeway)


@pytest.mark.parametrize("leeway", [0, 0.5, MAX_LEEWAY])
def test_leeway_up_to_300_seconds_is_accepted(leeway: float) -> None:
    assert make_issuer(leeway=leeway).leeway == leeway


def test_token_types_are_compared_in_lower_case() -> None:
    assert make_issuer(token_types=["JWT", "Custom+JWT"]).token_types == {"jwt", "custom+jwt"}
    with pytest.raises(TypeError, match="token_types"):
        make_issuer(token_types="JWT")


def test_access_token_profile_sets_rfc_9068_types_and_claims() -> None:
    issuer = make_issuer(access_token_profile=True, required_claims=["tenant"])
    assert issuer.token_types == {"at+jwt", "application/at+jwt"}
    assert issuer.required_claims == {"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "tenant"}


def test_claim_values_take_a_string_or_a_list() -> None:
    issuer = make_issuer(claim_values={"token_use": "access", "azp": ["web", "cli"]})
    assert issuer.claim_values == {"token_use": {"access"}, "azp": {"web", "cli"}}
    with pytest.raises(TypeError, match="azp"):
        make_issuer(claim_values={"azp": [""]})


def test_required_claims_must_be_a_list_of_names() -> None:
    with pytest.raises(TypeError, match="required_claims"):
        make_issuer(required_claims="sub")


def test_scope_and_role_claims_are_names_or_paths() -> None:
    issuer = make_issuer(scope_claims=["scp", ("realm_access", "roles")], role_claims=[("a", "b")])
    assert issuer.scope_claims == (("scp",), ("realm_access", "roles"))
    assert issuer.role_claims == (("a", "b"),)


@pytest.mark.parametrize("path", [(), ("a", ""), ("a", 1), ""])
def test_bad_claim_path_is_refused(path: Any) -> None:
    with pytest.raises(TypeError, match="claim path"):
        make_issuer(scope_claims=[path])


@pytest.mark.parametrize(
    "options",
    [
        {"max_stale": -1},
        {"refresh_cooldown": -0.1},
        {"max_keys": 0},
        {"max_document_bytes": 1023},
        {"fetch_deadline": 0},
        {"fetch_deadline": -1},
        {"fetch_deadline": float("nan")},
        {"max_refresh_interval": 59},
        {"max_refresh_interval": float("nan")},
    ],
)
def test_negative_or_tiny_limits_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        Issuer(ISSUER, audience=AUDIENCE, **options)


def test_timeout_may_be_a_number() -> None:
    assert make_issuer(timeout=3.0).timeout == httpx.Timeout(3.0)
    assert make_issuer(timeout=httpx.Timeout(1.0, connect=0.5)).timeout == httpx.Timeout(1.0, connect=0.5)


# -- representation --------------------------------------------------------------------


def test_repr_names_the_key_source_and_never_the_secret() -> None:
    assert repr(make_issuer(secret=SECRET)) == f"Issuer({ISSUER!r}, audience=[{AUDIENCE!r}], keys='secret')"
    assert repr(make_issuer()) == f"Issuer({ISSUER!r}, audience=[{AUDIENCE!r}], keys='static keys')"
    uri = "https://issuer.example.test/jwks"
    assert repr(Issuer(ISSUER, audience=AUDIENCE, jwks_uri=uri)).endswith(f"keys={uri!r})")
    assert repr(Issuer(ISSUER, audience=AUDIENCE)).endswith("keys='discovery')")


# -- the verifier's own configuration --------------------------------------------------


def test_verifier_needs_at_least_one_issuer() -> None:
    with pytest.raises(ValueError, match="at least one issuer"):
        TokenVerifier([])


def test_verifier_refuses_an_issuer_configured_twice() -> None:
    with pytest.raises(ValueError, match="configured twice"):
        TokenVerifier([make_issuer(), make_issuer()])


def test_verifier_refuses_what_is_not_an_issuer() -> None:
    with pytest.raises(TypeError, match="Issuer objects"):
        TokenVerifier([ISSUER])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"token_cache_size": -1}, "token_cache_size"),
        ({"max_token_bytes": 255}, "max_token_bytes"),
        ({"max_resolved_issuers": 0}, "max_resolved_issuers"),
    ],
)
def test_verifier_refuses_bad_limits(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        make_verifier(**options)
