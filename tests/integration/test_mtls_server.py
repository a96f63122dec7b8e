"""Certificate-bound tokens over real mutual TLS (RFC 8705 section 3).

uvicorn serves on 127.0.0.1 with certificates from a test CA and verifies client certificates;
`jwks_middleware.uvicorn`'s protocols hand the verified certificate to the app in the ASGI TLS
extension. The app verifies the token (keys from the local issuer server) and checks that its
`cnf` names the certificate of the connection.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from integration_support import VerifierFactory
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from jwks_middleware import JWKSMiddleware, TokenVerifier
from jwks_middleware._mtls import CertificateSource
from jwks_middleware.testing import LocalIssuer
from jwks_middleware.testing._mtls import TestCertificate, TestCertificateAuthority, certificate_bound_claims
from jwks_middleware.uvicorn import HTTPProtocol, WebSocketProtocol

pytestmark = pytest.mark.anyio

#: The TLS 1.3 cipher suites (RFC 8446 appendix B.4) OpenSSL offers by default.
TLS13_CIPHER_SUITES = {0x1301, 0x1302, 0x1303}


@dataclass(frozen=True)
class PKI:
    ca: TestCertificateAuthority
    alice: TestCertificate
    mallory: TestCertificate
    ca_file: Path
    server_files: tuple[Path, Path]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A test CA, a server certificate for 127.0.0.1 (on disk, for uvicorn) and two clients."""
    ca = TestCertificateAuthority()
    directory = tmp_path_factory.mktemp("pki")
    ca_file, _ = ca.certificate.write(directory, "ca")
    server_files = ca.issue_server_certificate("127.0.0.1").write(directory, "server")
    return PKI(
        ca,
        ca.issue_client_certificate("alice"),
        ca.issue_client_certificate("mallory"),
        ca_file,
        server_files,
    )


def protected_app(verifier: TokenVerifier, source: CertificateSource | None = None) -> ASGIApp:
    """An API behind `JWKSMiddleware` that checks certificate-bound tokens against the request's
    client certificate (taken from the TLS extension unless another `source` is given)."""

    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.state.claims.subject})

    async def websocket_whoami(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.state.claims.subject)
        await websocket.close()

    return Starlette(
        routes=[Route("/items", whoami), WebSocketRoute("/ws", websocket_whoami)],
        middleware=[
            Middleware(JWKSMiddleware, verifier=verifier, client_certificate=source or CertificateSource())
        ],
    )


async def tls_extension_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that answers with the request's ASGI TLS extension (null when absent)."""
    await JSONResponse((scope.get("extensions") or {}).get("tls"))(scope, receive, send)


@asynccontextmanager
async def serving(
    app: ASGIApp,
    pki: PKI,
    *,
    cert_reqs: ssl.VerifyMode = ssl.CERT_REQUIRED,
    tls: bool = True,
    http: Any = HTTPProtocol,
) -> AsyncIterator[str]:
    """Run uvicorn on 127.0.0.1 for the block; yield its base URL."""
    assert WebSocketProtocol is not None  # websockets is a test dependency
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    options: dict[str, Any] = {}
    if tls:
        cert_file, key_file = pki.server_files
        options = {
            "ssl_certfile": str(cert_file),
            "ssl_keyfile": str(key_file),
            "ssl_ca_certs": str(pki.ca_file),
            "ssl_cert_reqs": cert_reqs,
        }
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", http=http, ws=WebSocketProtocol, **options
    )
    server = uvicorn.Server(config)
    with listener:
        task = asyncio.create_task(server.serve(sockets=[listener]))
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers only a flag
            await asyncio.sleep(0.01)
        try:
            yield f"{'https' if tls else 'http'}://127.0.0.1:{listener.getsockname()[1]}"
        finally:
            server.should_exit = True
            await task


@pytest.fixture
def protected_api(
    pki: PKI, started_verifier: VerifierFactory
) -> Callable[..., AbstractAsyncContextManager[str]]:
    """``async with protected_api(source=..., **serving_options) as url``: `protected_app`
    trusting the local issuer, served by uvicorn."""

    @asynccontextmanager
    async def factory(source: CertificateSource | None = None, **options: Any) -> AsyncIterator[str]:
        async with (
            started_verifier(certificate_bound="required") as verifier,
            serving(protected_app(verifier, source), pki, **options) as url,
        ):
            yield url

    return factory


def client(pki: PKI, certificate: TestCertificate | None, url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, verify=pki.ca.client_ssl_context(certificate), timeout=5.0)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wss(url: str) -> str:
    return url.replace("https", "wss", 1) + "/ws"


def client_cert_header(certificate: TestCertificate) -> str:
    """RFC 9440 `Client-Cert`: the DER certificate as a structured-field byte sequence."""
    return ":" + base64.b64encode(certificate.der).decode() + ":"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["error"] == "invalid_token"


# -- over HTTPS --------------------------------------------------------------------------------

API = Callable[..., AbstractAsyncContextManager[str]]


async def test_token_bound_to_the_client_certificate_is_accepted(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    token = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    async with protected_api() as url, client(pki, pki.alice, url) as alice:
        # Two requests on one keep-alive connection: each carries the certificate.
        for _ in range(2):
            response = await alice.get("/items", headers=bearer(token))
            assert (response.status_code, response.json()) == (200, {"sub": "alice"})


async def test_token_presented_with_another_client_certificate_is_refused(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    stolen = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    async with protected_api() as url, client(pki, pki.mallory, url) as mallory:
        assert_refused(await mallory.get("/items", headers=bearer(stolen)))


async def test_token_presented_without_a_client_certificate_is_refused(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    stolen = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    async with protected_api(cert_reqs=ssl.CERT_OPTIONAL) as url, client(pki, None, url) as anonymous:
        assert_refused(await anonymous.get("/items", headers=bearer(stolen)))


async def test_unbound_token_is_refused_where_binding_is_required(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    async with protected_api() as url, client(pki, pki.alice, url) as alice:
        assert_refused(await alice.get("/items", headers=bearer(issuer.issue(sub="alice"))))


async def test_plain_uvicorn_gives_the_app_no_certificate(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    # uvicorn verifies the certificate but keeps it from the app: bound tokens fail closed.
    token = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    async with protected_api(http="auto") as url, client(pki, pki.alice, url) as alice:
        assert_refused(await alice.get("/items", headers=bearer(token)))


async def test_tls_extension_describes_the_verified_client_certificate(pki: PKI) -> None:
    protocol = "jwks_middleware.uvicorn:HTTPProtocol"  # as given to uvicorn's --http option
    async with serving(tls_extension_echo, pki, http=protocol) as url, client(pki, pki.alice, url) as alice:
        tls = (await alice.get("/")).json()
    (pem,) = tls["client_cert_chain"]
    assert ssl.PEM_cert_to_DER_cert(pem) == pki.alice.der
    assert tls["client_cert_name"] == "CN=alice"
    assert tls["client_cert_error"] is None
    assert tls["server_cert"] is None
    assert tls["tls_version"] == 0x0304
    assert tls["cipher_suite"] in TLS13_CIPHER_SUITES


async def test_tls_extension_without_a_client_certificate_has_an_empty_chain(pki: PKI) -> None:
    async with (
        serving(tls_extension_echo, pki, cert_reqs=ssl.CERT_OPTIONAL) as url,
        client(pki, None, url) as anonymous,
    ):
        tls = (await anonymous.get("/")).json()
    assert (tls["client_cert_chain"], tls["client_cert_name"]) == ([], None)


async def test_plain_http_connection_gets_no_tls_extension(pki: PKI) -> None:
    # ASGI TLS extension: a server must not provide it for a connection without TLS.
    async with serving(tls_extension_echo, pki, tls=False) as url, httpx.AsyncClient(base_url=url) as plain:
        assert (await plain.get("/")).json() is None


# -- over WSS ----------------------------------------------------------------------------------


async def test_websocket_with_a_bound_token_and_its_certificate_is_accepted(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    token = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    context = pki.ca.client_ssl_context(pki.alice)
    async with (
        protected_api() as url,
        connect(wss(url), ssl=context, additional_headers=bearer(token)) as websocket,
    ):
        assert await websocket.recv() == "alice"


async def test_websocket_with_another_certificate_is_denied_at_the_handshake(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    stolen = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    context = pki.ca.client_ssl_context(pki.mallory)
    async with protected_api() as url:
        with pytest.raises(InvalidStatus) as denied:
            await connect(wss(url), ssl=context, additional_headers=bearer(stolen))
    assert denied.value.response.status_code == 401


# -- behind a TLS-terminating proxy ------------------------------------------------------------


async def test_client_cert_header_is_ignored_unless_configured(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    # Mallory connects without a certificate and claims Alice's in a header.
    stolen = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    forged = {**bearer(stolen), "Client-Cert": client_cert_header(pki.alice)}
    async with protected_api(cert_reqs=ssl.CERT_OPTIONAL) as url, client(pki, None, url) as mallory:
        assert_refused(await mallory.get("/items", headers=forged))


async def test_client_cert_header_of_a_trusted_proxy_is_used_when_configured(
    pki: PKI, issuer: LocalIssuer, protected_api: API
) -> None:
    # The test plays the proxy: it terminated the client's TLS and forwards its certificate.
    token = issuer.issue(sub="alice", **certificate_bound_claims(pki.alice))
    source = CertificateSource(header="Client-Cert")
    async with protected_api(source, tls=False) as url, httpx.AsyncClient(base_url=url) as proxy:
        response = await proxy.get(
            "/items", headers={**bearer(token), "Client-Cert": client_cert_header(pki.alice)}
        )
        assert (response.status_code, response.json()) == (200, {"sub": "alice"})
        other = {**bearer(token), "Client-Cert": client_cert_header(pki.mallory)}
        assert_refused(await proxy.get("/items", headers=other))
