"""Strict parsing of compact JWS tokens: size, base64url, JSON and header rules.

Every attack token here is otherwise valid (signed by the issuer's real key where a
signature matters), so a refusal can only come from the rule under test.
"""

from __future__ import annotations

import pytest
from support import (
    AUDIENCE,
    RSA_KID,
    b64url,
    claims,
    header,
    json_bytes,
    make_verifier,
    mint,
    public_jwk,
    rsa_key,
    segment,
    self_signed_certificate,
    signed,
    unsigned,
)

from jwks_middleware import (
    DisallowedAlgorithmError,
    InvalidSignatureError,
    InvalidTokenError,
    MalformedTokenError,
    UnsupportedTokenError,
)
from jwks_middleware._config import DEFAULT_MAX_TOKEN_BYTES
from jwks_middleware._jws import loads_strict, parse_token

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_well_formed_token_verifies() -> None:
    claims_ = await make_verifier().verify(mint())
    assert claims_.subject == "user-1"


# -- size ------------------------------------------------------------------------------


async def test_token_larger_than_the_default_cap_is_refused() -> None:
    token = mint(padding="x" * DEFAULT_MAX_TOKEN_BYTES)
    with pytest.raises(MalformedTokenError, match="larger than"):
        await make_verifier().verify(token)


async def test_large_token_under_the_default_cap_verifies() -> None:
    # joserfc's own caps (512-byte header) are narrower than real tokens; ours is 16 KiB.
    token = mint(padding="x" * 10_000, header_members={"x-padding": "y" * 1000})
    assert len(token) < DEFAULT_MAX_TOKEN_BYTES
    assert (await make_verifier().verify(token))["padding"] == "x" * 10_000


async def test_max_token_bytes_is_an_inclusive_limit() -> None:
    token = mint()
    assert await make_verifier(max_token_bytes=len(token)).verify(token)
    with pytest.raises(MalformedTokenError):
        await make_verifier(max_token_bytes=len(token) - 1).verify(token)


# -- structure -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="one part"),
        pytest.param(f"{segment(header())}.{segment(claims())}", id="two parts"),
        pytest.param(f"{segment(header())}.{segment(claims())}.c2ln.c2ln", id="four parts"),
        pytest.param("a.b.c.d.e.f", id="six parts"),
    ],
)
async def test_token_without_three_parts_is_malformed(token: str) -> None:
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


async def test_five_part_jwe_is_refused_as_unsupported() -> None:
    jwe = ".".join([segment({"alg": "RSA-OAEP", "enc": "A256GCM"}), "a2V5", "aXY", "Y2lwaGVy", "dGFn"])
    with pytest.raises(UnsupportedTokenError, match="JWE"):
        await make_verifier().verify(jwe)


async def test_non_ascii_token_is_malformed() -> None:
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(mint() + "é")


async def test_empty_signature_is_refused() -> None:
    with pytest.raises(InvalidTokenError):
        await make_verifier().verify(unsigned(header(), claims()))


async def test_token_parts_have_no_repr_leak() -> None:
    token = mint()
    parsed = parse_token(token, max_bytes=DEFAULT_MAX_TOKEN_BYTES)
    assert token.split(".")[2] not in repr(parsed)
    assert repr(parsed) == f"UnverifiedToken(alg='RS256', kid={RSA_KID!r})"


# -- base64url -------------------------------------------------------------------------


def _with_remainder(remainder: int) -> dict[str, object]:
    """Claims whose base64url encoding has `remainder` characters past a multiple of 4."""
    for size in range(8):
        payload = claims(pad="p" * size)
        if len(segment(payload)) % 4 == remainder:
            return payload
    raise AssertionError("unreachable")  # pragma: no cover


@pytest.mark.parametrize("remainder", [2, 3])
async def test_padded_base64url_is_refused(remainder: int) -> None:
    payload = segment(_with_remainder(remainder))
    padded = payload + "=" * (4 - remainder)
    token = signed(header(), padded, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError, match="payload is not base64url"):
        await make_verifier().verify(token)


@pytest.mark.parametrize("remainder", [2, 3])
async def test_non_canonical_last_character_is_refused(remainder: int) -> None:
    # The same bytes decode from a last character with stray low bits set (RFC 4648
    # section 3.5); a strict decoder refuses it, so one token has one encoding.
    payload = segment(_with_remainder(remainder))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    stray = alphabet[alphabet.index(payload[-1]) | 1]
    token = signed(header(), payload[:-1] + stray, rsa_key(), alg="RS256")
    assert await make_verifier().verify(signed(header(), payload, rsa_key(), alg="RS256"))
    with pytest.raises(MalformedTokenError, match="not canonical"):
        await make_verifier().verify(token)


async def test_segment_of_impossible_length_is_refused() -> None:
    payload = segment(_with_remainder(0)) + "A"  # 4n+1 characters never encode whole bytes
    token = signed(header(), payload, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


@pytest.mark.parametrize("character", ["+", "/", " ", "=", "\n", "*"])
async def test_characters_outside_base64url_are_refused(character: str) -> None:
    token = signed(header(), segment(claims()) + character, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


async def test_padded_signature_is_refused() -> None:
    token = mint()
    assert len(token.split(".")[2]) % 4  # a 256-byte signature needs padding in base64
    with pytest.raises(MalformedTokenError, match="signature"):
        await make_verifier().verify(token + "==")


# -- JSON ------------------------------------------------------------------------------


async def test_duplicate_header_member_is_refused() -> None:
    # Parsers disagree on which duplicate wins: "none" first, a real alg second.
    raw = b'{"alg":"none","alg":"RS256","kid":"' + RSA_KID.encode() + b'","typ":"JWT"}'
    token = signed(raw, claims(), rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError, match="duplicate"):
        await make_verifier().verify(token)


async def test_duplicate_claim_is_refused() -> None:
    body = json_bytes(claims(without=("aud",)))[:-1]
    raw = body + b',"aud":"https://attacker.example","aud":' + json_bytes(AUDIENCE) + b"}"
    token = signed(header(), raw, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError, match="duplicate"):
        await make_verifier().verify(token)


async def test_duplicate_member_in_a_nested_claim_is_refused() -> None:
    body = json_bytes(claims())[:-1]
    raw = body + b',"realm_access":{"roles":["user"],"roles":["admin"]}}'
    token = signed(header(), raw, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError, match="duplicate"):
        await make_verifier().verify(token)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
async def test_json_not_in_plain_utf8_is_refused(encoding: str) -> None:
    raw = json_bytes(claims()).decode("utf-8").encode(encoding)
    token = signed(header(), raw, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError, match="payload is not valid JSON"):
        await make_verifier().verify(token)


async def test_invalid_utf8_is_refused() -> None:
    raw = json_bytes(claims())[:-1] + b',"name":"\xff\xfe"}'
    token = signed(header(), raw, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
async def test_non_json_number_constants_are_refused(constant: bytes) -> None:
    raw = json_bytes(claims())[:-1] + b',"score":' + constant + b"}"
    token = signed(header(), raw, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


@pytest.mark.parametrize(
    ("raw_header", "raw_payload"),
    [
        pytest.param(b'["RS256"]', json_bytes(claims()), id="header array"),
        pytest.param(json_bytes(header()), b'"a string"', id="payload string"),
        pytest.param(json_bytes(header()), b"null", id="payload null"),
        pytest.param(json_bytes(header()), b"[]", id="payload array"),
        pytest.param(json_bytes(header()), b"{", id="payload truncated"),
        pytest.param(json_bytes(header()), json_bytes(claims()) + b"{}", id="trailing data"),
        pytest.param(json_bytes(header()), b"[" * 5000 + b"]" * 5000, id="deep nesting"),
    ],
)
async def test_header_and_payload_must_be_json_objects(raw_header: bytes, raw_payload: bytes) -> None:
    token = signed(raw_header, raw_payload, rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


def test_strict_json_is_also_used_for_documents() -> None:
    assert loads_strict(b'{"keys": []}') == {"keys": []}
    with pytest.raises(ValueError, match="duplicate"):
        loads_strict(b'{"keys": [], "keys": []}')


# -- header rules ----------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "NONE", "None", "nOnE"])
async def test_alg_none_is_never_accepted(alg: str) -> None:
    with pytest.raises(DisallowedAlgorithmError):
        await make_verifier().verify(unsigned({"alg": alg, "typ": "JWT"}, claims()))
    # ... not even with a signature part
    with pytest.raises(DisallowedAlgorithmError):
        await make_verifier().verify(unsigned({"alg": alg}, claims()) + "c2ln")


@pytest.mark.parametrize(
    "raw_header",
    [
        pytest.param({"typ": "JWT", "kid": RSA_KID}, id="no alg"),
        pytest.param({"alg": ["RS256"], "kid": RSA_KID}, id="alg array"),
        pytest.param({"alg": None}, id="alg null"),
        pytest.param({"alg": "RS256", "kid": 1}, id="kid number"),
        pytest.param({"alg": "RS256", "kid": None}, id="kid null"),
        pytest.param({"alg": "RS256", "kid": RSA_KID, "typ": ["JWT"]}, id="typ array"),
        pytest.param({"alg": "RS256", "kid": RSA_KID, "cty": 1}, id="cty number"),
    ],
)
async def test_header_members_of_the_wrong_type_are_malformed(raw_header: dict[str, object]) -> None:
    token = signed(raw_header, claims(), rsa_key(), alg="RS256")
    with pytest.raises(MalformedTokenError):
        await make_verifier().verify(token)


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({"crit": ["exp"], "exp": 1}, id="crit"),
        pytest.param({"crit": []}, id="empty crit"),
        pytest.param({"b64": False, "crit": ["b64"]}, id="b64 false with crit"),
        pytest.param({"b64": False}, id="b64 false"),
        pytest.param({"b64": True}, id="b64 true"),
        pytest.param({"jku": "https://attacker.example/jwks.json"}, id="jku"),
        pytest.param({"x5u": "https://attacker.example/cert.pem"}, id="x5u"),
    ],
)
async def test_unsupported_header_parameters_are_refused(members: dict[str, object]) -> None:
    with pytest.raises(UnsupportedTokenError):
        await make_verifier().verify(mint(header_members=members))


async def test_embedded_jwk_is_never_trusted() -> None:
    attacker = rsa_key(1)
    token = signed(header(jwk=public_jwk(attacker)), claims(), attacker)
    with pytest.raises(UnsupportedTokenError, match="jwk"):
        await make_verifier().verify(token)


async def test_embedded_x5c_certificate_is_never_trusted() -> None:
    attacker = rsa_key(1)
    token = signed(header(x5c=[self_signed_certificate(attacker)]), claims(), attacker)
    with pytest.raises(InvalidSignatureError):
        await make_verifier().verify(token)


async def test_unknown_non_critical_header_parameters_are_accepted() -> None:
    # Entra ID puts a `nonce` in some headers; joserfc would refuse it by default.
    token = mint(header_members={"nonce": "abc", "x5t": b64url(b"thumbprint"), "custom": {"a": 1}})
    assert await make_verifier().verify(token)


async def test_a_flood_of_distinct_headers_changes_no_verdict() -> None:
    # Parsed headers may be remembered; a flood of new ones must not change any answer.
    verifier = make_verifier(token_cache_size=0)
    token = mint()
    for index in range(600):
        assert await verifier.verify(mint(header_members={"x-flood": index}))
    assert await verifier.verify(token)
    with pytest.raises(UnsupportedTokenError):
        await verifier.verify(mint(header_members={"crit": ["x-flood"], "x-flood": 0}))
    with pytest.raises(MalformedTokenError, match="duplicate"):
        await verifier.verify(signed(b'{"alg":"RS256","alg":"RS256"}', claims(), rsa_key(), alg="RS256"))
