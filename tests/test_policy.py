"""Claim and header policy checks: exp, nbf, iat with leeway; iss; aud; typ; required claims."""

from __future__ import annotations

from typing import Any

import pytest
from support import (
    AUDIENCE,
    ISSUER,
    NOW,
    Clock,
    claims,
    header,
    json_bytes,
    make_issuer,
    make_verifier,
    mint,
    rsa_key,
    signed,
)

from jwks_middleware import (
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidTokenError,
    UntrustedIssuerError,
)
from jwks_middleware._errors import KeyBoundTokenError
from jwks_middleware._policy import check_claims

pytestmark = pytest.mark.anyio

LEEWAY = 60


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- exp (RFC 7519 section 4.1.4) ------------------------------------------------------


async def test_exp_is_required() -> None:
    with pytest.raises(InvalidClaimError, match="no 'exp'"):
        await make_verifier().verify(mint(without=("exp",)))


@pytest.mark.parametrize("exp", [str(NOW + 600), True, [NOW + 600], {"t": 1}])
async def test_exp_must_be_a_number(exp: Any) -> None:
    with pytest.raises(InvalidClaimError, match="not a number"):
        await make_verifier().verify(mint(exp=exp))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("number", [b"1" + b"0" * 400, b"-1" + b"0" * 400, b"1e400", b"-1e400"])
async def test_out_of_range_dates_are_refused_not_crashed_on(name: str, number: bytes) -> None:
    # Valid JSON numbers that are no finite float: checked before the signature, so any
    # client can send them; they must be an ordinary refusal.
    raw = json_bytes(claims(without=(name,)))[:-1] + f',"{name}":'.encode() + number + b"}"
    with pytest.raises(InvalidClaimError, match=f"claim '{name}' is out of range"):
        await make_verifier().verify(signed(header(), raw, rsa_key(), "RS256"))


async def test_expired_token_is_refused_after_the_leeway() -> None:
    token = mint(exp=NOW - LEEWAY - 1)
    with pytest.raises(ExpiredTokenError, match="expired 61 s ago"):
        await make_verifier().verify(token)


async def test_expired_token_is_accepted_within_the_leeway() -> None:
    assert await make_verifier().verify(mint(exp=NOW - LEEWAY + 1))


async def test_exp_plus_leeway_equal_to_now_is_expired() -> None:
    # RFC 7519 section 4.1.4: the current time MUST be before `exp`.
    with pytest.raises(ExpiredTokenError):
        await make_verifier().verify(mint(exp=NOW - LEEWAY))


async def test_zero_leeway_refuses_a_token_whose_exp_is_now() -> None:
    verifier = make_verifier(make_issuer(leeway=0))
    assert await verifier.verify(mint(exp=NOW + 1))
    with pytest.raises(ExpiredTokenError, match="expired 0 s ago"):
        await verifier.verify(mint(exp=NOW))


async def test_fractional_exp_is_honoured() -> None:
    verifier = make_verifier(make_issuer(leeway=0), clock=Clock(NOW + 0.5))
    assert await verifier.verify(mint(exp=NOW + 0.75))
    with pytest.raises(ExpiredTokenError):
        await verifier.verify(mint(exp=NOW + 0.25))


@pytest.mark.parametrize(
    ("ago", "text"),
    [(90, "90 s"), (5 * 60, "5 min"), (3 * 3600, "3 h"), (4 * 86400, "4 days")],
)
async def test_expiry_detail_says_how_long_ago(ago: int, text: str) -> None:
    verifier = make_verifier(make_issuer(leeway=0))
    with pytest.raises(ExpiredTokenError) as caught:
        await verifier.verify(mint(exp=NOW - ago, iat=NOW - ago - 60))
    assert caught.value.detail == f"token expired {text} ago"
    assert caught.value.description == "The access token expired"


# -- nbf and iat (RFC 7519 sections 4.1.5, 4.1.6) ---------------------------------------


async def test_nbf_in_the_future_beyond_the_leeway_is_refused() -> None:
    with pytest.raises(ImmatureTokenError, match="not valid for another"):
        await make_verifier().verify(mint(nbf=NOW + LEEWAY + 1))


async def test_nbf_in_the_future_within_the_leeway_is_accepted() -> None:
    assert await make_verifier().verify(mint(nbf=NOW + LEEWAY))


async def test_iat_in_the_future_beyond_the_leeway_is_refused() -> None:
    with pytest.raises(ImmatureTokenError, match=r"issued .* in the future"):
        await make_verifier().verify(mint(iat=NOW + LEEWAY + 1))


async def test_iat_in_the_future_within_the_leeway_is_accepted() -> None:
    assert await make_verifier().verify(mint(iat=NOW + LEEWAY))


async def test_iat_is_optional_by_default() -> None:
    assert await make_verifier().verify(mint(without=("iat",)))


@pytest.mark.parametrize("name", ["nbf", "iat"])
@pytest.mark.parametrize("value", ["yesterday", str(NOW), True, False, [NOW]])
async def test_nbf_and_iat_must_be_numbers(name: str, value: Any) -> None:
    not_a_date: dict[str, Any] = {name: value}
    with pytest.raises(InvalidClaimError, match=f"claim '{name}' is not a number"):
        await make_verifier().verify(mint(**not_a_date))


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
async def test_a_null_date_is_refused_not_taken_for_an_absent_one(name: str) -> None:
    null: dict[str, Any] = {name: None}
    with pytest.raises(InvalidClaimError, match=f"claim '{name}' is not a number"):
        await make_verifier().verify(mint(**null))


async def test_configured_leeway_applies_to_every_date() -> None:
    verifier = make_verifier(make_issuer(leeway=300))
    assert await verifier.verify(mint(exp=NOW - 299, nbf=NOW + 300, iat=NOW + 300))
    with pytest.raises(ExpiredTokenError):
        await verifier.verify(mint(exp=NOW - 300))


# -- iss (RFC 7519 section 4.1.1) -----------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        ISSUER.rstrip("/"),
        ISSUER + "/",
        ISSUER.upper(),
        ISSUER.replace("https", "http"),
        ISSUER + " ",
        ["https://issuer.example.test/"],
        None,
    ],
)
async def test_iss_must_match_exactly(iss: Any) -> None:
    with pytest.raises(UntrustedIssuerError):
        await make_verifier().verify(mint(iss=iss))


async def test_token_without_iss_is_refused() -> None:
    with pytest.raises(UntrustedIssuerError):
        await make_verifier().verify(mint(without=("iss",)))


def test_claims_of_another_issuer_fail_the_issuer_check() -> None:
    with pytest.raises(InvalidClaimError, match="'iss'"):
        check_claims(claims(iss="https://other.example.test/"), make_issuer(), NOW)


# -- aud (RFC 7519 section 4.1.3) -----------------------------------------------------


@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE], ["https://other.example.test", AUDIENCE]])
async def test_aud_must_contain_the_configured_audience(aud: Any) -> None:
    assert await make_verifier().verify(mint(aud=aud))


@pytest.mark.parametrize(
    ("aud", "message"),
    [
        pytest.param("https://other.example.test", "not in", id="another audience"),
        pytest.param(AUDIENCE + "/", "not in", id="not exact"),
        pytest.param([], "not in", id="empty list"),
        pytest.param(None, "no 'aud'", id="null"),
        pytest.param(7, "not a string", id="number"),
        pytest.param([AUDIENCE, 7], "not a string", id="list with a number"),
        pytest.param({"aud": AUDIENCE}, "not a string", id="object"),
    ],
)
async def test_token_for_another_audience_is_refused(aud: Any, message: str) -> None:
    with pytest.raises(InvalidAudienceError, match=message):
        await make_verifier().verify(mint(aud=aud))


async def test_token_without_aud_is_refused() -> None:
    with pytest.raises(InvalidAudienceError):
        await make_verifier().verify(mint(without=("aud",)))


async def test_any_configured_audience_is_accepted() -> None:
    verifier = make_verifier(make_issuer(audience=["https://one.example.test", AUDIENCE]))
    assert await verifier.verify(mint(aud="https://one.example.test"))
    assert await verifier.verify(mint(aud=[AUDIENCE]))


async def test_audience_check_turned_off_accepts_any_aud() -> None:
    verifier = make_verifier(make_issuer(audience=None, verify_audience=False))
    assert await verifier.verify(mint(without=("aud",)))
    assert await verifier.verify(mint(aud="https://other.example.test"))


def test_audience_refusal_is_a_401_invalid_token() -> None:
    error = InvalidAudienceError("x")
    assert (error.status_code, error.error) == (401, "invalid_token")


# -- typ (RFC 7515 section 4.1.9, RFC 9068 section 2.1) --------------------------------


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt", None])
async def test_common_token_types_are_accepted(typ: str | None) -> None:
    token = signed({"alg": "RS256", "kid": "rsa-1", **({"typ": typ} if typ else {})}, claims(), rsa_key())
    assert await make_verifier().verify(token)


@pytest.mark.parametrize("typ", ["JOSE", "id_token", "JWS", "dpop+jwt", "logout+jwt", ""])
async def test_other_token_types_are_refused(typ: str) -> None:
    with pytest.raises(InvalidTokenError, match="token type"):
        await make_verifier().verify(mint(header_members={"typ": typ}))


async def test_configured_token_types_replace_the_defaults() -> None:
    verifier = make_verifier(make_issuer(token_types=["custom+jwt"]))
    assert await verifier.verify(mint(header_members={"typ": "Custom+JWT"}))
    with pytest.raises(InvalidTokenError, match="token type"):
        await verifier.verify(mint(header_members={"typ": "JWT"}))


# -- RFC 9068 access token profile -----------------------------------------------------

PROFILE_CLAIMS: dict[str, Any] = {"client_id": "client-1", "jti": "id-1"}


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt"])
async def test_access_token_profile_accepts_a_complete_access_token(typ: str) -> None:
    verifier = make_verifier(make_issuer(access_token_profile=True))
    assert await verifier.verify(mint(header_members={"typ": typ}, **PROFILE_CLAIMS))


@pytest.mark.parametrize("typ", ["JWT", None])
async def test_access_token_profile_requires_typ_at_jwt(typ: str | None) -> None:
    verifier = make_verifier(make_issuer(access_token_profile=True))
    token_header = {"alg": "RS256", "kid": "rsa-1", **({"typ": typ} if typ else {})}
    with pytest.raises(InvalidTokenError, match=r"at\+jwt|token type"):
        await verifier.verify(signed(token_header, claims(**PROFILE_CLAIMS), rsa_key()))


@pytest.mark.parametrize("name", ["sub", "client_id", "iat", "jti"])
async def test_access_token_profile_requires_its_claims(name: str) -> None:
    verifier = make_verifier(make_issuer(access_token_profile=True))
    token = mint(header_members={"typ": "at+jwt"}, without=(name,), **PROFILE_CLAIMS)
    with pytest.raises(InvalidClaimError, match=f"no '{name}'"):
        await verifier.verify(token)


# -- required_claims and claim_values --------------------------------------------------


async def test_required_claim_must_be_present() -> None:
    verifier = make_verifier(make_issuer(required_claims=["tenant"]))
    assert await verifier.verify(mint(tenant="t-1"))
    with pytest.raises(InvalidClaimError, match="no 'tenant'"):
        await verifier.verify(mint())
    with pytest.raises(InvalidClaimError, match="no 'tenant'"):
        await verifier.verify(mint(tenant=None))


@pytest.mark.parametrize("value", ["access", ["id", "access"]])
async def test_claim_value_must_be_one_of_the_accepted(value: Any) -> None:
    verifier = make_verifier(make_issuer(claim_values={"token_use": ["access", "m2m"]}))
    assert await verifier.verify(mint(token_use=value))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("id", "expected one of", id="other value"),
        pytest.param(["id"], "expected one of", id="other list"),
        pytest.param([1, 2], "expected one of", id="list of numbers"),
        pytest.param(None, "no 'token_use'", id="null"),
        pytest.param(1, "no 'token_use'", id="number"),
        pytest.param({"v": "access"}, "no 'token_use'", id="object"),
    ],
)
async def test_claim_with_another_value_is_refused(value: Any, message: str) -> None:
    verifier = make_verifier(make_issuer(claim_values={"token_use": "access"}))
    with pytest.raises(InvalidClaimError, match=message):
        await verifier.verify(mint(token_use=value))


async def test_claim_values_checked_even_when_the_claim_is_missing() -> None:
    verifier = make_verifier(make_issuer(audience=None, verify_audience=False, claim_values={"azp": "web"}))
    assert await verifier.verify(mint(azp="web", without=("aud",)))
    with pytest.raises(InvalidClaimError, match="no 'azp'"):
        await verifier.verify(mint(without=("aud",)))


# -- key-bound tokens (RFC 9449 section 7.2, RFC 8705 section 3, RFC 7800) --------------


@pytest.mark.parametrize(
    ("cnf", "bound_to"),
    [
        pytest.param(
            {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, "a DPoP key, RFC 9449", id="dpop"
        ),
        pytest.param({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, "RFC 8705", id="mtls"),
        pytest.param({"jwk": {"kty": "OKP"}}, "'jwk', RFC 7800", id="jwk"),
        pytest.param("not an object", "(cnf)", id="malformed"),
    ],
)
async def test_a_key_bound_token_is_not_accepted_as_a_bearer_token(cnf: Any, bound_to: str) -> None:
    with pytest.raises(KeyBoundTokenError, match="bound to a key") as caught:
        await make_verifier().verify(mint(cnf=cnf))
    assert bound_to in caught.value.detail
    assert caught.value.status_code == 401
    assert caught.value.error == "invalid_token"
    assert caught.value.description == (
        "The access token is bound to a key and was sent without proof of possession"
    )
    assert caught.value.reason == "key_bound"


async def test_a_key_bound_token_is_refused_before_its_key_is_looked_up() -> None:
    # A forged signature with an unknown kid: the binding alone is enough to refuse.
    forged = signed(header(kid="unknown"), claims(cnf={"jkt": "x"}), b"k" * 32, alg="HS256")
    with pytest.raises(KeyBoundTokenError):
        await make_verifier().verify(forged)


# -- algorithm allowlist (RFC 8725 section 3.1) ----------------------------------------


async def test_algorithm_outside_the_issuer_allowlist_is_refused() -> None:
    verifier = make_verifier(make_issuer(algorithms=["ES256"]))
    with pytest.raises(DisallowedAlgorithmError, match="not allowed for this issuer"):
        await verifier.verify(mint())


@pytest.mark.parametrize("alg", ["XS256", "HS256", "RSA-OAEP", "rs256", ""])
async def test_unknown_or_symmetric_algorithm_is_refused(alg: str) -> None:
    with pytest.raises(DisallowedAlgorithmError):
        await make_verifier().verify(signed(header(alg), claims(), b"k" * 32, alg="HS256"))
