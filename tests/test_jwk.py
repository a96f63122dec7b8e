"""Key import: which keys of a JWKS, PEM document or secret are used, and which are skipped."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, rsa, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc.jwk import OctKey
from support import (
    RSA_KID,
    b64url,
    claims,
    ec_key,
    header,
    jwks,
    make_issuer,
    make_verifier,
    mint,
    okp_key,
    public_jwk,
    rsa_key,
    self_signed_certificate,
    short_rsa_jwk,
    signed,
)

from jwks_middleware import UnknownKeyError
from jwks_middleware._jwk import (
    KeyRejectedError,
    import_jwk,
    import_key_set,
    import_pem,
)

pytestmark = pytest.mark.anyio

#: The JWKS Auth0 published for its "customer-demos" tenant, as served.
AUTH0_SAMPLE = Path(__file__).parent / "fixtures" / "providers" / "auth0-sample-jwks.json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def rsa_jwk(**members: Any) -> dict[str, Any]:
    return public_jwk(rsa_key(), kid=RSA_KID, **members)


def reasons(document: object, max_keys: int = 100) -> list[str]:
    return [skipped.reason for skipped in import_key_set(document, max_keys=max_keys).skipped]


# -- use and key_ops (RFC 7517 sections 4.2, 4.3) --------------------------------------


@pytest.mark.parametrize(
    "members",
    [
        pytest.param({}, id="no use"),
        pytest.param({"use": "sig"}, id="use sig"),
        pytest.param({"key_ops": ["verify"]}, id="key_ops verify"),
        pytest.param({"key_ops": ["sign", "verify"]}, id="key_ops sign and verify"),
    ],
)
def test_signature_keys_are_imported(members: dict[str, Any]) -> None:
    imported = import_key_set(jwks(rsa_jwk(**members)), max_keys=100)
    assert [key.kid for key in imported.keys] == [RSA_KID]
    assert imported.skipped == ()


@pytest.mark.parametrize(
    ("members", "reason"),
    [
        pytest.param({"use": "enc"}, "not 'sig'", id="use enc"),
        pytest.param({"use": ["sig"]}, "not 'sig'", id="use array"),
        pytest.param({"key_ops": ["encrypt"]}, "verify", id="key_ops encrypt"),
        pytest.param({"key_ops": ["sign"]}, "verify", id="key_ops sign"),
        pytest.param({"key_ops": "verify"}, "verify", id="key_ops string"),
    ],
)
def test_keys_not_meant_for_verifying_signatures_are_skipped(members: dict[str, Any], reason: str) -> None:
    imported = import_key_set(jwks(rsa_jwk(**members)), max_keys=100)
    assert imported.keys == ()
    assert imported.skipped[0].kid == RSA_KID
    assert reason in imported.skipped[0].reason


async def test_encryption_key_cannot_verify_tokens() -> None:
    issuer = make_issuer(jwks=jwks(rsa_jwk(use="enc"), public_jwk(ec_key(), kid="ec-1")))
    with pytest.raises(UnknownKeyError):
        await make_verifier(issuer).verify(mint())


# -- key strength and material ---------------------------------------------------------


def test_rsa_key_shorter_than_2048_bits_is_skipped() -> None:
    imported = import_key_set(jwks(short_rsa_jwk(1024, kid="short"), rsa_jwk()), max_keys=100)
    assert [key.kid for key in imported.keys] == [RSA_KID]
    assert imported.keys[0].size == 2048
    assert imported.skipped[0].kid == "short"
    assert "1024 bits" in imported.skipped[0].reason


@pytest.mark.parametrize("key", [rsa_key(), ec_key(), okp_key()], ids=["RSA", "EC", "OKP"])
def test_private_members_are_ignored(key: Any) -> None:
    imported = import_jwk({**key.as_dict(private=True), "kid": "k"})
    assert not imported.key.is_private
    assert imported.key.as_dict(private=False) == key.as_dict(private=False)


async def test_jwks_with_private_members_still_verifies_tokens() -> None:
    private = {**rsa_key().as_dict(private=True), "kid": RSA_KID}
    assert await make_verifier(make_issuer(jwks=jwks(private))).verify(mint())


def test_one_bad_key_does_not_spoil_the_set() -> None:
    document = jwks(
        {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
        {"kty": "RSA", "kid": "bad-n", "n": "not base64url!", "e": "AQAB"},
        {"kty": "EC", "kid": "off-curve", "crv": "P-256", "x": b64url(b"\1" * 32), "y": b64url(b"\2" * 32)},
        {"kty": "EC", "kid": "no-curve", "x": "AA", "y": "AA"},
        {"kty": "OKP", "kid": "exchange", "crv": "X25519", "x": b64url(b"\0" * 32)},
        {"kty": "EC", "kid": "weak-curve", "crv": "P-192", "x": "AA", "y": "AA"},
        {"kty": "XYZ", "kid": "unknown-type"},
        {"kid": "no-type"},
        {"kty": "RSA", "kid": 7, "n": "AA", "e": "AQAB"},
        rsa_jwk(alg="RS256"),
    )
    document["keys"][3:3] = ["a string", None, 42]
    imported = import_key_set(document, max_keys=100)
    assert [key.kid for key in imported.keys] == [RSA_KID]
    assert len(imported.skipped) == len(document["keys"]) - 1
    assert all(skipped.reason for skipped in imported.skipped)


async def test_a_set_with_bad_keys_still_verifies_with_its_good_key() -> None:
    document = jwks({"kty": "RSA", "kid": "broken"}, {"kty": "oct", "k": "c2VjcmV0"}, rsa_jwk())
    assert await make_verifier(make_issuer(jwks=document)).verify(mint())


@pytest.mark.parametrize(
    ("jwk", "reason"),
    [
        pytest.param({"kty": "oct", "kid": "s", "k": b64url(b"s" * 32)}, "symmetric", id="oct"),
        pytest.param({"kty": "OKP", "crv": "X25519", "x": b64url(b"\0" * 32)}, "signing curve", id="X25519"),
        pytest.param({"kty": "RSA", "n": "AA", "e": "AQAB", "kid": ["k"]}, "'kid'", id="kid array"),
        pytest.param({"kty": None}, "unsupported key type", id="kty null"),
        pytest.param({"kty": "RSA", "e": "AQAB"}, "'n'", id="no modulus"),
        pytest.param({"kty": "RSA", "n": 5, "e": "AQAB"}, "'n'", id="modulus number"),
        pytest.param({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "invalid", id="EC garbage"),
    ],
)
def test_unusable_key_is_rejected_with_a_reason(jwk: dict[str, Any], reason: str) -> None:
    with pytest.raises(KeyRejectedError, match=reason):
        import_jwk(jwk)


def test_oct_keys_in_a_jwks_are_refused() -> None:
    oct_jwk = {**OctKey.generate_key(256).as_dict(private=True), "kid": "hmac"}
    assert "symmetric keys are never accepted" in reasons(jwks(oct_jwk))[0]
    with pytest.raises(ValueError, match="no usable signing key"):
        make_issuer(jwks=jwks(oct_jwk))


def test_non_mapping_key_is_rejected() -> None:
    with pytest.raises(KeyRejectedError, match="JSON object"):
        import_jwk(["kty", "RSA"])  # type: ignore[arg-type]


@pytest.mark.parametrize("document", [{}, {"keys": {}}, [], "keys", None])
def test_document_that_is_not_a_jwks_is_refused(document: object) -> None:
    with pytest.raises(ValueError, match="not a JWKS"):
        import_key_set(document, max_keys=100)


# -- a key's own alg (RFC 7517 section 4.4) --------------------------------------------


def test_key_alg_binds_the_key_to_that_algorithm() -> None:
    assert import_jwk(rsa_jwk(alg="PS256")).algorithms == {"PS256"}


def test_key_without_alg_fits_every_algorithm_of_its_type() -> None:
    assert import_jwk(rsa_jwk()).algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert import_jwk(public_jwk(ec_key("P-384"))).algorithms == {"ES384"}
    assert import_jwk(public_jwk(okp_key("Ed25519"))).algorithms == {"EdDSA", "Ed25519"}


@pytest.mark.parametrize("alg", ["ES256", "HS256", "none", "RSA-OAEP", 256])
def test_key_alg_that_does_not_fit_its_type_is_rejected(alg: object) -> None:
    with pytest.raises(KeyRejectedError, match="not a signature algorithm"):
        import_jwk(rsa_jwk(alg=alg))


# -- x5c (RFC 7517 section 4.7) --------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "alg"), [(rsa_key(), "RS256"), (ec_key("P-256"), "ES256")], ids=["RSA", "EC"]
)
async def test_x5c_only_key_verifies_tokens(key: Any, alg: str) -> None:
    kty = key.as_dict()["kty"]
    x5c_only = {"kty": kty, "kid": "cert", "x5c": [self_signed_certificate(key)]}
    imported = import_jwk(x5c_only)
    assert imported.certificate_expires is not None
    assert imported.thumbprint == key.thumbprint()
    verifier = make_verifier(make_issuer(jwks=jwks(x5c_only)))
    assert await verifier.verify(signed(header(alg, "cert"), claims(), key))


def test_x5c_that_agrees_with_n_and_e_is_accepted() -> None:
    jwk = rsa_jwk(x5c=[self_signed_certificate(rsa_key())])
    assert import_jwk(jwk).thumbprint == rsa_key().thumbprint()


def test_x5c_disagreeing_with_n_and_e_is_skipped() -> None:
    jwk = rsa_jwk(x5c=[self_signed_certificate(rsa_key(1))])
    assert "'n' does not match the x5c certificate" in reasons(jwks(jwk))[0]


async def test_x5c_disagreeing_key_cannot_verify_tokens_of_either_key() -> None:
    jwk = rsa_jwk(x5c=[self_signed_certificate(rsa_key(1))])
    verifier = make_verifier(make_issuer(jwks=jwks(jwk, public_jwk(ec_key(), kid="ec"))))
    for key in (rsa_key(), rsa_key(1)):
        with pytest.raises(UnknownKeyError):
            await verifier.verify(mint(key))


@pytest.mark.parametrize(
    "x5c",
    [
        pytest.param([], id="empty"),
        pytest.param("MIIB", id="not an array"),
        pytest.param([1], id="number"),
        pytest.param(["not base64!"], id="not base64"),
        pytest.param([base64.b64encode(b"not a certificate").decode()], id="not a certificate"),
    ],
)
def test_x5c_without_a_certificate_is_rejected(x5c: object) -> None:
    with pytest.raises(KeyRejectedError, match="x5c"):
        import_jwk({"kty": "RSA", "x5c": x5c})


def test_x5c_holding_another_key_type_is_rejected() -> None:
    with pytest.raises(KeyRejectedError, match="another key type"):
        import_jwk({"kty": "RSA", "x5c": [self_signed_certificate(ec_key())]})


def test_auth0_sample_jwks_parses_and_its_x5c_agrees_with_n_and_e() -> None:
    document = json.loads(AUTH0_SAMPLE.read_text())
    imported = import_key_set(document, max_keys=100)
    assert imported.skipped == ()
    assert [key.kid for key in imported.keys] == [jwk["kid"] for jwk in document["keys"]]
    for jwk, key in zip(document["keys"], imported.keys, strict=True):
        assert key.algorithms == {"RS256"}
        assert key.size is not None
        assert key.size >= 2048
        assert key.certificate_expires is not None
        from_certificate = import_jwk({"kty": "RSA", "x5c": jwk["x5c"]})
        from_numbers = import_jwk({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
        assert key.thumbprint == from_certificate.thumbprint == from_numbers.thumbprint


# -- how many keys ---------------------------------------------------------------------


def test_keys_beyond_max_keys_are_skipped() -> None:
    document = jwks(*(public_jwk(ec_key(index=index), kid=f"ec-{index}") for index in range(3)))
    imported = import_key_set(document, max_keys=2)
    assert [key.kid for key in imported.keys] == ["ec-0", "ec-1"]
    assert [(skipped.kid, skipped.reason) for skipped in imported.skipped] == [
        ("ec-2", "more than 2 keys in the set")
    ]


async def test_token_signed_by_a_key_beyond_max_keys_is_refused() -> None:
    document = jwks(rsa_jwk(), public_jwk(rsa_key(1), kid="second"))
    verifier = make_verifier(make_issuer(jwks=document, max_keys=1))
    assert await verifier.verify(mint())
    with pytest.raises(UnknownKeyError):
        await verifier.verify(mint(rsa_key(1), kid="second"))


# -- PEM and secrets -------------------------------------------------------------------


def _pem_body(pem: bytes) -> str:
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize(
    "pem",
    [
        pytest.param(rsa_key().as_pem(private=False), id="PEM bytes"),
        pytest.param(rsa_key().as_pem(private=False).decode(), id="PEM text"),
        pytest.param(rsa_key().as_pem(private=False).decode().replace("\n", "\\n"), id="escaped newlines"),
        pytest.param(_pem_body(rsa_key().as_pem(private=False)), id="no BEGIN/END lines (Clerk)"),
        pytest.param(f"  {_pem_body(rsa_key().as_pem(private=False))}\n", id="no BEGIN/END, spaces"),
    ],
)
async def test_pem_public_key_verifies_tokens(pem: str | bytes) -> None:
    verifier = make_verifier(make_issuer(public_key=pem))
    assert await verifier.verify(mint(kid=None))


def test_pem_certificate_is_accepted() -> None:
    der = base64.b64decode(self_signed_certificate(ec_key()))
    body = base64.encodebytes(der).decode()
    pem = f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"
    assert import_pem(pem).thumbprint == ec_key().thumbprint()


@pytest.mark.parametrize("key", [ec_key("P-521"), okp_key("Ed448")], ids=["EC", "OKP"])
def test_pem_of_every_key_type_is_accepted(key: Any) -> None:
    imported = import_pem(key.as_pem(private=False), kid="pem")
    assert imported.kid == "pem"
    assert imported.thumbprint == key.thumbprint()


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        pytest.param(rsa_key().as_pem(private=True), "not a private key", id="private key"),
        pytest.param("not a key at all", "not a PEM public key", id="garbage"),
        pytest.param(
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            "unsupported public key type",
            id="X25519",
        ),
        pytest.param(
            dsa.generate_private_key(2048)
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            "unsupported public key type",
            id="DSA",
        ),
    ],
)
def test_pem_that_is_not_a_public_signing_key_is_refused(pem: str | bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        import_pem(pem)


def test_short_rsa_pem_is_refused() -> None:
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused on purpose
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="shorter than 2048"):
        make_issuer(public_key=pem)


def test_x5c_of_a_short_rsa_key_is_skipped() -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - refused on purpose
    certificate = self_signed_certificate(short)
    imported = import_key_set(
        jwks({"kty": "RSA", "kid": "short", "x5c": [certificate]}, rsa_jwk()), max_keys=9
    )
    assert [key.kid for key in imported.keys] == [RSA_KID]
    assert "shorter than 2048" in imported.skipped[0].reason


def test_key_repr_shows_no_key_material() -> None:
    key = import_jwk(rsa_jwk(alg="RS256"))
    assert repr(key) == f"VerificationKey(kid={RSA_KID!r}, kty='RSA', algorithms=['RS256'])"
