"""DPoP proofs (RFC 9449 section 4.3): every check accepts a good proof and refuses a bad one.

Each bad proof is otherwise valid (signed by the client's real key where a signature
matters), so a refusal can only come from the rule under test.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]
from jwcrypto import jwt as cjwt

from jwks_middleware import _dpop as dpop
from jwks_middleware._algorithms import ASYMMETRIC_ALGORITHMS
from jwks_middleware._dpop import (
    DEFAULT_MAX_PROOF_BYTES,
    DPoPPolicy,
    VerifiedProof,
    access_token_hash,
    check_binding,
    proof_header,
    verify_proof,
)
from jwks_middleware._dpop_nonce import NonceSource
from jwks_middleware._errors import (
    AuthError,
    DPoPBindingError,
    InvalidDPoPProofError,
    InvalidTokenError,
    MissingTokenError,
    ReplayedDPoPProofError,
    ReplayStoreUnavailableError,
    UseDPoPNonceError,
)
from jwks_middleware._replay import MemoryReplayStore, ReplayStore
from jwks_middleware._responses import Challenges
from jwks_middleware.testing._dpop import DPoPKey, dpop_bound_claims

pytestmark = pytest.mark.anyio

NOW = 1_700_000_000
URL = "https://api.example.test/items"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl"
SECRET = b"a nonce secret of at least thirty-two bytes"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@functools.cache
def client_key(algorithm: str = "ES256", index: int = 0) -> DPoPKey:
    """A client key made once per test session (`index` tells distinct keys apart)."""
    return DPoPKey(algorithm, clock=lambda: NOW)


async def check(
    proof: str,
    *,
    method: str = "GET",
    url: str = URL,
    access_token: str | None = TOKEN,
    policy: DPoPPolicy | None = None,
    store: ReplayStore | None = None,
    now: float = NOW,
) -> VerifiedProof:
    return await verify_proof(
        proof,
        method=method,
        url=url,
        access_token=access_token,
        policy=policy or DPoPPolicy(),
        replay_store=MemoryReplayStore(clock=lambda: now) if store is None else store,
        now=now,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def claims_of(**changes: Any) -> dict[str, Any]:
    """Valid proof claims for a GET of `URL` with `TOKEN` at `NOW`; None removes a claim."""
    claims = {
        "jti": secrets.token_urlsafe(12),
        "htm": "GET",
        "htu": URL,
        "iat": NOW,
        "ath": access_token_hash(TOKEN),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


# -- a good proof ------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "PS256"])
async def test_a_good_proof_gives_the_thumbprint_of_its_key(algorithm: str) -> None:
    key = client_key(algorithm)
    verified = await check(key.proof("GET", URL, access_token=TOKEN))
    assert verified.jkt == key.thumbprint
    assert verified.algorithm == algorithm
    assert verified.issued_at == NOW


async def test_the_example_proof_of_rfc_9449_verifies_with_its_thumbprint() -> None:
    # RFC 9449 section 4.2, figure 3; its key's thumbprint is the `jkt` of section 6.1.
    proof = (
        "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNo"
        "UklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERW"
        "clUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0"
        "dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-"
        "FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"
    )
    verified = await check(
        proof, method="POST", url="https://server.example.com/token", access_token=None, now=1562262616
    )
    assert verified.jkt == "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    assert verified.jti == "-BwC3ESc6acc2lTc"


# -- proofs made by other libraries -----------------------------------------------------


async def test_a_proof_made_with_pyjwt_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(pyjwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    claims = {"jti": "pyjwt-1", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    proof = pyjwt.encode(claims, private, algorithm="ES256", headers={"typ": "dpop+jwt", "jwk": public_jwk})
    verified = await check(proof)
    assert verified.jkt == cjwk.JWK(**public_jwk).thumbprint()


@pytest.mark.parametrize(("kty", "size", "alg"), [("EC", "P-384", "ES384"), ("OKP", "Ed25519", "EdDSA")])
async def test_a_proof_made_with_jwcrypto_verifies(kty: str, size: str, alg: str) -> None:
    key = cjwk.JWK.generate(kty=kty, crv=size)
    claims = {"jti": "jwcrypto-1", "htm": "POST", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.export_public(as_dict=True)}
    proof = cjwt.JWT(header=header, claims=claims)
    proof.make_signed_token(key)
    verified = await check(proof.serialize(), method="POST")
    assert verified.jkt == key.thumbprint()


# -- typ (section 4.3 item 4) ------------------------------------------------------------


@pytest.mark.parametrize("typ", ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt"])
async def test_the_dpop_media_type_is_accepted_in_any_spelling(typ: str) -> None:
    await check(client_key().proof("GET", URL, access_token=TOKEN, headers={"typ": typ}))


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "dpop", None, 7])
async def test_a_proof_of_another_type_is_refused(typ: object) -> None:
    with pytest.raises(InvalidDPoPProofError, match="'typ'"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, headers={"typ": typ}))


# -- alg (section 4.3 item 5) ------------------------------------------------------------


async def test_a_proof_signed_with_hs256_is_refused() -> None:
    secret = b"k" * 32
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": b64(secret)}}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims_of()).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidDPoPProofError, match="'alg'"):
        await check(f"{signing_input}.{b64(mac)}")


@pytest.mark.parametrize("alg", ["none", "None"])
async def test_an_unsigned_proof_is_refused(alg: str) -> None:
    signed = client_key().proof("GET", URL, access_token=TOKEN, alg=alg)
    with pytest.raises(InvalidDPoPProofError, match="'alg'"):
        await check(signed.rsplit(".", 1)[0] + ".")


async def test_an_algorithm_outside_the_policy_is_refused() -> None:
    proof = client_key("PS256").proof("GET", URL, access_token=TOKEN)
    with pytest.raises(InvalidDPoPProofError, match="'alg'"):
        await check(proof, policy=DPoPPolicy(algorithms=("ES256",)))
    await check(proof, policy=DPoPPolicy(algorithms=("ES256", "PS256")))


async def test_an_algorithm_that_does_not_fit_the_key_is_refused() -> None:
    # A P-256 key named in an ES384 header (the signature is the key's own ES256).
    with pytest.raises(InvalidDPoPProofError, match="does not fit"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, alg="ES384"))


async def test_a_jwk_bound_to_another_algorithm_is_refused() -> None:
    key = client_key("RS256")
    jwk = {**key.public_jwk, "alg": "PS256"}  # a key's own "alg" binds it (RFC 7517 section 4.4)
    with pytest.raises(InvalidDPoPProofError, match="does not fit"):
        await check(key.proof("GET", URL, access_token=TOKEN, headers={"jwk": jwk}))


# -- jwk (section 4.3 items 6 and 7) -----------------------------------------------------


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
async def test_a_jwk_with_a_private_member_is_refused(member: str) -> None:
    key = client_key()
    jwk = {**key.public_jwk, member: "AQAB"}
    with pytest.raises(InvalidDPoPProofError, match="private"):
        await check(key.proof("GET", URL, access_token=TOKEN, headers={"jwk": jwk}))


async def test_the_full_private_jwk_of_the_signer_is_refused() -> None:
    key = client_key()
    private = dict(key._key.as_dict(private=True))
    with pytest.raises(InvalidDPoPProofError, match="private"):
        await check(key.proof("GET", URL, access_token=TOKEN, headers={"jwk": private}))


@pytest.mark.parametrize(
    ("jwk", "match"),
    [
        (None, "no 'jwk'"),
        ("a key", "no 'jwk'"),
        ({"kty": "oct"}, "symmetric"),
        ({"kty": "EC", "crv": "P-256", "x": "AQAB"}, "not usable"),
        ({"kty": "EC", "crv": "X25519", "x": "AQAB"}, "not usable"),
    ],
)
async def test_a_missing_or_unusable_jwk_is_refused(jwk: object, match: str) -> None:
    with pytest.raises(InvalidDPoPProofError, match=match):
        await check(client_key().proof("GET", URL, access_token=TOKEN, headers={"jwk": jwk}))


async def test_a_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    impostor = client_key(index=1).proof(
        "GET", URL, access_token=TOKEN, headers={"jwk": client_key().public_jwk}
    )
    with pytest.raises(InvalidDPoPProofError, match="signature"):
        await check(impostor)


async def test_a_proof_with_a_changed_payload_is_refused() -> None:
    header, _, signature = client_key().proof("GET", URL, access_token=TOKEN).split(".")
    with pytest.raises(InvalidDPoPProofError, match="signature"):
        await check(f"{header}.{b64(json.dumps(claims_of(jti='changed')).encode())}.{signature}")


async def test_a_proof_with_a_garbled_signature_is_refused() -> None:
    proof = client_key().proof("GET", URL, access_token=TOKEN)
    with pytest.raises(InvalidDPoPProofError, match="signature"):
        await check(proof.rsplit(".", 1)[0] + "." + b64(b"\x00" * 7))


async def test_a_known_client_key_is_checked_again_on_every_proof() -> None:
    # The imported key of a header is reused; the policy and the signature are still checked.
    key = client_key()
    await check(key.proof("GET", URL, access_token=TOKEN))
    with pytest.raises(InvalidDPoPProofError, match="'alg'"):
        await check(key.proof("GET", URL, access_token=TOKEN), policy=DPoPPolicy(algorithms=("PS256",)))
    proof = key.proof("GET", URL, access_token=TOKEN)
    with pytest.raises(InvalidDPoPProofError, match="signature"):
        await check(proof.rsplit(".", 1)[0] + "." + b64(b"\x00" * 64))


async def test_a_flood_of_new_client_keys_keeps_few_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dpop, "_PROOF_KEY_CACHE_SIZE", 4)
    monkeypatch.setattr(dpop, "_proof_keys", {})
    for index in range(10):
        key = DPoPKey(clock=lambda: NOW)
        assert (await check(key.proof("GET", URL, access_token=TOKEN))).jkt == key.thumbprint
        assert len(dpop._proof_keys) <= 4, index


# -- htm (section 4.3 item 8) ------------------------------------------------------------


async def test_a_proof_for_another_method_is_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="'htm'"):
        await check(client_key().proof("POST", URL, access_token=TOKEN), method="GET")


async def test_the_method_is_compared_case_sensitively() -> None:
    # RFC 9110 section 9.1: method names are case-sensitive.
    with pytest.raises(InvalidDPoPProofError, match="'htm'"):
        await check(client_key().proof("get", URL, access_token=TOKEN), method="GET")


# -- htu (section 4.3 item 9) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        ("HTTPS://API.Example.TEST/items", URL),
        ("https://api.example.test:443/items", URL),
        ("https://api.example.test:/items", URL),
        ("http://api.example.test:80/items", "http://api.example.test/items"),
        ("https://api.example.test/%69tems", URL),
        ("https://api.example.test/a%2fb", "https://api.example.test/a%2Fb"),
        ("https://api.example.test/x/../items", URL),
        ("https://api.example.test/./items", URL),
        ("https://api.example.test", "https://api.example.test/"),
        ("https://api.example.test/items?page=2", URL),
        ("https://api.example.test/items#top", URL),
        ("wss://api.example.test/items", URL),
    ],
)
async def test_the_uri_is_compared_after_normalization(htu: str, url: str) -> None:
    await check(client_key().proof("GET", url, access_token=TOKEN, htu=htu), url=url)


@pytest.mark.parametrize(
    "htu",
    [
        "https://other.example.test/items",
        "http://api.example.test/items",
        "https://api.example.test:8443/items",
        "https://api.example.test/items/",
        "https://api.example.test/Items",
        "https://api.example.test/a/b",
        "https://user@api.example.test/items",
        "/items",
        "api.example.test/items",
        "ftp://api.example.test/items",
        "https://api.example.test/it ems",
        "https://api.example.test/%zzitems",
        "https://api.example.test/itéms",
        "https:///items",
    ],
)
async def test_a_proof_for_another_uri_is_refused(htu: str) -> None:
    with pytest.raises(InvalidDPoPProofError, match="'htu'"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, htu=htu))


async def test_an_encoded_slash_is_not_a_path_separator() -> None:
    with pytest.raises(InvalidDPoPProofError, match="'htu'"):
        await check(
            client_key().proof("GET", URL, access_token=TOKEN, htu="https://api.example.test/a%2Fb"),
            url="https://api.example.test/a/b",
        )


async def test_a_request_uri_that_is_not_http_is_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="request URI"):
        await check(client_key().proof("GET", URL, access_token=TOKEN), url="not a uri")


# -- iat (section 4.3 item 11) -----------------------------------------------------------


@pytest.mark.parametrize("iat", [NOW - 300, NOW - 1.5, NOW, NOW + 30])
async def test_a_proof_made_within_the_window_is_accepted(iat: float) -> None:
    await check(client_key().proof("GET", URL, access_token=TOKEN, iat=iat))


async def test_a_proof_older_than_max_age_is_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="ago"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, iat=NOW - 301))


async def test_a_proof_from_the_future_beyond_the_leeway_is_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="future"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, iat=NOW + 31))


async def test_the_window_is_configurable() -> None:
    policy = DPoPPolicy(max_age=10, leeway=0)
    await check(client_key().proof("GET", URL, access_token=TOKEN, iat=NOW - 10), policy=policy)
    with pytest.raises(InvalidDPoPProofError, match="ago"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, iat=NOW - 11), policy=policy)
    with pytest.raises(InvalidDPoPProofError, match="future"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, iat=NOW + 1), policy=policy)


@pytest.mark.parametrize("iat", ["1700000000", True, None, [NOW], 10**400])
async def test_an_iat_that_is_no_date_is_refused(iat: object) -> None:
    with pytest.raises(InvalidDPoPProofError, match="'iat'"):
        await check(client_key().sign(claims_of(iat=iat)))


# -- required claims (section 4.2) -------------------------------------------------------


@pytest.mark.parametrize("claim", ["jti", "htm", "htu"])
async def test_a_proof_without_a_required_claim_is_refused(claim: str) -> None:
    with pytest.raises(InvalidDPoPProofError, match=f"no '{claim}'"):
        await check(client_key().sign(claims_of(**{claim: None})))


@pytest.mark.parametrize(
    ("claim", "value"), [("jti", ""), ("jti", 12), ("htm", ["GET"]), ("htu", {"url": URL})]
)
async def test_a_required_claim_that_is_no_string_is_refused(claim: str, value: object) -> None:
    with pytest.raises(InvalidDPoPProofError, match=f"no '{claim}'"):
        await check(client_key().sign(claims_of(**{claim: value})))


# -- replay (sections 4.3 and 11.1) ------------------------------------------------------


async def test_a_replayed_proof_is_refused() -> None:
    store = MemoryReplayStore(clock=lambda: NOW)
    proof = client_key().proof("GET", URL, access_token=TOKEN)
    await check(proof, store=store)
    with pytest.raises(ReplayedDPoPProofError, match="already used"):
        await check(proof, store=store)


async def test_a_replay_is_refused_until_the_proof_is_too_old_anyway() -> None:
    store = MemoryReplayStore(clock=lambda: NOW + 330)
    proof = client_key().proof("GET", URL, access_token=TOKEN, iat=NOW)
    await check(proof, store=store, now=NOW + 299)
    with pytest.raises(ReplayedDPoPProofError):
        await check(proof, store=store, now=NOW + 300)
    with pytest.raises(InvalidDPoPProofError, match="ago"):
        await check(proof, store=store, now=NOW + 301)


async def test_proofs_with_new_jtis_are_each_accepted() -> None:
    store = MemoryReplayStore(clock=lambda: NOW)
    for _ in range(3):
        await check(client_key().proof("GET", URL, access_token=TOKEN), store=store)


async def test_one_client_cannot_use_up_another_clients_jti() -> None:
    store = MemoryReplayStore(clock=lambda: NOW)
    await check(client_key(index=1).proof("GET", URL, access_token=TOKEN, jti="shared"), store=store)
    await check(client_key().proof("GET", URL, access_token=TOKEN, jti="shared"), store=store)


async def test_a_forged_proof_does_not_use_up_the_jti_of_the_real_one() -> None:
    # Recorded only after the signature: a forgery naming a client's key and jti spends nothing.
    store = MemoryReplayStore(clock=lambda: NOW)
    victim = client_key()
    forged = client_key(index=1).proof(
        "GET", URL, access_token=TOKEN, jti="j-1", headers={"jwk": victim.public_jwk}
    )
    with pytest.raises(InvalidDPoPProofError, match="signature"):
        await check(forged, store=store)
    await check(victim.proof("GET", URL, access_token=TOKEN, jti="j-1"), store=store)


class BrokenStore:
    async def add(self, key: str, expires_at: float) -> bool:
        raise ConnectionError("store down")


class UnavailableStore:
    async def add(self, key: str, expires_at: float) -> bool:
        raise ReplayStoreUnavailableError("down for maintenance")


@pytest.mark.parametrize("store", [BrokenStore(), UnavailableStore()])
async def test_a_failing_replay_store_refuses_the_proof_with_503(store: ReplayStore) -> None:
    with pytest.raises(ReplayStoreUnavailableError) as refusal:
        await check(client_key().proof("GET", URL, access_token=TOKEN), store=store)
    assert refusal.value.status_code == 503


# -- ath (section 4.3 item 12, section 7) ------------------------------------------------


async def test_a_proof_for_another_access_token_is_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="'ath'"):
        await check(client_key().proof("GET", URL, access_token="another-token"))


async def test_a_proof_without_ath_is_refused_when_a_token_is_presented() -> None:
    with pytest.raises(InvalidDPoPProofError, match="no 'ath'"):
        await check(client_key().proof("GET", URL))


async def test_ath_is_not_needed_where_no_token_is_presented() -> None:
    await check(client_key().proof("POST", URL), method="POST", access_token=None)


async def test_ath_is_the_base64url_sha256_of_the_token() -> None:
    # RFC 9449 section 7.1, figure 12: the example access token and its `ath`.
    assert (
        access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU")
        == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    )


@pytest.mark.parametrize("ath", [12, "\ud800"])
async def test_an_ath_that_is_no_hash_is_refused(ath: object) -> None:
    with pytest.raises(InvalidDPoPProofError, match="'ath'"):
        await check(client_key().proof("GET", URL, ath=ath))


# -- nonce (section 4.3 item 10, section 9) ----------------------------------------------


def nonce_policy() -> DPoPPolicy:
    return DPoPPolicy(nonces=NonceSource(SECRET, lifetime=60))


async def test_a_proof_with_a_current_nonce_is_accepted() -> None:
    policy = nonce_policy()
    assert policy.nonces is not None
    nonce = policy.nonces.issue(NOW)
    verified = await check(client_key().proof("GET", URL, access_token=TOKEN, nonce=nonce), policy=policy)
    assert verified.nonce == nonce


async def test_a_proof_without_a_nonce_is_answered_with_a_fresh_one() -> None:
    policy = nonce_policy()
    assert policy.nonces is not None
    with pytest.raises(UseDPoPNonceError, match="no nonce") as refusal:
        await check(client_key().proof("GET", URL, access_token=TOKEN), policy=policy)
    assert refusal.value.nonce == policy.nonces.issue(NOW)
    assert (refusal.value.status_code, refusal.value.error) == (401, "use_dpop_nonce")


@pytest.mark.parametrize("nonce", ["made-up", "A" * 32, 42])
async def test_a_proof_with_a_wrong_nonce_is_refused(nonce: object) -> None:
    with pytest.raises(UseDPoPNonceError, match="not current"):
        await check(client_key().sign(claims_of(nonce=nonce)), policy=nonce_policy())


async def test_a_proof_with_an_expired_nonce_is_refused() -> None:
    policy = nonce_policy()
    assert policy.nonces is not None
    old = policy.nonces.issue(NOW - 120)
    with pytest.raises(UseDPoPNonceError, match="not current") as refusal:
        await check(client_key().proof("GET", URL, access_token=TOKEN, nonce=old), policy=policy)
    assert refusal.value.nonce != old


async def test_a_nonce_is_ignored_when_none_is_required() -> None:
    verified = await check(client_key().proof("GET", URL, access_token=TOKEN, nonce="anything"))
    assert verified.nonce == "anything"


# -- key binding (section 6.1) -----------------------------------------------------------


def test_a_token_bound_to_the_proof_key_passes() -> None:
    key = client_key()
    check_binding(dpop_bound_claims(key), key.thumbprint)


def test_a_token_bound_to_another_key_is_refused() -> None:
    with pytest.raises(DPoPBindingError, match="not the thumbprint"):
        check_binding(dpop_bound_claims(client_key(index=1)), client_key().thumbprint)


@pytest.mark.parametrize(
    "claims", [{}, {"cnf": "x"}, {"cnf": {}}, {"cnf": {"jkt": 7}}, {"cnf": {"x5t#S256": "a"}}]
)
def test_a_token_not_bound_to_a_dpop_key_is_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(DPoPBindingError, match="not bound"):
        check_binding(claims, client_key().thumbprint)


def test_a_binding_refusal_is_an_invalid_token() -> None:
    # RFC 9449 section 7.1, figure 13: error="invalid_token", "Invalid DPoP key binding".
    error = DPoPBindingError()
    assert isinstance(error, InvalidTokenError)
    assert (error.status_code, error.error, error.description) == (
        401,
        "invalid_token",
        "Invalid DPoP key binding",
    )


# -- parsing (section 4.3 item 2) --------------------------------------------------------


async def test_a_proof_larger_than_the_cap_is_refused() -> None:
    big = client_key().proof("GET", URL, access_token=TOKEN, padding="x" * DEFAULT_MAX_PROOF_BYTES)
    with pytest.raises(InvalidDPoPProofError, match="larger than"):
        await check(big)
    await check(big, policy=DPoPPolicy(max_proof_bytes=2 * DEFAULT_MAX_PROOF_BYTES))


async def test_duplicate_members_in_the_header_are_refused() -> None:
    key = client_key()
    jwk = json.dumps(key.public_jwk)
    header = f'{{"typ":"dpop+jwt","alg":"ES256","alg":"ES256","jwk":{jwk}}}'.encode()
    with pytest.raises(InvalidDPoPProofError, match="duplicate"):
        await check(key.sign(claims_of(), header=header))


async def test_duplicate_members_in_the_payload_are_refused() -> None:
    key = client_key()
    ath = access_token_hash(TOKEN)
    payload = f'{{"jti":"d","htm":"GET","htm":"POST","htu":"{URL}","iat":{NOW},"ath":"{ath}"}}'.encode()
    with pytest.raises(InvalidDPoPProofError, match="duplicate"):
        await check(key.sign(payload))


@pytest.mark.parametrize(
    ("mangle", "match"),
    [
        (lambda proof: proof.rsplit(".", 1)[0], "3 parts"),
        (lambda proof: proof + ".x.y", "3 parts"),
        (lambda proof: "é" + proof, "non-ASCII"),
        (lambda proof: "!" + proof, "not base64url"),
        (lambda proof: proof.replace(".", "=.", 1), "not base64url"),
        (lambda proof: proof.rsplit(".", 1)[0] + ".", "signature is not base64url"),
        (lambda proof: b64(b"not json") + proof[proof.index(".") :], "not valid JSON"),
        (lambda proof: b64(b"[1]") + proof[proof.index(".") :], "not a JSON object"),
        (
            lambda proof: proof[: proof.index(".")] + "." + b64(b'"text"') + "." + proof.rsplit(".", 1)[1],
            "payload is not a JSON object",
        ),
    ],
)
async def test_a_malformed_proof_is_refused(mangle: Any, match: str) -> None:
    with pytest.raises(InvalidDPoPProofError, match=match):
        await check(mangle(client_key().proof("GET", URL, access_token=TOKEN)))


async def test_non_canonical_base64url_is_refused() -> None:
    proof = client_key().proof("GET", URL, access_token=TOKEN)
    header, payload, signature = proof.split(".")
    # ES256 signatures are 64 bytes: 86 characters, whose last one carries 4 unused bits.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(signature[-1])
    stray = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last | 1]
    with pytest.raises(InvalidDPoPProofError, match="canonical"):
        await check(f"{header}.{payload}.{signature[:-1]}{stray}")


@pytest.mark.parametrize("member", ["crit", "b64"])
async def test_header_extensions_are_refused(member: str) -> None:
    value = ["exp"] if member == "crit" else False
    with pytest.raises(InvalidDPoPProofError, match="'crit' or 'b64'"):
        await check(client_key().proof("GET", URL, access_token=TOKEN, headers={member: value}))


# -- the DPoP header (section 4.3 item 1) ------------------------------------------------


def scope_with(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "headers": list(headers)}


def test_the_one_dpop_header_is_found() -> None:
    assert proof_header(scope_with((b"authorization", b"DPoP t"), (b"dpop", b"a.b.c"))) == "a.b.c"
    assert proof_header(scope_with((b"authorization", b"DPoP t"))) is None


def test_two_dpop_headers_are_refused() -> None:
    with pytest.raises(InvalidDPoPProofError, match="more than one"):
        proof_header(scope_with((b"dpop", b"a.b.c"), (b"dpop", b"a.b.c")))


# -- the challenge (section 7.1) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (MissingTokenError(), 'DPoP algs="ES256 PS256"'),
        (
            InvalidDPoPProofError("detail not shown"),
            'DPoP error="invalid_dpop_proof", error_description="The DPoP proof is invalid", '
            'algs="ES256 PS256"',
        ),
        (
            DPoPBindingError(),
            'DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256 PS256"',
        ),
        (
            UseDPoPNonceError(nonce="n"),
            'DPoP error="use_dpop_nonce", '
            'error_description="The resource server requires a nonce in the DPoP proof", algs="ES256 PS256"',
        ),
    ],
)
def test_the_dpop_challenge_names_the_error_and_the_algorithms(error: AuthError, expected: str) -> None:
    assert Challenges(bearer=False, dpop_algorithms=("ES256", "PS256")).values(error) == [expected]


def test_the_dpop_challenge_carries_the_realm() -> None:
    dpop_only = Challenges(realm="api", bearer=False, dpop_algorithms=("ES256",))
    assert dpop_only.values(MissingTokenError()) == ['DPoP realm="api", algs="ES256"']


def test_the_challenge_announces_the_policy_algorithms_in_order() -> None:
    policy = DPoPPolicy(algorithms=("PS256", "ES256", "PS256"))
    challenges = Challenges(bearer=False, dpop_algorithms=tuple(policy.algorithms))
    assert challenges.values(MissingTokenError()) == ['DPoP algs="PS256 ES256"']


# -- policy ------------------------------------------------------------------------------


def test_the_default_policy_accepts_the_common_asymmetric_algorithms_es256_first() -> None:
    policy = DPoPPolicy()
    assert policy.algorithms[0] == "ES256"
    assert set(policy.algorithms) == set(ASYMMETRIC_ALGORITHMS) - {"ES256K", "Ed448"}
    assert (policy.max_age, policy.leeway, policy.nonces) == (300, 30, None)


@pytest.mark.parametrize("algorithm", ["ES256K", "Ed448"])
def test_the_rarer_asymmetric_algorithms_can_be_allowed(algorithm: str) -> None:
    assert DPoPPolicy(algorithms=[algorithm]).algorithms == (algorithm,)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"algorithms": ("HS256",)}, ValueError, "asymmetric"),
        ({"algorithms": ("none",)}, ValueError, "asymmetric"),
        ({"algorithms": ("RS1",)}, ValueError, "unsupported"),
        ({"algorithms": ()}, ValueError, "empty"),
        ({"algorithms": "ES256"}, TypeError, "list of names"),
        ({"max_age": 0}, ValueError, "max_age"),
        ({"max_age": 86_400}, ValueError, "max_age"),
        ({"leeway": -1}, ValueError, "leeway"),
        ({"leeway": 301}, ValueError, "leeway"),
        ({"max_proof_bytes": 100}, ValueError, "max_proof_bytes"),
        ({"nonces": SECRET}, TypeError, "NonceSource"),
    ],
)
def test_an_unsafe_policy_is_refused_at_construction(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        DPoPPolicy(**options)


def test_the_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DPoPPolicy().max_age = 10  # type: ignore[misc]


async def test_a_refusal_never_shows_the_proof_or_the_token() -> None:
    proof = client_key().proof("GET", URL, access_token="another-token")
    with pytest.raises(InvalidDPoPProofError) as refusal:
        await check(proof)
    for secret in (proof, TOKEN, "another-token"):
        assert secret not in refusal.value.detail
    assert refusal.value.description == "The DPoP proof is invalid"
