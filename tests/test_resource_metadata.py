"""RFC 9728 protected resource metadata: the document, where it lives, how it is served, the
challenge parameter, and docs/resource-metadata.md."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

import jwks_middleware
from jwks_middleware._resource_audience import issuers_for_resource
from jwks_middleware._resource_metadata import (
    ResourceMetadata,
    ResourceMetadataMiddleware,
    challenge_parameter,
    metadata_url,
    well_known_path,
)

RESOURCE = "https://api.example.test/mcp"
SERVER = "https://auth.example.test/"
DOC = Path(__file__).resolve().parent.parent / "docs" / "resource-metadata.md"


def metadata(**options: Any) -> ResourceMetadata:
    return ResourceMetadata(RESOURCE, **{"authorization_servers": [SERVER], **options})


def test_the_document_holds_what_was_configured() -> None:
    configured = metadata(
        scopes_supported=["notes:read", "notes:write"],
        bearer_methods_supported=["header", "query"],
        dpop_signing_alg_values_supported=["ES256", "EdDSA"],
        dpop_bound_access_tokens_required=True,
        tls_client_certificate_bound_access_tokens=True,
        resource_name="Notes",
        resource_documentation="https://docs.example.test/notes",
        resource_policy_uri="https://example.test/policy?lang=en",
        resource_tos_uri="https://example.test/tos",
    )

    assert configured.document() == {
        "resource": RESOURCE,
        "authorization_servers": [SERVER],
        "scopes_supported": ["notes:read", "notes:write"],
        "bearer_methods_supported": ["header", "query"],
        "dpop_signing_alg_values_supported": ["ES256", "EdDSA"],
        "dpop_bound_access_tokens_required": True,
        "tls_client_certificate_bound_access_tokens": True,
        "resource_name": "Notes",
        "resource_documentation": "https://docs.example.test/notes",
        "resource_policy_uri": "https://example.test/policy?lang=en",
        "resource_tos_uri": "https://example.test/tos",
    }


def test_by_default_the_document_says_bearer_tokens_in_the_header_and_nothing_else() -> None:
    assert ResourceMetadata(RESOURCE).document() == {
        "resource": RESOURCE,
        "bearer_methods_supported": ["header"],
    }
    # An empty list is meaningful (RFC 9728 section 2): no bearer token at all.
    assert metadata(bearer_methods_supported=[]).document()["bearer_methods_supported"] == []


def test_metadata_is_immutable_comparable_and_keeps_the_first_of_duplicates() -> None:
    configured = metadata(scopes_supported=["b", "a", "b"])

    assert configured.scopes_supported == ("b", "a")
    assert configured == metadata(scopes_supported=["b", "a"])
    assert hash(configured) == hash(metadata(scopes_supported=["b", "a"]))
    with pytest.raises(AttributeError):
        configured.resource = "https://elsewhere.test"  # type: ignore[misc]


def test_a_changed_copy_is_checked_again() -> None:
    changed = dataclasses.replace(metadata(), scopes_supported=("notes:read",))

    assert changed.document()["scopes_supported"] == ["notes:read"]
    with pytest.raises(ValueError, match="https"):
        dataclasses.replace(changed, resource="http://api.example.test/mcp")


@pytest.mark.parametrize(
    "resource",
    [
        "https://api.example.test",
        "https://api.example.test/",
        "https://api.example.test:8443/v1/mcp/",
        "http://127.0.0.1:8000/mcp",
        "http://localhost/mcp",
        "http://[::1]:8000/mcp",
        "https://api.example.test/a%20b",
    ],
)
def test_these_resource_identifiers_are_accepted_as_written(resource: str) -> None:
    assert ResourceMetadata(resource).resource == resource


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("http://api.example.test/mcp", "https"),  # RFC 9728 section 1.2
        ("ftp://api.example.test/mcp", "https"),
        ("https:///mcp", "https"),
        ("api.example.test/mcp", "https"),
        ("https://api.example.test/mcp#top", "fragment"),  # RFC 8707 section 2
        ("https://api.example.test/mcp?tenant=a", "query"),
        ("https://user@api.example.test/mcp", "user info"),
        ("https://api.example.test:99999/mcp", "port"),
        ("HTTPS://api.example.test/mcp", "lower-case"),
        ("https://API.example.test/mcp", "lower-case"),
        ('https://api.example.test/"mcp', "URI characters"),
        ("https://api.example.test/mcp\r\nX: y", "URI characters"),
        ("https://api.example.test/mcp ", "URI characters"),
        ("https://api.exämple.test/mcp", "URI characters"),
        ("", "URI characters"),
    ],
)
def test_a_resource_identifier_clients_cannot_match_is_refused(resource: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ResourceMetadata(resource)


@pytest.mark.parametrize(
    "server", ["http://auth.example.test", "https://auth.example.test/?x=1", "https://auth.example.test/#x"]
)
def test_an_authorization_server_must_be_an_issuer_identifier(server: str) -> None:
    with pytest.raises(ValueError, match="authorization server"):  # RFC 8414 section 2
        metadata(authorization_servers=[server])


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"authorization_servers": SERVER}, TypeError, "list of strings"),
        ({"scopes_supported": ["notes read"]}, ValueError, "scope token"),
        ({"scopes_supported": ['notes"read']}, ValueError, "scope token"),
        ({"scopes_supported": [""]}, TypeError, "non-empty strings"),
        ({"bearer_methods_supported": ["cookie"]}, ValueError, "header, body or query"),
        ({"dpop_signing_alg_values_supported": ["HS256"]}, ValueError, "asymmetric"),
        ({"dpop_signing_alg_values_supported": ["none"]}, ValueError, "asymmetric"),
        ({"dpop_bound_access_tokens_required": True}, ValueError, "dpop_signing_alg_values_supported"),
        ({"resource_name": " "}, ValueError, "resource_name"),
        ({"resource_documentation": "http://docs.example.test"}, ValueError, "resource_documentation"),
        ({"resource_tos_uri": "https://example.test/tos#x"}, ValueError, "fragment"),
        ({"cache_max_age": -1}, ValueError, "cache_max_age"),
        ({"cache_max_age": True}, ValueError, "cache_max_age"),
    ],
)
def test_configuration_mistakes_are_refused_when_made(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        metadata(**options)


@pytest.mark.parametrize(
    ("resource", "path"),
    [
        # RFC 9728 section 3.1: inserted between the host and the path; a lone "/" dropped.
        ("https://api.example.test", "/.well-known/oauth-protected-resource"),
        ("https://api.example.test/", "/.well-known/oauth-protected-resource"),
        ("https://api.example.test/mcp", "/.well-known/oauth-protected-resource/mcp"),
        ("https://api.example.test/v1/mcp/", "/.well-known/oauth-protected-resource/v1/mcp/"),
        ("http://127.0.0.1:8000/mcp", "/.well-known/oauth-protected-resource/mcp"),
    ],
)
def test_the_well_known_path_is_inserted_before_the_resources_path(resource: str, path: str) -> None:
    assert well_known_path(resource) == path
    assert ResourceMetadata(resource).well_known_path == path


def test_the_metadata_url_is_on_the_resources_own_origin() -> None:
    assert (
        metadata_url("http://[::1]:8000/mcp") == "http://[::1]:8000/.well-known/oauth-protected-resource/mcp"
    )
    assert metadata().url == "https://api.example.test/.well-known/oauth-protected-resource/mcp"


def test_the_challenge_parameter_names_the_metadata_url() -> None:
    assert metadata().challenge_parameter == (
        'resource_metadata="https://api.example.test/.well-known/oauth-protected-resource/mcp"'
    )


@pytest.mark.parametrize(
    "url", ['https://a.test/"x', "https://a.test/\r\nx", "https://a.test/ x", "https://ä.test"]
)
def test_the_challenge_parameter_never_carries_what_could_break_the_header(url: str) -> None:
    with pytest.raises(ValueError, match="URI characters"):
        challenge_parameter(url)


@pytest.fixture
def client() -> TestClient:
    return TestClient(metadata(scopes_supported=["notes:read"], cache_max_age=600))


def test_get_answers_the_document_as_cacheable_json_for_any_origin(client: TestClient) -> None:
    response = client.get("/", headers={"Origin": "https://inspector.example.test"})

    assert response.status_code == 200
    assert response.json() == metadata(scopes_supported=["notes:read"]).document()
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=600"
    assert response.headers["access-control-allow-origin"] == "*"


def test_head_answers_the_headers_of_get_without_a_body(client: TestClient) -> None:
    get, head = client.get("/"), client.head("/")

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))


def test_a_cors_preflight_is_allowed_from_any_origin(client: TestClient) -> None:
    response = client.options(
        "/",
        headers={
            "Origin": "https://inspector.example.test",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "mcp-protocol-version",
        },
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "*"
    assert response.headers["access-control-max-age"] == "600"
    assert "content-length" not in response.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_not_allowed(client: TestClient, method: str) -> None:
    response = client.request(method, "/", content=b"{}")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert response.content == b""


def test_it_is_a_starlette_route_at_its_well_known_path() -> None:
    configured = metadata()
    app = Starlette(routes=[Route(configured.well_known_path, configured)])

    with TestClient(app) as client:
        assert client.get("/.well-known/oauth-protected-resource/mcp").json()["resource"] == RESOURCE
        assert client.get("/.well-known/oauth-protected-resource").status_code == 404


def test_a_websocket_to_the_document_is_refused_before_the_handshake() -> None:
    configured = metadata()
    app = Starlette(routes=[WebSocketRoute(configured.well_known_path, configured)])

    with (
        TestClient(app) as client,
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(configured.well_known_path),
    ):
        pass

    assert refused.value.code == 1008


async def echo_path(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.url.path)
    await websocket.close()


def test_the_middleware_serves_the_document_and_passes_everything_else() -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse(request.url.path)

    inner = Starlette(
        routes=[Route("/{path:path}", hello, methods=["GET", "POST"]), WebSocketRoute("/ws", echo_path)]
    )
    app = ResourceMetadataMiddleware(inner, metadata=metadata())

    with TestClient(app) as client:
        assert client.get("/.well-known/oauth-protected-resource/mcp").json()["resource"] == RESOURCE
        assert (
            client.get("/.well-known/oauth-protected-resource").text
            == "/.well-known/oauth-protected-resource"
        )
        assert client.post("/mcp").text == "/mcp"
        with client.websocket_connect("/ws") as websocket:  # never intercepted
            assert websocket.receive_text() == "/ws"


DOC_TEXT = DOC.read_text(encoding="utf-8")
DOC_BLOCKS = re.findall(r"```python\n(.*?)```", DOC_TEXT, flags=re.DOTALL)


@pytest.fixture
def root_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names the docs import from the package root, where the root does not export them yet."""
    names = {
        "ResourceMetadata": ResourceMetadata,
        "ResourceMetadataMiddleware": ResourceMetadataMiddleware,
        "issuers_for_resource": issuers_for_resource,
    }
    for name, value in names.items():
        monkeypatch.setattr(jwks_middleware, name, getattr(jwks_middleware, name, value), raising=False)


@pytest.mark.parametrize("block", DOC_BLOCKS, ids=[f"block{index}" for index in range(len(DOC_BLOCKS))])
def test_every_python_block_of_the_docs_compiles(block: str) -> None:
    compile(block, str(DOC), "exec")


def test_the_docs_examples_run_as_shown(root_exports: None) -> None:
    namespace: dict[str, Any] = {}
    for block in DOC_BLOCKS:
        exec(block, namespace)  # noqa: S102 - our own docs
    metadata = namespace["metadata"]
    [document] = re.findall(r"```json\n(.*?)```", DOC_TEXT, flags=re.DOTALL)

    assert json.loads(document) == metadata.document()
    # No lifespan: nothing is fetched, and the document needs no token.
    client = TestClient(namespace["app"])
    assert client.get(metadata.well_known_path).json() == metadata.document()
    refused = client.get("/notes")
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    route_app = Starlette(routes=[namespace["route"]])
    assert TestClient(route_app).get(metadata.well_known_path).status_code == 200
