"""Certificate-bound tokens (RFC 8705 section 3): where the client certificate comes from, its
thumbprint, and the check of the token's `cnf` claim, on ASGI scopes built by hand.

The same checks over a real mutual-TLS server are in tests/integration/test_mtls_server.py.
"""

from __future__ import annotations

import base64
import functools
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes

from jwks_middleware import InvalidTokenError
from jwks_middleware._errors import CertificateBindingError
from jwks_middleware._mtls import (
    CertificateSource,
    certificate_thumbprint,
    check_certificate_binding,
    client_certificate_thumbprint,
)
from jwks_middleware._responses import challenge
from jwks_middleware.testing._mtls import (
    TestCertificate,
    TestCertificateAuthority,
    certificate_bound_claims,
    x5t_s256,
)

TLS = CertificateSource()


@functools.cache
def authority() -> TestCertificateAuthority:
    return TestCertificateAuthority()


@functools.cache
def client(name: str) -> TestCertificate:
    return authority().issue_client_certificate(name)


def alice() -> TestCertificate:
    return client("alice")


def bob() -> TestCertificate:
    return client("bob")


def tls_scope(*chain: str, **extension: Any) -> dict[str, Any]:
    """An HTTP scope of a TLS connection whose client sent these PEM certificates."""
    tls = {
        "server_cert": None,
        "client_cert_chain": list(chain),
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": 0x0304,
        "cipher_suite": 0x1301,
        **extension,
    }
    return {"type": "http", "headers": [], "extensions": {"tls": tls}}


def header_scope(
    *values: str, name: bytes = b"client-cert", tls: TestCertificate | None = None
) -> dict[str, Any]:
    """An HTTP scope carrying these values of one header (and a TLS client certificate)."""
    scope: dict[str, Any] = tls_scope(tls.pem) if tls is not None else {"type": "http"}
    scope["headers"] = [(b"host", b"api.test"), *((name, value.encode("latin-1")) for value in values)]
    return scope


def rfc9440(certificate: TestCertificate) -> str:
    return ":" + base64.b64encode(certificate.der).decode() + ":"


def escaped_pem(certificate: TestCertificate) -> str:
    """As nginx's `$ssl_client_escaped_cert` writes it."""
    return quote(certificate.pem, safe="")


def sha256_hex(certificate: TestCertificate) -> str:
    return certificate.certificate.fingerprint(hashes.SHA256()).hex()


# -- the thumbprint ----------------------------------------------------------------------------


def test_thumbprint_is_the_base64url_sha256_of_the_der_certificate() -> None:
    fingerprint = alice().certificate.fingerprint(hashes.SHA256())  # computed by cryptography
    expected = base64.urlsafe_b64encode(fingerprint).rstrip(b"=").decode()
    assert certificate_thumbprint(alice().der) == expected
    assert x5t_s256(alice()) == x5t_s256(alice().certificate) == expected
    assert len(expected) == 43  # 32 bytes, no padding (RFC 8705 section 3.1)


def test_bound_claims_carry_the_certificate_thumbprint_in_cnf() -> None:
    assert certificate_bound_claims(alice()) == {"cnf": {"x5t#S256": x5t_s256(alice())}}
    assert x5t_s256(alice()) != x5t_s256(bob())


# -- the ASGI TLS extension (default source) -----------------------------------------------------


def test_certificate_comes_from_the_tls_extension_by_default() -> None:
    assert client_certificate_thumbprint(tls_scope(alice().pem), TLS) == x5t_s256(alice())


def test_first_certificate_of_the_chain_is_the_clients() -> None:
    scope = tls_scope(alice().pem, authority().certificate.pem)
    assert client_certificate_thumbprint(scope, TLS) == x5t_s256(alice())


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"type": "http", "headers": []}, id="no-extensions"),
        pytest.param({"type": "http", "headers": [], "extensions": {}}, id="no-tls-extension"),
        pytest.param({"type": "http", "headers": [], "extensions": None}, id="extensions-none"),
        pytest.param(tls_scope(), id="empty-chain"),
        pytest.param(tls_scope(client_cert_chain=None), id="chain-none"),
    ],
)
def test_no_certificate_without_a_client_certificate_in_the_tls_extension(scope: dict[str, Any]) -> None:
    assert client_certificate_thumbprint(scope, TLS) is None


def test_certificate_that_failed_verification_is_not_used() -> None:
    scope = tls_scope(alice().pem, client_cert_error="certificate has expired")
    assert client_certificate_thumbprint(scope, TLS) is None


@pytest.mark.parametrize(
    "pem",
    [
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ],
)
def test_malformed_pem_in_the_tls_extension_is_no_certificate(pem: str) -> None:
    assert client_certificate_thumbprint(tls_scope(pem), TLS) is None


def test_headers_are_ignored_when_the_source_is_the_tls_extension() -> None:
    # A client can send any header; without a configured proxy header it proves nothing.
    forged = header_scope(rfc9440(alice()))
    forged["headers"] += [
        (b"x-ssl-client-cert", escaped_pem(alice()).encode()),
        (b"x-forwarded-client-cert", f"Hash={sha256_hex(alice())}".encode()),
    ]
    assert client_certificate_thumbprint(forged, TLS) is None


# -- a trusted proxy's header ------------------------------------------------------------------


def test_rfc9440_client_cert_header_when_configured() -> None:
    source = CertificateSource(header="Client-Cert")
    assert client_certificate_thumbprint(header_scope(rfc9440(alice())), source) == x5t_s256(alice())


def test_rfc9440_byte_sequence_without_padding_and_with_parameters_is_read() -> None:
    source = CertificateSource(header="Client-Cert")
    unpadded = ":" + base64.b64encode(alice().der).decode().rstrip("=") + ":"
    for value in (unpadded, rfc9440(alice()) + ";x=1", f"  {rfc9440(alice())} "):
        assert client_certificate_thumbprint(header_scope(value), source) == x5t_s256(alice())


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("::", id="empty-bytes"),
        pytest.param(":abc", id="unterminated"),
        pytest.param(":a-b_:", id="base64url-alphabet"),
        pytest.param("YWJj", id="not-a-byte-sequence"),
        pytest.param(":YWJj:garbage", id="trailing-garbage"),
        pytest.param(":Y:", id="bad-length"),
    ],
)
def test_malformed_rfc9440_header_is_no_certificate(value: str) -> None:
    assert client_certificate_thumbprint(header_scope(value), CertificateSource(header="Client-Cert")) is None


def test_nginx_escaped_pem_header_when_configured() -> None:
    source = CertificateSource(header="X-SSL-Client-Cert", format="escaped-pem")
    scope = header_scope(escaped_pem(alice()), name=b"x-ssl-client-cert")
    assert client_certificate_thumbprint(scope, source) == x5t_s256(alice())


def test_empty_nginx_header_is_no_certificate() -> None:
    # nginx's variable is empty when the client sent no certificate (ssl_verify_client optional).
    source = CertificateSource(header="X-SSL-Client-Cert", format="escaped-pem")
    assert client_certificate_thumbprint(header_scope("", name=b"x-ssl-client-cert"), source) is None


def test_envoy_xfcc_hash_when_configured() -> None:
    source = CertificateSource(header="X-Forwarded-Client-Cert", format="xfcc")
    value = f'By=spiffe://api.test;Hash={sha256_hex(alice())};Subject="CN=alice,O=Example";URI='
    scope = header_scope(value, name=b"x-forwarded-client-cert")
    assert client_certificate_thumbprint(scope, source) == x5t_s256(alice())


def test_envoy_xfcc_cert_when_there_is_no_hash() -> None:
    source = CertificateSource(header="X-Forwarded-Client-Cert", format="xfcc")
    value = f'Cert="{escaped_pem(alice())}";Subject="CN=alice, \\"quoted\\""'
    scope = header_scope(value, name=b"x-forwarded-client-cert")
    assert client_certificate_thumbprint(scope, source) == x5t_s256(alice())


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("By=spiffe://api.test", id="neither-hash-nor-cert"),
        pytest.param("Hash=abc", id="short-hash"),
        pytest.param("Cert=garbage", id="bad-cert"),
        pytest.param('Subject="unterminated', id="unterminated-quote"),
        pytest.param("Hash", id="no-value"),
        pytest.param("Hash={a};Hash={a}", id="duplicate-key"),
        # Two elements: a proxy appended its own to one the client sent (APPEND_FORWARD).
        pytest.param("Hash={b},Hash={a}", id="two-elements"),
        pytest.param("Hash={a},", id="trailing-comma"),
    ],
)
def test_unusable_xfcc_header_is_no_certificate(value: str) -> None:
    source = CertificateSource(header="X-Forwarded-Client-Cert", format="xfcc")
    value = value.format(a=sha256_hex(alice()), b=sha256_hex(bob()))
    assert client_certificate_thumbprint(header_scope(value, name=b"x-forwarded-client-cert"), source) is None


def test_header_name_is_matched_case_insensitively() -> None:
    source = CertificateSource(header="CLIENT-CERT")
    assert client_certificate_thumbprint(header_scope(rfc9440(alice())), source) == x5t_s256(alice())


def test_no_header_is_no_certificate() -> None:
    assert client_certificate_thumbprint(header_scope(), CertificateSource(header="Client-Cert")) is None


def test_header_sent_twice_is_no_certificate() -> None:
    # The proxy sets its header once; a second one is a client's copy that got through.
    scope = header_scope(rfc9440(bob()), rfc9440(alice()))
    assert client_certificate_thumbprint(scope, CertificateSource(header="Client-Cert")) is None


def test_tls_extension_is_ignored_when_a_header_is_configured() -> None:
    # Behind a proxy the TLS connection is the proxy's: its certificate is not the client's.
    source = CertificateSource(header="Client-Cert")
    assert client_certificate_thumbprint(header_scope(tls=bob()), source) is None
    assert client_certificate_thumbprint(header_scope(rfc9440(alice()), tls=bob()), source) == x5t_s256(
        alice()
    )


def test_source_configuration_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="field name"):
        CertificateSource(header="Client Cert")
    with pytest.raises(ValueError, match="field name"):
        CertificateSource(header="")
    with pytest.raises(ValueError, match="format must be one of"):
        CertificateSource(header="Client-Cert", format="der")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give the header"):
        CertificateSource(format="xfcc")


def test_sources_compare_and_print_by_their_configuration() -> None:
    assert CertificateSource(header="Client-Cert") == CertificateSource(header="Client-Cert")
    assert repr(CertificateSource()) == "CertificateSource(header=None, format='rfc9440')"


# -- the binding check -------------------------------------------------------------------------


def test_token_bound_to_the_presented_certificate_passes() -> None:
    check_certificate_binding(certificate_bound_claims(alice()), x5t_s256(alice()))


@pytest.mark.parametrize(
    ("claims", "thumbprint", "detail"),
    [
        pytest.param(
            certificate_bound_claims(bob()), x5t_s256(alice()), "does not match", id="another-certificate"
        ),
        pytest.param(certificate_bound_claims(alice()), None, "no client certificate", id="no-certificate"),
        pytest.param({}, x5t_s256(alice()), "no 'cnf'", id="unbound-token"),
        pytest.param({"cnf": {"jkt": "abc"}}, x5t_s256(alice()), "no 'cnf'", id="bound-to-a-dpop-key"),
        pytest.param({"cnf": "x5t#S256"}, x5t_s256(alice()), "no 'cnf'", id="cnf-not-an-object"),
        pytest.param({"cnf": {"x5t#S256": 1}}, x5t_s256(alice()), "no 'cnf'", id="thumbprint-not-a-string"),
        pytest.param({"cnf": {"x5t#S256": "é" * 43}}, x5t_s256(alice()), "does not match", id="non-ascii"),
        pytest.param(
            {"cnf": {"x5t#S256": "\ud800"}}, x5t_s256(alice()), "does not match", id="lone-surrogate"
        ),
        pytest.param(
            {"cnf": {"x5t#S256": x5t_s256(alice()) + "="}}, x5t_s256(alice()), "does not match", id="padded"
        ),
    ],
)
def test_binding_refusals_are_401_invalid_token(
    claims: dict[str, Any], thumbprint: str | None, detail: str
) -> None:
    with pytest.raises(CertificateBindingError, match=detail) as refused:
        check_certificate_binding(claims, thumbprint)
    error = refused.value
    assert isinstance(error, InvalidTokenError)
    assert (error.status_code, error.error, error.reason) == (401, "invalid_token", "certificate_binding")
    assert challenge(error) == (
        'Bearer error="invalid_token", '
        'error_description="The access token is not bound to the client certificate"'
    )


def test_refusal_description_names_no_certificate_or_claim_value() -> None:
    with pytest.raises(CertificateBindingError) as refused:
        check_certificate_binding(certificate_bound_claims(bob()), x5t_s256(alice()))
    for value in (x5t_s256(alice()), x5t_s256(bob())):
        assert value not in refused.value.description
        assert value not in refused.value.detail


# -- the test certificate authority --------------------------------------------------------------


def test_test_certificates_chain_to_their_authority() -> None:
    ca = authority().certificate.certificate
    server = authority().issue_server_certificate("127.0.0.1", "api.test")
    for issued in (server, alice()):
        issued.certificate.verify_directly_issued_by(ca)
    assert alice().certificate.subject.rfc4514_string() == "CN=alice"
    assert repr(authority()) == "TestCertificateAuthority('CN=jwks-middleware test CA')"
    assert "private_key" not in repr(alice())
