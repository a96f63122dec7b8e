"""`requires_scopes` on Starlette endpoints: functions, methods and WebSockets."""

from __future__ import annotations

from typing import Any

import pytest
from asgi_helpers import bearer, make_app
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket
from support import mint

from jwks_middleware import (
    Claims,
    requires_any_role,
    requires_any_scope,
    requires_claim,
    requires_roles,
    requires_scopes,
)
from jwks_middleware._authorization import missing_scopes


@requires_scopes("read:items")
async def async_items(request: Request) -> Response:
    return PlainTextResponse(f"async {request.state.claims.subject}")


@requires_scopes("read:items")
def sync_items(request: Request) -> Response:
    return PlainTextResponse(f"sync {request.state.claims.subject}")


@requires_scopes("read:items", "write:items")
async def write_items(request: Request) -> Response:
    return PlainTextResponse("written")


class Items(HTTPEndpoint):
    @requires_scopes("read:items")
    async def get(self, request: Request) -> Response:
        return PlainTextResponse("endpoint get")

    @requires_scopes("write:items")
    def post(self, request: Request) -> Response:
        return PlainTextResponse("endpoint post")


@requires_scopes("chat")
async def chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(f"hello {websocket.state.claims.subject}")
    await websocket.close()


@requires_scopes("read:items")
async def keyword_items(*, request: Request) -> Response:
    return PlainTextResponse("keyword")


def routes() -> list[BaseRoute]:
    return [
        Route("/async", async_items),
        Route("/sync", sync_items),
        Route("/write", write_items, methods=["POST"]),
        Route("/endpoint", Items),
        WebSocketRoute("/chat", chat),
    ]


def client(**options: Any) -> TestClient:
    return TestClient(make_app(routes(), **options))


# -- granted --------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "text"), [("/async", "async ivy"), ("/sync", "sync ivy")])
def test_function_endpoint_with_the_scope_runs(path: str, text: str) -> None:
    response = client().get(path, headers=bearer(mint(sub="ivy", scope="read:items")))
    assert response.status_code == 200
    assert response.text == text


def test_scopes_may_come_from_permissions_or_scp() -> None:
    http = client()
    assert http.get("/async", headers=bearer(mint(permissions=["read:items"]))).status_code == 200
    assert http.get("/async", headers=bearer(mint(scp=["read:items"]))).status_code == 200


def test_every_required_scope_is_needed() -> None:
    http = client()
    both = mint(scope="read:items write:items")
    assert http.post("/write", headers=bearer(both)).text == "written"
    assert http.post("/write", headers=bearer(mint(scope="read:items"))).status_code == 403


@pytest.mark.parametrize(
    ("method", "scope", "text"),
    [("GET", "read:items", "endpoint get"), ("POST", "write:items", "endpoint post")],
)
def test_http_endpoint_methods_are_guarded(method: str, scope: str, text: str) -> None:
    http = client()
    assert http.request(method, "/endpoint", headers=bearer(mint(scope=scope))).text == text
    assert http.request(method, "/endpoint", headers=bearer(mint(scope="other"))).status_code == 403


def test_websocket_endpoint_with_the_scope_is_accepted() -> None:
    with client().websocket_connect("/chat", headers=bearer(mint(sub="jo", scope="chat"))) as websocket:
        assert websocket.receive_text() == "hello jo"


def test_endpoint_called_with_a_keyword_request_is_guarded() -> None:
    async def by_keyword(request: Request) -> Response:
        return await keyword_items(request=request)

    app = make_app([Route("/kw", by_keyword)])
    http = TestClient(app)
    assert http.get("/kw", headers=bearer(mint(scope="read:items"))).text == "keyword"
    assert http.get("/kw", headers=bearer(mint(scope="other"))).status_code == 403


# -- refused --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/async", "/sync", "/endpoint"])
def test_token_lacking_the_scope_is_403_insufficient_scope(path: str) -> None:
    response = client().get(path, headers=bearer(mint(scope="other")))
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer error="insufficient_scope", error_description="The access token lacks the required scope", '
        'scope="read:items"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks the required scope",
        "scope": "read:items",
    }


def test_authenticated_is_required_of_the_token_not_granted_by_the_middleware() -> None:
    # Starlette's "authenticated" in `request.auth.scopes` is no scope of the token.
    @requires_scopes("authenticated")
    async def guarded(request: Request) -> Response:
        return PlainTextResponse(" ".join(request.auth.scopes))

    http = TestClient(make_app([Route("/", guarded)]))
    assert http.get("/", headers=bearer(mint())).status_code == 403
    assert http.get("/", headers=bearer(mint(scope="authenticated"))).text == "authenticated"


def test_403_names_the_required_scopes_in_scope() -> None:
    response = client().post("/write", headers=bearer(mint(scope="read:items")))
    assert 'scope="read:items write:items"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("path", ["/async", "/sync", "/endpoint"])
def test_anonymous_request_is_401_not_403(path: str) -> None:
    response = client(optional=True).get(path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_403_carries_the_realm() -> None:
    response = client(realm="orders").get("/async", headers=bearer(mint(scope="other")))
    assert response.headers["www-authenticate"].startswith(
        'Bearer realm="orders", error="insufficient_scope"'
    )


def test_401_of_the_guard_carries_the_realm() -> None:
    response = client(realm="orders", optional=True).get("/async")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="orders"'


def test_guard_without_the_middleware_answers_401() -> None:
    response = TestClient(Starlette(routes=routes())).get("/async")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_websocket_lacking_the_scope_is_denied_with_403_before_accept() -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client(realm="chat").websocket_connect("/chat", headers=bearer(mint())),
    ):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 403
    assert denied.value.headers["www-authenticate"] == (
        'Bearer realm="chat", error="insufficient_scope", '
        'error_description="The access token lacks the required scope", scope="chat"'
    )


def test_anonymous_websocket_is_denied_with_401() -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client(optional=True).websocket_connect("/chat"),
    ):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 401


# -- configuration errors -------------------------------------------------------------


def test_no_scopes_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="one or more scope"):
        requires_scopes()


@pytest.mark.parametrize("scope", ["", "read write", 42])
def test_empty_spaced_or_non_string_scope_is_a_value_error(scope: Any) -> None:
    with pytest.raises(ValueError, match="scope names"):
        requires_scopes(scope)


def test_endpoint_without_request_or_websocket_parameter_is_a_type_error() -> None:
    def handler(connection: Request) -> Response:
        return PlainTextResponse("never")  # pragma: no cover

    with pytest.raises(TypeError, match="no 'request' or 'websocket' parameter"):
        requires_scopes("read")(handler)


@pytest.mark.anyio
async def test_calling_the_guarded_endpoint_without_a_request_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a Starlette request"):
        await async_items("not a request")  # type: ignore[arg-type]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_missing_scopes_keeps_the_required_order() -> None:
    claims = Claims({"scope": "b"})
    assert missing_scopes(claims, ["c", "b", "a"]) == ["c", "a"]


# -- the other requirements: the same set as the FastAPI guards -----------------------------


@requires_any_scope("read:items", "admin")
async def any_scope_items(request: Request) -> Response:
    return PlainTextResponse("any scope")


@requires_roles("editor", "reviewer")
def all_roles_items(request: Request) -> Response:
    return PlainTextResponse("all roles")


@requires_any_role("editor", "admin")
async def any_role_items(request: Request) -> Response:
    return PlainTextResponse("any role")


@requires_claim("email_verified", True)
async def verified_items(request: Request) -> Response:
    return PlainTextResponse("verified")


@requires_claim(("org", "plan"), "pro", "enterprise")
async def org_items(request: Request) -> Response:
    return PlainTextResponse("org")


@requires_any_role("admin")
async def admin_chat(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("admin")
    await websocket.close()


def requirement_client() -> TestClient:
    return TestClient(
        make_app(
            [
                Route("/any-scope", any_scope_items),
                Route("/all-roles", all_roles_items),
                Route("/any-role", any_role_items),
                Route("/verified", verified_items),
                Route("/org", org_items),
                WebSocketRoute("/admin-chat", admin_chat),
            ]
        )
    )


@pytest.mark.parametrize(
    ("path", "granted", "refused"),
    [
        ("/any-scope", {"scope": "admin"}, {"scope": "write:items"}),
        ("/all-roles", {"roles": ["editor", "reviewer"]}, {"roles": ["editor"]}),
        ("/any-role", {"roles": ["admin"]}, {"roles": ["viewer"]}),
        ("/verified", {"email_verified": True}, {"email_verified": "true"}),
        ("/org", {"org": {"plan": "enterprise"}}, {"org": {"plan": "free"}}),
    ],
)
def test_each_requirement_lets_through_what_it_asks_and_refuses_the_rest_with_403(
    path: str, granted: dict[str, Any], refused: dict[str, Any]
) -> None:
    http = requirement_client()
    assert http.get(path, headers=bearer(mint(**granted))).status_code == 200
    response = http.get(path, headers=bearer(mint(**refused)))
    assert response.status_code == 403
    assert response.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert http.get(path).status_code == 401


def test_any_scope_refusal_names_the_accepted_scopes_and_roles_name_no_scope() -> None:
    http = requirement_client()
    challenge = http.get("/any-scope", headers=bearer(mint(scope="other"))).headers["www-authenticate"]
    assert 'scope="read:items admin"' in challenge
    challenge = http.get("/any-role", headers=bearer(mint(roles=["viewer"]))).headers["www-authenticate"]
    assert "scope=" not in challenge


def test_claim_refusal_does_not_reveal_the_expected_value() -> None:
    response = requirement_client().get("/org", headers=bearer(mint(org={"plan": "free"})))
    assert "enterprise" not in response.text
    assert "enterprise" not in response.headers["www-authenticate"]


def test_role_requirement_guards_websockets_before_accept() -> None:
    http = requirement_client()
    with http.websocket_connect("/admin-chat", headers=bearer(mint(roles=["admin"]))) as websocket:
        assert websocket.receive_text() == "admin"
    with pytest.raises(WebSocketDenialResponse) as denied:  # noqa: SIM117
        with http.websocket_connect("/admin-chat", headers=bearer(mint(roles=["viewer"]))):
            pass
    assert denied.value.status_code == 403


@pytest.mark.parametrize(
    "make",
    [
        lambda: requires_any_scope(),
        lambda: requires_roles("two words"),
        lambda: requires_any_role(""),
    ],
)
def test_requirements_without_names_are_value_errors(make: Any) -> None:
    with pytest.raises(ValueError, match="names"):
        make()


def test_claim_requirement_takes_a_name_or_path_and_plain_values() -> None:
    with pytest.raises(TypeError, match="claim name"):
        requires_claim(())
    with pytest.raises(TypeError, match="strings, numbers or booleans"):
        requires_claim("org", {"plan": "pro"})
