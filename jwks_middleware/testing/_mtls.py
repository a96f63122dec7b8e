"""A certificate authority for tests of certificate-bound tokens (RFC 8705 section 3).

It makes a CA, a server certificate for loopback addresses and client certificates, all
EC P-256 and held in memory; `write` puts one on disk where a server needs files.
`certificate_bound_claims` gives the `cnf` claim that binds a token to a client certificate::

    ca = TestCertificateAuthority()
    alice = ca.issue_client_certificate("alice")
    token = local_issuer.issue(**certificate_bound_claims(alice))   # cnf: {"x5t#S256": ...}
    httpx.get(url, verify=ca.client_ssl_context(alice), headers={"Authorization": f"Bearer {token}"})

Test use only: the keys are unprotected and the certificates valid for one day.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .._mtls import certificate_thumbprint

__all__ = ["TestCertificate", "TestCertificateAuthority", "certificate_bound_claims", "x5t_s256"]

#: How long an issued certificate is valid, from a little before it was made.
CERTIFICATE_LIFETIME: Final = datetime.timedelta(days=1)
# Backdated, so that a peer whose clock is slightly behind accepts the certificate.
_BACKDATE: Final = datetime.timedelta(minutes=5)


@dataclass(frozen=True)
class TestCertificate:
    """A certificate and its private key."""

    __test__ = False  # not a pytest test class, despite the name

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def der(self) -> bytes:
        """The certificate, DER-encoded (what the TLS handshake carries)."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        """The certificate, PEM-encoded."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def key_pem(self) -> str:
        """The private key, unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")

    def write(self, directory: str | Path, name: str) -> tuple[Path, Path]:
        """Write ``<name>.pem`` (certificate) and ``<name>.key`` into `directory`; return both paths."""
        cert_path, key_path = Path(directory, f"{name}.pem"), Path(directory, f"{name}.key")
        cert_path.write_text(self.pem)
        key_path.write_text(self.key_pem)
        return cert_path, key_path


class TestCertificateAuthority:
    """A CA that issues server and client certificates for mutual-TLS tests."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, name: str = "jwks-middleware test CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name)
        builder = _builder(subject, subject, self._key.public_key())
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        self.certificate = TestCertificate(builder.sign(self._key, hashes.SHA256()), self._key)

    def __repr__(self) -> str:
        return f"TestCertificateAuthority({self.certificate.certificate.subject.rfc4514_string()!r})"

    def issue_server_certificate(self, *hosts: str) -> TestCertificate:
        """A server certificate for these host names or IP addresses (default: loopback)."""
        names: list[x509.GeneralName] = []
        for host in hosts or ("127.0.0.1", "::1", "localhost"):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        return self._issue(
            hosts[0] if hosts else "localhost",
            x509.SubjectAlternativeName(names),
            ExtendedKeyUsageOID.SERVER_AUTH,
        )

    def issue_client_certificate(self, name: str = "client") -> TestCertificate:
        """A client certificate whose subject is ``CN=<name>``."""
        return self._issue(name, None, ExtendedKeyUsageOID.CLIENT_AUTH)

    def client_ssl_context(self, certificate: TestCertificate | None = None) -> ssl.SSLContext:
        """A client `SSLContext` that trusts this CA and presents `certificate` (None: no
        certificate), for ``httpx.Client(verify=...)`` or a WebSocket client."""
        context = ssl.create_default_context(cadata=self.certificate.pem)
        if certificate is not None:
            # The ssl module loads a certificate and key only from files.
            with tempfile.TemporaryDirectory() as directory:
                context.load_cert_chain(*certificate.write(directory, "client"))
        return context

    def _issue(
        self, common_name: str, names: x509.SubjectAlternativeName | None, usage: x509.ObjectIdentifier
    ) -> TestCertificate:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = _builder(_name(common_name), self.certificate.certificate.subject, key.public_key())
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
        )
        if names is not None:
            builder = builder.add_extension(names, critical=False)
        return TestCertificate(builder.sign(self._key, hashes.SHA256()), key)


def x5t_s256(certificate: TestCertificate | x509.Certificate) -> str:
    """The RFC 8705 `x5t#S256` thumbprint of a certificate (base64url SHA-256 of its DER)."""
    if isinstance(certificate, TestCertificate):
        return certificate_thumbprint(certificate.der)
    return certificate_thumbprint(certificate.public_bytes(serialization.Encoding.DER))


def certificate_bound_claims(certificate: TestCertificate | x509.Certificate) -> dict[str, Any]:
    """The claims binding a token to a certificate (RFC 8705 section 3.1), for
    ``LocalIssuer.issue(**certificate_bound_claims(certificate))``: ``{"cnf": {"x5t#S256": ...}}``."""
    return {"cnf": {"x5t#S256": x5t_s256(certificate)}}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CERTIFICATE_LIFETIME)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
