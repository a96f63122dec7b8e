"""`TokenVerifier`: algorithms bound to keys, key choice, signatures, the token cache, secrecy."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

import pytest
from support import (
    AUDIENCE,
    ISSUER,
    NOW,
    OTHER_ISSUER,
    RSA_KID,
    SECRET,
    Clock,
    Key,
    b64url,
    claims,
    default_jwks,
    ec_key,
    header,
    json_bytes,
    jwks,
    make_issuer,
    make_verifier,
    mint,
    okp_key,
    public_jwk,
    rsa_key,
    segment,
    signed,
    unsigned,
)

from jwks_middleware import (
    AuthError,
    AuthEvent,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    InvalidSignatureError,
    Issuer,
    KeyBoundTokenError,
    TokenVerifier,
    UnknownKeyError,
    UntrustedIssuerError,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- every supported algorithm ---------------------------------------------------------

KEYS: dict[str, Callable[[], Key]] = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), rsa_key),
    "ES256": lambda: ec_key("P-256"),
    "ES384": lambda: ec_key("P-384"),
    "ES512": lambda: ec_key("P-521"),
    "ES256K": lambda: ec_key("secp256k1"),
    "EdDSA": lambda: okp_key("Ed25519"),
    "Ed25519": lambda: okp_key("Ed25519"),
    "Ed448": lambda: okp_key("Ed448"),
}


@pytest.mark.parametrize("alg", list(KEYS))
async def test_every_asymmetric_algorithm_verifies_with_a_key_bound_to_it(alg: str) -> None:
    key = KEYS[alg]()
    verifier = make_verifier(make_issuer(jwks=jwks(public_jwk(key, kid="k", alg=alg, use="sig"))))
    verified = await verifier.verify(signed(header(alg, "k"), claims(), key))
    assert verified.subject == "user-1"


@pytest.mark.parametrize("alg", list(KEYS))
async def test_jwks_without_alg_works_by_key_type_and_curve(alg: str) -> None:
    # Entra ID and Google publish keys without `alg`.
    key = KEYS[alg]()
    verifier = make_verifier(make_issuer(jwks=jwks(public_jwk(key, kid="k"))))
    assert await verifier.verify(signed(header(alg, "k"), claims(), key))


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
async def test_hmac_verifies_with_a_configured_secret(alg: str) -> None:
    verifier = make_verifier(make_issuer(secret=SECRET))
    assert await verifier.verify(signed(header(alg, kid=None), claims(), SECRET.encode()))


async def test_hmac_token_signed_with_another_secret_is_refused() -> None:
    verifier = make_verifier(make_issuer(secret=SECRET))
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(
            signed(header("HS256", kid=None), claims(), b"another secret of thirty-two bytes")
        )


async def test_hmac_token_with_a_kid_verifies_with_the_configured_secret() -> None:
    verifier = make_verifier(make_issuer(secret=SECRET.encode()))
    assert await verifier.verify(signed(header("HS256", kid="legacy-secret"), claims(), SECRET.encode()))


async def test_pem_issuer_accepts_tokens_with_any_kid() -> None:
    # Clerk configures a PEM key, and its tokens carry a kid the PEM does not name.
    verifier = make_verifier(make_issuer(public_key=rsa_key().as_pem(private=False)))
    assert await verifier.verify(mint(kid="ins_2abcdef"))
    assert await verifier.verify(mint(kid=None))


# -- algorithm bound to the key (RFC 8725 section 3.1) ---------------------------------


async def test_es256_token_against_a_p384_key_is_refused() -> None:
    key = ec_key("P-384")
    verifier = make_verifier(make_issuer(jwks=jwks(public_jwk(key, kid="k"))))
    with pytest.raises(DisallowedAlgorithmError, match="does not fit alg ES256"):
        await verifier.verify(signed(header("ES256", "k"), claims(), ec_key("P-256")))
    with pytest.raises(UnknownKeyError):
        await verifier.verify(signed(header("ES256", kid=None), claims(), ec_key("P-256")))


async def test_rs256_token_against_a_key_bound_to_ps256_is_refused() -> None:
    verifier = make_verifier(make_issuer(jwks=jwks(public_jwk(rsa_key(), kid=RSA_KID, alg="PS256"))))
    assert await verifier.verify(mint(alg="PS256"))
    with pytest.raises(DisallowedAlgorithmError, match="does not fit alg RS256"):
        await verifier.verify(mint(alg="RS256"))


async def test_eddsa_token_against_an_rsa_kid_is_refused() -> None:
    with pytest.raises(DisallowedAlgorithmError):
        await make_verifier().verify(signed(header("EdDSA", RSA_KID), claims(), okp_key()))


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param(rsa_key().as_pem(private=False), id="PEM"),
        pytest.param(rsa_key().as_pem(private=False).strip(), id="PEM stripped"),
        pytest.param(json_bytes(public_jwk(rsa_key())), id="JWK JSON"),
        pytest.param(str(rsa_key().as_dict()["n"]).encode(), id="modulus"),
    ],
)
@pytest.mark.parametrize("source", ["jwks", "public_key"])
async def test_hmac_signed_with_the_public_key_is_refused(secret: bytes, source: str) -> None:
    # The classic key-confusion attack: HS256 keyed with the issuer's public key.
    options: dict[str, Any] = (
        {"jwks": default_jwks()} if source == "jwks" else {"public_key": rsa_key().as_pem(private=False)}
    )
    verifier = make_verifier(make_issuer(**options))
    for kid in (RSA_KID, None):
        with pytest.raises(DisallowedAlgorithmError):
            await verifier.verify(signed(header("HS256", kid), claims(), secret))


async def test_rsa_token_is_refused_by_an_issuer_with_a_secret() -> None:
    verifier = make_verifier(make_issuer(secret=SECRET))
    with pytest.raises(DisallowedAlgorithmError):
        await verifier.verify(mint(kid=None))


# -- key choice: exactly one candidate -------------------------------------------------


async def test_kid_never_resolves_across_issuers() -> None:
    a_key, b_key = rsa_key(0), rsa_key(1)
    issuer_a = make_issuer(ISSUER, jwks=jwks(public_jwk(a_key, kid="shared")))
    issuer_b = make_issuer(
        OTHER_ISSUER, jwks=jwks(public_jwk(b_key, kid="shared"), public_jwk(b_key, kid="only-b"))
    )
    verifier = make_verifier(issuer_a, issuer_b)
    # B's own tokens verify with B's key ...
    assert await verifier.verify(signed(header(kid="shared"), claims(iss=OTHER_ISSUER), b_key))
    # ... but a token naming issuer A is only ever checked against A's keys.
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(signed(header(kid="shared"), claims(), b_key))
    with pytest.raises(UnknownKeyError):
        await verifier.verify(signed(header(kid="only-b"), claims(), b_key))
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(signed(header(kid="shared"), claims(iss=OTHER_ISSUER), a_key))


async def test_token_without_kid_is_accepted_when_exactly_one_key_fits() -> None:
    document = jwks(public_jwk(rsa_key(), kid=RSA_KID), public_jwk(ec_key(), kid="ec"))
    verifier = make_verifier(make_issuer(jwks=document))
    assert await verifier.verify(mint(kid=None))
    assert await verifier.verify(signed(header("ES256", kid=None), claims(), ec_key()))


async def test_token_without_kid_is_refused_when_several_keys_fit() -> None:
    document = jwks(public_jwk(rsa_key(0), kid="one"), public_jwk(rsa_key(1), kid="two"))
    verifier = make_verifier(make_issuer(jwks=document))
    with pytest.raises(UnknownKeyError, match="refusing to guess"):
        await verifier.verify(mint(rsa_key(0), kid=None))
    assert await verifier.verify(mint(rsa_key(0), kid="one"))


async def test_token_without_kid_is_refused_when_no_key_fits() -> None:
    with pytest.raises(UnknownKeyError, match="no key fits"):
        await make_verifier().verify(signed(header("ES256", kid=None), claims(), ec_key()))


async def test_duplicate_kid_in_a_set_is_never_guessed() -> None:
    document = jwks(public_jwk(rsa_key(0), kid="dup"), public_jwk(rsa_key(1), kid="dup"))
    verifier = make_verifier(make_issuer(jwks=document))
    for key in (rsa_key(0), rsa_key(1)):
        with pytest.raises(UnknownKeyError, match="several keys have this kid"):
            await verifier.verify(mint(key, kid="dup"))


async def test_kid_less_keys_that_all_fit_are_never_guessed() -> None:
    document = jwks(public_jwk(rsa_key(0)), public_jwk(rsa_key(1)))
    verifier = make_verifier(make_issuer(jwks=document))
    with pytest.raises(UnknownKeyError, match="refusing to guess"):
        await verifier.verify(mint(rsa_key(0), kid="any"))


async def test_unknown_kid_of_a_static_issuer_is_refused_without_a_fetch() -> None:
    with pytest.raises(UnknownKeyError, match="not in the key set"):
        await make_verifier().verify(mint(kid="rotated-away"))


async def test_token_of_an_untrusted_issuer_is_refused() -> None:
    with pytest.raises(UntrustedIssuerError):
        await make_verifier().verify(mint(iss="https://attacker.example/"))


async def test_issuer_resolver_decides_which_iss_is_trusted() -> None:
    asked: list[str] = []

    def resolve(iss: str) -> Issuer | None:
        asked.append(iss)
        return make_issuer() if iss == ISSUER else None

    verifier = TokenVerifier(resolve, clock=Clock())
    assert await verifier.verify(mint())
    assert await verifier.verify(mint(sub="user-2"))
    with pytest.raises(UntrustedIssuerError):
        await verifier.verify(mint(iss=OTHER_ISSUER))
    assert asked == [ISSUER, OTHER_ISSUER]  # a trusted issuer is resolved once


# -- signatures ------------------------------------------------------------------------


async def test_tampered_payload_is_refused() -> None:
    token_header, _, signature = mint().split(".")
    forged = segment(claims(sub="admin"))
    with pytest.raises(InvalidSignatureError):
        await make_verifier().verify(f"{token_header}.{forged}.{signature}")


async def test_token_signed_by_another_key_with_the_right_kid_is_refused() -> None:
    with pytest.raises(InvalidSignatureError):
        await make_verifier().verify(mint(rsa_key(1)))


@pytest.mark.parametrize(
    "signature",
    [b"\0", b"\0" * 256, b"\xff" * 512, b"x" * 64],
    ids=["one byte", "zeros", "too long", "short"],
)
async def test_garbage_signature_is_refused(signature: bytes) -> None:
    token = unsigned(header(), claims()) + b64url(signature)
    with pytest.raises(InvalidSignatureError):
        await make_verifier().verify(token)


@pytest.mark.parametrize("size", [63, 65, 72])
async def test_es256_signature_of_the_wrong_length_is_refused(size: int) -> None:
    verifier = make_verifier(make_issuer(jwks=jwks(public_jwk(ec_key(), kid="ec"))))
    token = signed(header("ES256", "ec"), claims(), ec_key())
    token = token.rsplit(".", 1)[0] + "." + b64url(b"\1" * size)
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(token)


async def test_hmac_signature_compared_over_the_exact_signing_input() -> None:
    verifier = make_verifier(make_issuer(secret=SECRET))
    token_header, payload = segment(header("HS256", None)), segment(claims())
    mac = hmac.new(SECRET.encode(), f"{token_header}.{payload} ".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(f"{token_header}.{payload}.{b64url(mac)}")


# -- secrecy: the token is never echoed ------------------------------------------------


async def test_token_never_appears_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    verifier = make_verifier()
    refused = [
        mint(exp=NOW - 3600),
        mint(rsa_key(1)),
        mint(kid="unknown"),
        mint(iss="https://attacker.example/"),
        mint(aud="https://other.example.test"),
        mint(header_members={"jku": "https://attacker.example/"}),
        unsigned({"alg": "none"}, claims()),
        mint() + "=",
        mint(padding="x" * 20_000),
    ]
    errors: list[AuthError] = []
    for token in refused:
        with pytest.raises(AuthError) as caught:
            await verifier.verify(token)
        errors.append(caught.value)
    accepted = mint(scope="read")
    verified = await verifier.verify(accepted)
    texts = [caplog.text, repr(verifier), repr(verified)]
    for error in errors:
        texts += [str(error), repr(error), error.detail, error.description, *map(str, error.args)]
    for token in [*refused, accepted]:
        secret_part = token.split(".")[-1] or token
        for text in texts:
            assert token not in text
            assert secret_part not in text
    assert caplog.text  # refusals were logged, without their tokens


def test_error_descriptions_are_fixed_client_safe_texts() -> None:
    allowed = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}  # RFC 6750 section 3
    for error_class in (DisallowedAlgorithmError, InvalidSignatureError, UnknownKeyError):
        error = error_class("detail naming 'kid-1'")
        assert set(error.description) <= allowed
        assert "kid-1" not in error.description


# -- events ----------------------------------------------------------------------------


async def test_refusals_are_counted_and_reported_by_reason() -> None:
    events: list[AuthEvent] = []
    verifier = make_verifier(on_event=events.append)
    with pytest.raises(ExpiredTokenError):
        await verifier.verify(mint(exp=NOW - 3600))
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(mint(rsa_key(1)))
    assert [(event.kind, event.reason) for event in events] == [
        ("token_refused", "expired"),
        ("token_refused", "signature"),
    ]
    assert verifier.events.counters[ISSUER, "token_refused:expired"] == 1
    assert verifier.events.counters[ISSUER, "token_refused:signature"] == 1


async def test_untrusted_issuers_are_counted_without_a_name_and_verifications_by_issuer() -> None:
    verifier = make_verifier()
    with pytest.raises(UntrustedIssuerError):
        await verifier.verify(mint(iss="https://attacker.example/"))
    token = mint()
    await verifier.verify(token)
    await verifier.verify(token)  # answered from the cache: not verified again
    assert verifier.events.counters[None, "token_refused:issuer"] == 1
    assert verifier.events.counters[ISSUER, "verified"] == 1


# -- life cycle ------------------------------------------------------------------------


async def test_verifier_with_static_keys_is_ready_at_once() -> None:
    async with make_verifier() as verifier:
        assert verifier.ready()
        assert await verifier.verify(mint())
    assert repr(verifier) == f"TokenVerifier(issuers=[{ISSUER!r}])"


async def test_claims_carry_the_audience_as_sent() -> None:
    verified = await make_verifier().verify(mint(aud=[AUDIENCE, "other"]))
    assert verified.audience == (AUDIENCE, "other")


async def test_a_broken_event_hook_never_breaks_verification(caplog: pytest.LogCaptureFixture) -> None:
    def broken_hook(event: AuthEvent) -> None:
        raise RuntimeError("metrics backend down")

    verifier = make_verifier(on_event=broken_hook)
    with pytest.raises(ExpiredTokenError):
        await verifier.verify(mint(exp=NOW - 3600))
    assert await verifier.verify(mint())
    assert "the event hook raised" in caplog.text


# -- tokens bound to a key: `verify_bound`, for callers that check the proof ---------------


async def test_a_bound_token_passes_verify_bound_and_never_the_bearer_path() -> None:
    verifier = make_verifier()
    token = mint(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
    claims = await verifier.verify_bound(token)
    assert claims["cnf"] == {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}
    assert await verifier.verify_bound(token) is claims  # cached among bound tokens
    # Verified once with its proof path, it is still no bearer token.
    assert verifier.cached(token) is None
    with pytest.raises(KeyBoundTokenError):
        await verifier.verify(token)


async def test_verify_bound_checks_everything_else() -> None:
    with pytest.raises(ExpiredTokenError):
        await make_verifier().verify_bound(mint(cnf={"jkt": "x"}, exp=1))


# -- what `issuers=` takes ------------------------------------------------------------------


async def test_issuers_may_mix_issuers_and_resolvers_and_a_listed_issuer_wins() -> None:
    asked: list[str] = []

    def resolver(iss: str) -> Issuer | None:
        asked.append(iss)
        return make_issuer(OTHER_ISSUER) if iss == OTHER_ISSUER else None

    verifier = TokenVerifier([make_issuer(), resolver], clock=Clock())
    assert (await verifier.verify(mint())).issuer == ISSUER
    assert (await verifier.verify(mint(iss=OTHER_ISSUER))).issuer == OTHER_ISSUER
    with pytest.raises(UntrustedIssuerError):
        await verifier.verify(mint(iss="https://stranger.example.test/"))
    assert asked == [OTHER_ISSUER, "https://stranger.example.test/"]  # never asked about ISSUER


async def test_an_alias_of_an_issuer_shares_its_keys_and_policy() -> None:
    verifier = TokenVerifier([make_issuer(aliases=["issuer.example.test"])], clock=Clock())
    assert (await verifier.verify(mint(iss="issuer.example.test"))).issuer == "issuer.example.test"
    assert len(verifier.key_store.issuers()) == 1
    with pytest.raises(ValueError, match="configured twice"):
        TokenVerifier([make_issuer(aliases=[OTHER_ISSUER]), make_issuer(OTHER_ISSUER)])
