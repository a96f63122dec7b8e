"""The testing kit's DPoP client key: proofs a real client would send, and bound tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jwcrypto import jwk as cjwk  # type: ignore[import-untyped]

from jwks_middleware._dpop import access_token_hash
from jwks_middleware.testing import LocalIssuer
from jwks_middleware.testing._dpop import DPoPKey, dpop_bound_claims

NOW = 1_700_000_000


def decoded(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload = (json.loads(base64.urlsafe_b64decode(part + "==")) for part in token.split(".")[:2])
    return header, payload


@pytest.mark.parametrize(
    ("algorithm", "kty"), [("ES256", "EC"), ("ES384", "EC"), ("EdDSA", "OKP"), ("RS256", "RSA")]
)
def test_a_key_of_each_kind_carries_its_public_jwk_in_its_proofs(algorithm: str, kty: str) -> None:
    key = DPoPKey(algorithm)
    header, _ = decoded(key.proof("GET", "https://api.example.test/"))
    assert header == {"typ": "dpop+jwt", "alg": algorithm, "jwk": key.public_jwk}
    assert key.public_jwk["kty"] == kty
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key.public_jwk)


def test_the_thumbprint_is_the_rfc_7638_one() -> None:
    key = DPoPKey()
    assert key.thumbprint == cjwk.JWK(**key.public_jwk).thumbprint()


def test_a_proof_names_the_request_without_query_and_fragment() -> None:
    key = DPoPKey(clock=lambda: NOW)
    _, claims = decoded(key.proof("POST", "https://api.example.test/items?page=2#top"))
    assert claims.keys() == {"jti", "htm", "htu", "iat"}
    assert (claims["htm"], claims["htu"], claims["iat"]) == ("POST", "https://api.example.test/items", NOW)


def test_each_proof_has_its_own_jti() -> None:
    key = DPoPKey()
    jtis = {decoded(key.proof("GET", "https://api.example.test/"))[1]["jti"] for _ in range(5)}
    assert len(jtis) == 5


def test_a_proof_for_a_token_carries_its_hash_and_the_nonce() -> None:
    _, claims = decoded(
        DPoPKey().proof("GET", "https://a.test/", access_token="tok", nonce="n-1", jti="j", iat=5)
    )
    assert (claims["ath"], claims["nonce"], claims["jti"], claims["iat"]) == (
        access_token_hash("tok"),
        "n-1",
        "j",
        5,
    )


def test_extra_claims_and_headers_change_the_proof() -> None:
    proof = DPoPKey().proof(
        "GET", "https://a.test/", htu="https://b.test/", htm=None, custom=1, headers={"typ": None, "kid": "k"}
    )
    header, claims = decoded(proof)
    assert (claims["htu"], claims["custom"], "htm" in claims) == ("https://b.test/", 1, False)
    assert ("typ" in header, header["kid"]) == (False, "k")


def test_alg_changes_only_what_the_header_says() -> None:
    header, _ = decoded(DPoPKey().proof("GET", "https://a.test/", alg="ES384"))
    assert header["alg"] == "ES384"


def test_sign_uses_raw_json_verbatim() -> None:
    proof = DPoPKey().sign(b'{"jti":"a","jti":"b"}', header=b'{"alg":"ES256"}')
    assert base64.urlsafe_b64decode(proof.split(".")[1] + "==") == b'{"jti":"a","jti":"b"}'


def test_a_local_issuer_mints_a_token_bound_to_the_key() -> None:
    key = DPoPKey()
    token = LocalIssuer(algorithm="ES256").issue(**dpop_bound_claims(key))
    assert decoded(token)[1]["cnf"] == {"jkt": key.thumbprint}


def test_an_unsupported_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported algorithm"):
        DPoPKey("HS256")


def test_the_key_shows_only_its_algorithm_and_thumbprint() -> None:
    key = DPoPKey()
    assert repr(key) == f"DPoPKey('ES256', thumbprint={key.thumbprint!r})"
