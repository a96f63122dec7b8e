"""An MCP server over Streamable HTTP, protected by jwks-middleware, with RFC 9728 metadata.

It uses the official MCP Python SDK (``pip install "jwks-middleware[mcp]" uvicorn``). Run it
against any OAuth authorization server that puts the resource into `aud` (or the local issuer
of `jwks-middleware demo`)::

    MCP_RESOURCE=http://127.0.0.1:8000/mcp JWKS_ISSUER=https://auth.example.com/ \
        uvicorn examples.mcp_server:app --port 8000

Settings (environment):
    MCP_RESOURCE   the server's URL as clients call it: its RFC 9728 resource identifier, the
                   audience of its tokens, its Streamable HTTP path and its public host
                   (default: http://127.0.0.1:8000/mcp)
    JWKS_ISSUER    the authorization server: the tokens' exact `iss` (default: a local issuer,
                   http://127.0.0.1:9000)

Every request needs a token with the scope notes:read. Tools:
    whoami          who the token was issued to (subject, client, scopes)
    list_notes      the notes
    add_note(text)  also needs notes:write

GET /.well-known/oauth-protected-resource/mcp answers the metadata MCP clients read first.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp

from jwks_middleware import Issuer
from jwks_middleware.mcp import JWKSTokenVerifier, ResourceMetadata

LOCAL_RESOURCE = "http://127.0.0.1:8000/mcp"
LOCAL_ISSUER = "http://127.0.0.1:9000"

NOTES: list[str] = ["Buy plums"]


def create_app(resource: str, issuer: str) -> ASGIApp:
    """The MCP server's ASGI app, for tokens from `issuer` issued for `resource`."""
    metadata = ResourceMetadata(
        resource,
        authorization_servers=[issuer],
        scopes_supported=["notes:read", "notes:write"],
        resource_name="Notes",
    )
    verifier = JWKSTokenVerifier([Issuer(issuer, audience=resource)], metadata=metadata)
    server = MCPServer("Notes", token_verifier=verifier, auth=verifier.auth_settings(["notes:read"]))

    @server.tool()
    def whoami() -> dict[str, Any]:
        """Who the access token was issued to."""
        token = get_access_token()
        assert token is not None  # noqa: S101 - the server refuses requests without one
        return {"subject": token.subject, "client_id": token.client_id, "scopes": token.scopes}

    @server.tool()
    def list_notes() -> list[str]:
        """Every note."""
        return list(NOTES)

    @server.tool()
    def add_note(text: str) -> str:
        """Add a note (scope notes:write)."""
        token = get_access_token()
        if token is None or "notes:write" not in token.scopes:
            raise ToolError("adding a note needs the scope notes:write")
        NOTES.append(text[:200])
        return "added"

    parts = urlsplit(resource)
    mcp_app = server.streamable_http_app(
        streamable_http_path=parts.path or "/",
        # DNS rebinding protection (the MCP transport spec): only the public host and origin.
        transport_security=TransportSecuritySettings(
            allowed_hosts=[parts.netloc], allowed_origins=[f"{parts.scheme}://{parts.netloc}"]
        ),
    )
    return verifier.wrap(mcp_app)  # keys loaded at start-up; the RFC 9728 document served


app = create_app(os.environ.get("MCP_RESOURCE", LOCAL_RESOURCE), os.environ.get("JWKS_ISSUER", LOCAL_ISSUER))
