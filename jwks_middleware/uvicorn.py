"""uvicorn protocols that give the app the ASGI TLS extension: the verified client certificate.

uvicorn verifies client certificates (``ssl_cert_reqs``, ``ssl_ca_certs``) but does not put
them in the ASGI scope, so certificate-bound tokens (RFC 8705) cannot be checked behind it.
These protocols add ``scope["extensions"]["tls"]`` to every request and WebSocket of a TLS
connection, as the ASGI TLS extension specifies::

    import ssl, uvicorn
    from jwks_middleware.uvicorn import HTTPProtocol, WebSocketProtocol

    uvicorn.run(
        app,
        ssl_certfile="server.pem", ssl_keyfile="server.key",
        ssl_ca_certs="clients-ca.pem", ssl_cert_reqs=ssl.CERT_REQUIRED,  # or CERT_OPTIONAL
        http=HTTPProtocol, ws=WebSocketProtocol,
    )

or ``uvicorn app:app ... --http jwks_middleware.uvicorn:HTTPProtocol --ws
jwks_middleware.uvicorn:WebSocketProtocol``. `with_tls_extension` wraps any other uvicorn
protocol class (``h11_impl.H11Protocol``, ``httptools_impl.HttpToolsProtocol``, ...).

The extension carries the client certificate (``client_cert_chain``: the client's own
certificate; the rest of the chain is not exposed by Python's `ssl` before 3.13), its subject
(``client_cert_name``), ``tls_version`` and ``cipher_suite``; ``server_cert`` is None.
Only certificates the server verified reach the app: Python's `ssl` ends the handshake when
verification fails, so ``client_cert_error`` is always None. Plain HTTP connections get no
extension. Should a future uvicorn stop using the protocol's ``app`` attribute, requests
simply arrive without the extension, and certificate-bound tokens are refused, never
accepted unchecked.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Final, TypeVar, cast

from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

__all__ = ["HTTPProtocol", "WebSocketProtocol", "with_tls_extension"]

_Protocol = TypeVar("_Protocol", bound=asyncio.Protocol)

# ASGI TLS extension: `tls_version` is the version number of the TLS specifications.
_TLS_VERSIONS: Final = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def with_tls_extension(base: type[_Protocol]) -> type[_Protocol]:
    """A subclass of a uvicorn HTTP or WebSocket protocol class whose requests carry the ASGI
    TLS extension on TLS connections."""

    def connection_made(self: Any, transport: asyncio.BaseTransport) -> None:
        base.connection_made(self, transport)
        # Read once per connection: the handshake fixed the client certificate (TLS 1.3 has
        # no renegotiation, and OpenSSL 3 refuses one started by the client).
        ssl_object = transport.get_extra_info("ssl_object")
        if isinstance(ssl_object, ssl.SSLObject):
            self.app = _TLSExtensionApp(self.app, _tls_extension(ssl_object))

    name = f"TLS{base.__name__}"
    members = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"uvicorn's `{base.__name__}`, adding the ASGI TLS extension to the scope.",
        "connection_made": connection_made,
    }
    return cast("type[_Protocol]", type(name, (base,), members))


#: uvicorn's default HTTP protocol (httptools when installed, else h11), with the TLS extension.
HTTPProtocol: Final = with_tls_extension(AutoHTTPProtocol)
#: uvicorn's default WebSocket protocol, with the TLS extension; None, as in uvicorn, when
#: no WebSocket library is installed.
WebSocketProtocol: Final[type[asyncio.Protocol] | None] = (
    with_tls_extension(AutoWebSocketsProtocol) if isinstance(AutoWebSocketsProtocol, type) else None
)


class _TLSExtensionApp:
    """The app of one TLS connection: each of its scopes gets the connection's TLS extension."""

    __slots__ = ("app", "extension")

    def __init__(self, app: ASGIApp, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A copy for each request, so that no app changes what the next one sees.
        tls = {**self.extension, "client_cert_chain": list(self.extension["client_cert_chain"])}
        # A server that fills the extension itself knows better: its own value wins.
        scope["extensions"] = {"tls": tls, **(scope.get("extensions") or {})}
        await self.app(scope, receive, send)


def _tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,  # Python's ssl does not give the server's own certificate back
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": _cipher_suite(ssl_object.context, cipher[0]) if cipher else None,
    }


def _cipher_suite(context: ssl.SSLContext, name: str) -> int | None:
    # OpenSSL's cipher id ends with the two-byte IANA number that the extension asks for.
    return next((int(item["id"]) & 0xFFFF for item in context.get_ciphers() if item["name"] == name), None)
