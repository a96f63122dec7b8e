"""MCP servers: `JWKSTokenVerifier` behind the official MCP SDK, and examples/mcp_server.py run
on a real uvicorn on 127.0.0.1, called by the SDK's own Streamable HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import re
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import AnyHttpUrl
from sse_starlette.sse import AppStatus
from starlette.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from jwks_middleware.mcp import CLIENT_ID_CLAIMS, JWKSTokenVerifier, ResourceMetadata
from jwks_middleware.testing import WRONG_AUDIENCE, LocalIssuer

pytestmark = pytest.mark.anyio

RESOURCE = "https://mcp.example.test/mcp"
ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "mcp_server.py"
DOC = ROOT / "docs" / "mcp.md"
DOC_BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
#: How long the loopback server gets to shut down (a real deadline: it ends a thread).
SHUTDOWN_TIMEOUT = 10.0
#: HTTP timeout of the test clients: the SDK's own default for MCP requests (httpx's is 5 s).
CLIENT_TIMEOUT = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def sse_streams_not_shut_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """sse-starlette (the SDK's SSE responses) ends every stream at once after any uvicorn server
    of the process has handled a Ctrl-C (the demo's tests send one): a process-wide flag that
    nothing resets. Each test here starts with it down."""
    monkeypatch.setattr(AppStatus, "should_exit", False)


@pytest.fixture
def issuer() -> LocalIssuer:
    return LocalIssuer(audience=RESOURCE)


def static_verifier(issuer: LocalIssuer, **options: Any) -> JWKSTokenVerifier:
    """A verifier trusting `issuer` with its keys given up front (no fetch)."""
    metadata = options.pop("metadata", ResourceMetadata(RESOURCE, authorization_servers=[issuer.url]))
    issuer_options = options.pop("issuer_options", {})
    return JWKSTokenVerifier(
        [issuer.config(jwks=issuer.jwks(), **issuer_options)], metadata=metadata, **options
    )


# -- the adapter -----------------------------------------------------------------------------


async def test_a_valid_token_becomes_the_sdks_access_token(issuer: LocalIssuer) -> None:
    verifier = static_verifier(issuer)
    token = issuer.issue(sub="alice", scopes=["notes:write", "notes:read"], client_id="notes-app")

    access = await verifier.verify_token(token)

    assert access is not None
    assert access.token == token
    assert access.client_id == "notes-app"
    assert access.scopes == ["notes:read", "notes:write"]
    assert access.subject == "alice"
    assert access.resource == RESOURCE
    assert access.claims is not None
    assert access.expires_at == access.claims["exp"]
    assert access.claims["iss"] == issuer.url


@pytest.mark.parametrize(
    ("claims", "client_id"),
    [
        ({"client_id": "a", "azp": "b"}, "a"),
        ({"azp": "b", "cid": "c"}, "b"),
        ({"cid": "c", "appid": "d"}, "c"),
        ({"appid": "d"}, "d"),
        ({}, ""),
    ],
)
async def test_the_client_id_is_the_first_client_claim_present(
    issuer: LocalIssuer, claims: dict[str, Any], client_id: str
) -> None:
    access = await static_verifier(issuer).verify_token(issuer.issue(**claims))

    assert CLIENT_ID_CLAIMS == ("client_id", "azp", "cid", "appid")
    assert access is not None
    assert access.client_id == client_id


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda issuer: issuer.expired_token(), id="expired"),
        pytest.param(lambda issuer: issuer.wrong_audience_token(), id="another resource"),
        pytest.param(lambda issuer: issuer.wrong_key_token(), id="wrong key"),
        pytest.param(lambda issuer: issuer.unsigned_token(), id="alg none"),
        pytest.param(lambda issuer: LocalIssuer("https://other.example.test").issue(), id="unknown issuer"),
        pytest.param(lambda issuer: "not a token", id="garbage"),
    ],
)
async def test_a_refused_token_is_none_never_an_exception(issuer: LocalIssuer, make_token: Any) -> None:
    assert await static_verifier(issuer).verify_token(make_token(issuer)) is None


async def test_an_unexpected_failure_is_logged_without_the_token_and_refused(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = static_verifier(issuer)
    token = issuer.issue()

    async def broken(token: str) -> Any:
        raise RuntimeError(f"cannot handle {token}")

    verifier.verifier.verify = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="jwks_middleware"):
        assert await verifier.verify_token(token) is None

    assert "RuntimeError" in caplog.text
    assert token not in caplog.text


async def test_with_metadata_a_token_must_name_the_resource_even_if_the_issuer_checks_no_audience(
    issuer: LocalIssuer,
) -> None:
    verifier = static_verifier(issuer, issuer_options={"verify_audience": False})

    assert await verifier.verify_token(issuer.issue(audience=WRONG_AUDIENCE)) is None
    assert await verifier.verify_token(issuer.issue(audience=[WRONG_AUDIENCE, RESOURCE])) is not None


async def test_the_resource_audience_can_be_turned_off(issuer: LocalIssuer) -> None:
    verifier = static_verifier(
        issuer, issuer_options={"audience": WRONG_AUDIENCE}, require_resource_audience=False
    )

    access = await verifier.verify_token(issuer.issue(audience=WRONG_AUDIENCE))

    assert access is not None
    assert access.resource == WRONG_AUDIENCE  # not the resource: the SDK's own check would refuse it


@pytest.mark.parametrize(
    ("audience", "resource"),
    [
        ("https://api.example.test", "https://api.example.test"),
        (["https://api.example.test"], "https://api.example.test"),
        (["https://api.example.test", WRONG_AUDIENCE], None),
    ],
)
async def test_without_metadata_the_resource_is_the_tokens_single_audience(
    issuer: LocalIssuer, audience: str | list[str], resource: str | None
) -> None:
    verifier = JWKSTokenVerifier([issuer.config(jwks=issuer.jwks(), audience="https://api.example.test")])

    access = await verifier.verify_token(issuer.issue(audience=audience))

    assert access is not None
    assert access.resource == resource


def test_the_metadata_must_name_trusted_authorization_servers(issuer: LocalIssuer) -> None:
    trusted = [issuer.config(jwks=issuer.jwks())]

    with pytest.raises(ValueError, match="give authorization_servers"):
        JWKSTokenVerifier(trusted, metadata=ResourceMetadata(RESOURCE))
    with pytest.raises(ValueError, match="not trusted issuers"):
        JWKSTokenVerifier(
            trusted, metadata=ResourceMetadata(RESOURCE, authorization_servers=["https://elsewhere.test"])
        )


def test_an_issuer_for_another_audience_cannot_serve_the_resource(issuer: LocalIssuer) -> None:
    with pytest.raises(ValueError, match="RFC 8707"):
        static_verifier(issuer, issuer_options={"audience": WRONG_AUDIENCE})


def test_a_resolver_is_trusted_for_the_servers_it_resolves(issuer: LocalIssuer) -> None:
    config = issuer.config(jwks=issuer.jwks())

    verifier = JWKSTokenVerifier(
        lambda iss: config if iss == issuer.url else None,
        metadata=ResourceMetadata(RESOURCE, authorization_servers=[issuer.url]),
    )

    assert repr(verifier) == f"JWKSTokenVerifier(TokenVerifier(issuers=[]), resource={RESOURCE!r})"


def test_auth_settings_come_from_the_metadata(issuer: LocalIssuer) -> None:
    settings = static_verifier(issuer).auth_settings(["notes:read"])

    assert str(settings.issuer_url) == issuer.url
    assert str(settings.resource_server_url) == RESOURCE
    assert settings.required_scopes == ["notes:read"]
    assert settings.validate_token_resource is True
    assert static_verifier(issuer, require_resource_audience=False).auth_settings().required_scopes is None
    with pytest.raises(ValueError, match="metadata"):
        JWKSTokenVerifier([issuer.config(jwks=issuer.jwks())]).auth_settings()


async def test_wrap_loads_keys_at_start_up_and_stops_refreshing_at_shutdown() -> None:
    with LocalIssuer.serve(audience=RESOURCE) as served:
        verifier = JWKSTokenVerifier(
            [served.config()], metadata=ResourceMetadata(RESOURCE, authorization_servers=[served.url])
        )
        app = verifier.wrap(lifespan_only_app)
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        outbox: asyncio.Queue[Message] = asyncio.Queue()
        before = asyncio.all_tasks()

        async def serve() -> None:
            await app({"type": "lifespan"}, inbox.get, outbox.put)

        running = asyncio.create_task(serve())

        await inbox.put({"type": "lifespan.startup"})
        assert (await outbox.get())["type"] == "lifespan.startup.complete"
        assert verifier.ready()
        assert served.requests.total() == 2  # discovery and JWKS, before any request
        assert asyncio.all_tasks() - before - {running}  # the background refresher

        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await running
        assert asyncio.all_tasks() - before == set()  # nothing left running


async def test_in_a_lifespan_of_your_own_the_verifier_is_an_async_context_manager() -> None:
    with LocalIssuer.serve() as served:
        before = asyncio.all_tasks()
        async with JWKSTokenVerifier([served.config()]) as verifier:
            assert verifier.ready()
        assert asyncio.all_tasks() - before == set()


def test_without_metadata_wrap_serves_no_document(issuer: LocalIssuer) -> None:
    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = JWKSTokenVerifier([issuer.config(jwks=issuer.jwks())]).wrap(not_found)

    assert TestClient(app).get("/.well-known/oauth-protected-resource").status_code == 404


async def lifespan_only_app(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive())["type"] == "lifespan.startup":
        await send({"type": "lifespan.startup.complete"})
    await send({"type": "lifespan.shutdown.complete"})


@pytest.mark.parametrize(
    "resource",
    ["https://mcp.example.test", "https://mcp.example.test/", RESOURCE, "http://127.0.0.1:8000/v1/mcp/"],
)
def test_the_metadata_url_is_the_one_the_sdk_puts_in_its_challenge(resource: str) -> None:
    # The SDK writes the challenge (from `auth_settings`), `wrap` serves the document: same URL.
    assert ResourceMetadata(resource).url == str(build_resource_metadata_url(AnyHttpUrl(resource)))


def test_without_the_sdk_the_module_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp.server.auth.provider", None)
    monkeypatch.delitem(sys.modules, "jwks_middleware.mcp")
    with pytest.raises(ImportError, match=r'pip install "jwks-middleware\[mcp\]"'):
        importlib.import_module("jwks_middleware.mcp")


# -- examples/mcp_server.py on a real server -------------------------------------------------


@dataclass(frozen=True)
class Served:
    resource: str
    issuer: LocalIssuer

    @property
    def metadata_url(self) -> str:
        return self.resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[Served]:
    """examples/mcp_server.py on uvicorn at 127.0.0.1, trusting a local issuer served beside it."""
    with LocalIssuer.serve() as issuer, socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # connections wait in the backlog until the server accepts them
        resource = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
        example = load_example(MCP_RESOURCE=resource, JWKS_ISSUER=issuer.url)
        config = uvicorn.Config(
            example.app, lifespan="on", log_config=None, ws="none", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            yield Served(resource, issuer)
        finally:
            server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT)
        assert not thread.is_alive()


def load_example(**env: str) -> Any:
    """Import examples/mcp_server.py afresh with this environment."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        spec = importlib.util.spec_from_file_location("example_mcp_server", EXAMPLE)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


@contextlib.asynccontextmanager
async def mcp_session(
    url: str, token: str | None, responses: list[httpx2.Response] | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized session of the SDK's client, sending `token`; `responses` records the
    HTTP answers it gets."""

    async def record(response: httpx2.Response) -> None:
        if responses is not None:
            responses.append(response)

    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        httpx2.AsyncClient(
            headers=headers, event_hooks={"response": [record]}, timeout=CLIENT_TIMEOUT
        ) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def test_a_client_with_a_valid_token_calls_the_tools(mcp_server: Served) -> None:
    issuer = mcp_server.issuer
    token = issuer.issue(sub="alice", audience=mcp_server.resource, scopes=["notes:read"], azp="notes-app")

    async with mcp_session(mcp_server.resource, token) as session:
        whoami = await session.call_tool("whoami", {})
        notes = await session.call_tool("list_notes", {})

    assert not whoami.is_error
    assert whoami.structured_content == {
        "subject": "alice",
        "client_id": "notes-app",
        "scopes": ["notes:read"],
    }
    assert not notes.is_error
    assert notes.structured_content == {"result": ["Buy plums"]}


async def test_a_tool_can_require_one_more_scope(mcp_server: Served) -> None:
    token = mcp_server.issuer.issue(audience=mcp_server.resource, scopes=["notes:read"])

    async with mcp_session(mcp_server.resource, token) as session:
        refused = await session.call_tool("add_note", {"text": "plums"})

    assert refused.is_error
    assert "notes:write" in refused.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda served: None, id="no token"),
        pytest.param(lambda served: "not.a.token", id="garbage"),
        pytest.param(lambda served: served.issuer.issue(), id="another resource"),
        pytest.param(lambda served: served.issuer.expired_token(audience=served.resource), id="expired"),
        pytest.param(lambda served: served.issuer.wrong_key_token(audience=served.resource), id="wrong key"),
    ],
)
async def test_the_sdk_client_is_refused_with_a_challenge_naming_the_metadata(
    mcp_server: Served, make_token: Any
) -> None:
    responses: list[httpx2.Response] = []

    with pytest.RaisesGroup(Exception, flatten_subgroups=True):
        async with mcp_session(mcp_server.resource, make_token(mcp_server), responses):
            pass

    [refusal] = responses
    assert refusal.status_code == 401
    assert refusal.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert extract_resource_metadata_from_www_auth(refusal) == mcp_server.metadata_url


async def test_a_token_without_the_servers_scope_is_forbidden(mcp_server: Served) -> None:
    token = mcp_server.issuer.issue(audience=mcp_server.resource, scopes=["profile"])

    async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        response = await http.post(
            mcp_server.resource,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"},
        )

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert extract_resource_metadata_from_www_auth(response) == mcp_server.metadata_url


async def test_mcp_clients_discover_the_authorization_server_from_the_metadata(mcp_server: Served) -> None:
    async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        refusal = await http.post(mcp_server.resource, json={})
        urls = build_protected_resource_metadata_discovery_urls(
            extract_resource_metadata_from_www_auth(refusal), mcp_server.resource
        )
        response = await http.get(urls[0])
        metadata = await handle_protected_resource_response(response)

    # The challenge's URL, then the RFC 9728 path-inserted one: the same document.
    assert urls[:2] == [mcp_server.metadata_url, mcp_server.metadata_url]
    assert metadata is not None
    assert str(metadata.resource) == mcp_server.resource
    assert check_resource_allowed(resource_url_from_server_url(mcp_server.resource), str(metadata.resource))
    assert [str(server) for server in metadata.authorization_servers] == [mcp_server.issuer.url]
    assert metadata.scopes_supported == ["notes:read", "notes:write"]
    assert metadata.bearer_methods_supported == ["header"]
    assert metadata.resource_name == "Notes"
    assert response.headers["cache-control"] == "public, max-age=3600"


async def test_a_browser_client_reads_the_metadata_from_another_origin(mcp_server: Served) -> None:
    origin = {"Origin": "https://inspector.example.test"}

    async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        preflight = await http.options(
            mcp_server.metadata_url,
            headers={
                **origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "mcp-protocol-version",
            },
        )
        response = await http.get(
            mcp_server.metadata_url, headers={**origin, "MCP-Protocol-Version": "2025-11-25"}
        )

    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "*"
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


async def test_the_example_accepts_only_its_public_host(mcp_server: Served) -> None:
    token = mcp_server.issuer.issue(audience=mcp_server.resource, scopes=["notes:read"])

    async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        response = await http.post(
            mcp_server.resource,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
                "Host": "rebound.example.test",  # DNS rebinding (the MCP transport spec)
            },
        )

    assert response.status_code == 421


# -- docs/mcp.md -----------------------------------------------------------------------------

DOC_RESOURCE = "https://mcp.example.com/mcp"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


@pytest.mark.parametrize("block", DOC_BLOCKS, ids=[f"block{index}" for index in range(len(DOC_BLOCKS))])
def test_every_python_block_of_the_docs_compiles(block: str) -> None:
    compile(block, str(DOC), "exec")


@pytest.fixture
def doc_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(audience=DOC_RESOURCE) as issuer:
        yield issuer


def run_doc_blocks(count: int, issuer: LocalIssuer) -> dict[str, Any]:
    """The first `count` blocks of docs/mcp.md, with the local issuer in place of the docs' one."""
    namespace: dict[str, Any] = {}
    for block in DOC_BLOCKS[:count]:
        exec(block.replace('"https://auth.example.com/"', repr(issuer.url)), namespace)  # noqa: S102
    return namespace


def check_doc_app(client: TestClient, issuer: LocalIssuer, verifier: JWKSTokenVerifier) -> None:
    """What the docs say clients see, from a started app."""
    assert verifier.ready()  # loaded at start-up
    document = client.get("/.well-known/oauth-protected-resource/mcp").json()
    refused = client.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
    token = issuer.issue(scopes=["notes:read"])
    accepted = client.post(
        "/mcp", json=INITIALIZE, headers={**MCP_ACCEPT, "Authorization": f"Bearer {token}"}
    )

    assert document["authorization_servers"] == [issuer.url]
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="Authentication required", '
        'resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    assert accepted.status_code == 200
    assert '"serverInfo"' in accepted.text


def test_the_docs_server_answers_as_the_docs_say(doc_issuer: LocalIssuer) -> None:
    namespace = run_doc_blocks(1, doc_issuer)

    with TestClient(namespace["app"], base_url="https://mcp.example.com") as client:
        check_doc_app(client, doc_issuer, namespace["verifier"])


def test_the_docs_server_mounted_in_a_larger_app_answers_the_same(doc_issuer: LocalIssuer) -> None:
    namespace = run_doc_blocks(2, doc_issuer)

    with TestClient(namespace["app"], base_url="https://mcp.example.com") as client:
        check_doc_app(client, doc_issuer, namespace["verifier"])
        assert client.get("/health").text == "ok"


async def test_the_docs_test_helper_calls_a_server(mcp_server: Served) -> None:
    namespace: dict[str, Any] = {}
    exec(DOC_BLOCKS[2], namespace)  # noqa: S102 - our own docs

    answer = await namespace["call_whoami"](mcp_server.resource, mcp_server.issuer)

    assert "'subject': 'user-123'" in answer
