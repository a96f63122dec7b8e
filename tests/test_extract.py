"""Where the middleware takes tokens from: the Authorization header, and opt-in sources."""

from __future__ import annotations

from typing import Any

import pytest
from asgi_helpers import bearer, make_app
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket
from support import mint

from jwks_middleware._extract import TokenSources


def assert_invalid_request(status: int, challenge: str) -> None:
    assert status == 400
    assert challenge.startswith('Bearer error="invalid_request", error_description="')


def denial(client: TestClient, url: str, **options: Any) -> WebSocketDenialResponse:
    """The response refusing a WebSocket handshake (the app never accepts it)."""
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect(url, **options):
        pass  # pragma: no cover - the handshake is refused
    return denied.value


# -- Authorization header -------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    response = TestClient(make_app()).get("/", headers={"Authorization": f"{scheme} {mint(sub='ann')}"})
    assert response.status_code == 200
    assert response.json()["sub"] == "ann"


def test_whitespace_around_the_token_is_tolerated() -> None:
    response = TestClient(make_app()).get("/", headers={"Authorization": f"Bearer   {mint()}  "})
    assert response.status_code == 200


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Digest username=x", "Token abc"])
def test_another_scheme_counts_as_no_credentials(value: str) -> None:
    response = TestClient(make_app()).get("/", headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_another_scheme_passes_anonymously_when_optional() -> None:
    response = TestClient(make_app(optional=True)).get("/", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 200
    assert response.json()["sub"] is None


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "bearer    "])
def test_bearer_without_a_token_is_400_invalid_request(value: str) -> None:
    response = TestClient(make_app()).get("/", headers={"Authorization": value})
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


@pytest.mark.parametrize("credentials", ["a b", "a.b.c d.e.f", "a,b", 'a"b', "tok=en"])
def test_bearer_with_more_than_one_token_or_bad_characters_is_400(credentials: str) -> None:
    response = TestClient(make_app()).get("/", headers={"Authorization": f"Bearer {credentials}"})
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_two_authorization_headers_are_400_even_with_the_same_token() -> None:
    token = mint()
    response = TestClient(make_app()).get(
        "/", headers=[("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    )
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_two_authorization_headers_are_400_even_when_optional() -> None:
    response = TestClient(make_app(optional=True)).get(
        "/", headers=[("Authorization", "Basic dXNlcjpwYXNz"), ("Authorization", f"Bearer {mint()}")]
    )
    assert response.status_code == 400


def test_non_ascii_authorization_header_is_400() -> None:
    response = TestClient(make_app()).get("/", headers=[(b"Authorization", b"Bearer \xe9t\xe9")])
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_no_credentials_is_401_without_error_code() -> None:
    response = TestClient(make_app()).get("/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "unauthorized", "error_description": "Authentication required"}


# -- cookie (opt-in) ------------------------------------------------------------------


def test_cookie_token_is_accepted_when_enabled() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": f"theme=dark; access_token={mint(sub='bea')}"})
    assert response.status_code == 200
    assert response.json()["sub"] == "bea"


def test_cookie_token_is_found_across_several_cookie_headers() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get(
        "/", headers=[("Cookie", "theme=dark"), ("Cookie", f"access_token={mint(sub='bea')}")]
    )
    assert response.json()["sub"] == "bea"


def test_cookie_token_is_ignored_when_cookies_are_not_enabled() -> None:
    response = TestClient(make_app()).get("/", headers={"Cookie": f"access_token={mint()}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_other_cookies_are_no_credentials() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": "theme=dark; session=abc"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_empty_token_cookie_is_no_credentials() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": "access_token="})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("other", ['prefs={"lang":"en"}', "greeting=hello world", "expires=x"])
def test_another_apps_odd_cookie_does_not_hide_the_token_cookie(other: str) -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": f"{other}; access_token={mint(sub='bea')}"})
    assert response.status_code == 200
    assert response.json()["sub"] == "bea"


def test_quoted_token_cookie_is_accepted() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": f'access_token="{mint(sub="bea")}"'})
    assert response.json()["sub"] == "bea"


def test_token_cookie_sent_twice_is_400() -> None:
    token = mint()
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": f"access_token={token}; access_token={token}"})
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_cookie_whose_name_only_contains_the_token_cookie_name_is_ignored() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": f"old_access_token={mint()}; access_token_x=1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_malformed_token_cookie_is_400() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={"Cookie": 'access_token="a b"'})
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_token_in_header_and_cookie_is_400() -> None:
    token = mint()
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get("/", headers={**bearer(token), "Cookie": f"access_token={token}"})
    assert_invalid_request(response.status_code, response.headers["www-authenticate"])


def test_cookie_token_with_another_authorization_scheme_is_accepted() -> None:
    client = TestClient(make_app(cookie_name="access_token"))
    response = client.get(
        "/", headers={"Authorization": "Basic dXNlcjpwYXNz", "Cookie": f"access_token={mint(sub='bea')}"}
    )
    assert response.json()["sub"] == "bea"


# -- WebSocket query parameter (opt-in) -----------------------------------------------


def test_websocket_query_token_is_accepted_when_enabled() -> None:
    client = TestClient(make_app(websocket_query_param="token"))
    with client.websocket_connect(f"/ws?token={mint(sub='cid')}") as websocket:
        assert websocket.receive_json() == {"sub": "cid"}


def test_websocket_query_token_is_ignored_when_not_enabled() -> None:
    client = TestClient(make_app())
    response = denial(client, f"/ws?token={mint()}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_query_token_is_never_taken_from_http_requests() -> None:
    client = TestClient(make_app(websocket_query_param="token"))
    response = client.get("/", params={"token": mint()})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_websocket_token_in_header_and_query_is_400() -> None:
    token = mint()
    client = TestClient(make_app(websocket_query_param="token"))
    assert denial(client, f"/ws?token={token}", headers=bearer(token)).status_code == 400


def test_websocket_query_token_given_twice_is_400() -> None:
    token = mint()
    client = TestClient(make_app(websocket_query_param="token"))
    assert denial(client, f"/ws?token={token}&token={token}").status_code == 400


def test_malformed_websocket_query_token_is_400() -> None:
    client = TestClient(make_app(websocket_query_param="token"))
    assert denial(client, "/ws?token=a%20b").status_code == 400


def test_other_websocket_query_parameters_are_no_credentials() -> None:
    client = TestClient(make_app(websocket_query_param="token"))
    assert denial(client, "/ws?room=1").status_code == 401


# -- WebSocket subprotocol (browsers cannot set headers on a WebSocket) ------------------


async def echo_subprotocols(websocket: WebSocket) -> None:
    chosen = "chat.v1" if "chat.v1" in websocket.scope["subprotocols"] else None
    await websocket.accept(subprotocol=chosen)
    claims = websocket.scope["state"]["claims"]
    await websocket.send_json({"sub": claims.subject, "offered": websocket.scope["subprotocols"]})
    await websocket.close()


def subprotocol_app() -> Starlette:
    return make_app([WebSocketRoute("/ws", echo_subprotocols)], websocket_subprotocol="access_token")


def test_websocket_subprotocol_token_is_accepted_and_answered_with_the_marker() -> None:
    client = TestClient(subprotocol_app())
    with client.websocket_connect("/ws", subprotocols=["access_token", mint(sub="dee")]) as websocket:
        # The token never reaches the app, and is never echoed in the handshake's answer.
        assert websocket.receive_json() == {"sub": "dee", "offered": []}
        assert websocket.accepted_subprotocol == "access_token"


def test_the_app_keeps_choosing_its_own_subprotocol() -> None:
    client = TestClient(subprotocol_app())
    offered = ["chat.v1", "access_token", mint(sub="eve")]
    with client.websocket_connect("/ws", subprotocols=offered) as websocket:
        assert websocket.receive_json() == {"sub": "eve", "offered": ["chat.v1"]}
        assert websocket.accepted_subprotocol == "chat.v1"


def test_websocket_subprotocol_token_is_ignored_when_not_enabled() -> None:
    client = TestClient(make_app())
    response = denial(client, "/ws", subprotocols=["access_token", mint()])
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "subprotocols",
    [
        pytest.param(["access_token"], id="marker-without-token"),
        pytest.param(["access_token", "a b"], id="not-a-token"),
        pytest.param(["access_token", "x.y.z", "access_token", "x.y.z"], id="twice"),
    ],
)
def test_malformed_websocket_subprotocol_token_is_400(subprotocols: list[str]) -> None:
    client = TestClient(subprotocol_app())
    assert denial(client, "/ws", subprotocols=subprotocols).status_code == 400


def test_websocket_token_in_header_and_subprotocol_is_400() -> None:
    token = mint()
    client = TestClient(subprotocol_app())
    response = denial(client, "/ws", subprotocols=["access_token", token], headers=bearer(token))
    assert response.status_code == 400


def test_websocket_subprotocol_name_is_checked_at_construction() -> None:
    with pytest.raises(ValueError, match="websocket_subprotocol"):
        TokenSources(websocket_subprotocol="not a name")
