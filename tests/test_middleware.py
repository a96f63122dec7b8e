"""JWKSMiddleware as a Starlette app's users see it: claims in, RFC 6750 refusals out."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

import httpx
import pytest
from asgi_helpers import (
    RawASGI,
    bearer,
    clock,
    closed_port,
    default_routes,
    forge,
    http_scope,
    issuer,
    make_app,
    ok_app,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send
from support import AUDIENCE, ISSUER, NOW, RSA_KID, claims, header, mint

from jwks_middleware import AuthEvent, Claims, Issuer, JWKSMiddleware, TokenVerifier, requires_scopes


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@requires_scopes("read")
async def guarded_by_requires_scopes(request: Request) -> Response:
    return PlainTextResponse("read ok")  # pragma: no cover - only refusals are asked for


# -- claims reach the app -------------------------------------------------------------


def test_valid_token_puts_claims_on_request_state() -> None:
    client = TestClient(make_app())
    response = client.get("/", headers=bearer(mint(sub="alice")))
    assert response.status_code == 200
    assert response.json()["claims_type"] == "Claims"
    assert response.json()["sub"] == "alice"


def test_valid_token_sets_starlette_auth_scopes_and_authenticated_user() -> None:
    client = TestClient(make_app())
    response = client.get("/", headers=bearer(mint(sub="alice", scope="read write")))
    assert response.json()["auth_scopes"] == ["authenticated", "read", "write"]
    assert response.json()["authenticated"] is True
    assert response.json()["display_name"] == "alice"
    assert response.json()["identity"] == "alice"


def test_token_without_subject_gives_an_authenticated_user_with_an_empty_name() -> None:
    response = TestClient(make_app()).get("/", headers=bearer(mint(without=("sub",))))
    assert response.json()["authenticated"] is True
    assert response.json()["display_name"] == ""
    assert response.json()["identity"] == ""


def test_starlette_requires_decorator_works_with_the_middleware() -> None:
    client = TestClient(make_app())
    assert client.get("/starlette-guarded", headers=bearer(mint(scope="read"))).text == "read ok"
    assert client.get("/starlette-guarded", headers=bearer(mint(scope="write"))).status_code == 403


def test_starlette_requires_authenticated_lets_a_verified_request_through() -> None:
    client = TestClient(make_app(optional=True))
    assert client.get("/starlette-authenticated", headers=bearer(mint())).text == "authenticated"
    assert client.get("/starlette-authenticated").status_code == 403  # anonymous: Starlette's answer


def test_authenticated_is_no_scope_of_the_token() -> None:
    seen: list[Claims] = []

    async def capture(request: Request) -> Response:
        seen.append(request.state.claims)
        return PlainTextResponse("ok")

    TestClient(make_app([Route("/", capture)])).get("/", headers=bearer(mint(scope="read")))
    assert seen[0].scopes == {"read"}


def test_claims_on_state_are_the_token_claims() -> None:
    seen: list[Claims] = []

    async def capture(request: object) -> object:
        from starlette.responses import PlainTextResponse

        seen.append(request.state.claims)  # type: ignore[attr-defined]
        return PlainTextResponse("ok")

    client = TestClient(make_app([Route("/", capture)]))
    client.get("/", headers=bearer(mint(sub="bob", iat=int(NOW) - 10, permissions=["a", "b"])))
    (claims,) = seen
    assert dict(claims) == {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "bob",
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 600,
        "permissions": ["a", "b"],
    }
    assert claims.scopes == {"a", "b"}


def test_websocket_with_valid_token_is_accepted_with_claims() -> None:
    client = TestClient(make_app())
    with client.websocket_connect("/ws", headers=bearer(mint(sub="carol"))) as websocket:
        assert websocket.receive_json() == {"sub": "carol"}


@pytest.mark.anyio
async def test_works_through_httpx_asgi_transport() -> None:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/", headers=bearer(mint(sub="dave")))
    assert response.status_code == 200
    assert response.json()["sub"] == "dave"


# -- refused tokens -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "description"),
    [
        pytest.param(mint(exp=int(NOW) - 3600), "The access token expired", id="expired"),
        pytest.param(
            mint(aud="https://another-api.test"),
            "The access token audience is not accepted",
            id="wrong-audience",
        ),
        pytest.param(mint(iss="https://evil.test/"), "The access token issuer is not trusted", id="issuer"),
        pytest.param("a.b.c", "The access token is malformed", id="garbage"),
        pytest.param(
            mint()[:-6] + "AAAAAA", "The access token signature is invalid", id="tampered-signature"
        ),
        pytest.param(
            mint(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
            "The access token is bound to a key and was sent without proof of possession",
            id="dpop-bound",
        ),
        pytest.param(
            mint(cnf={"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
            "The access token is bound to a key and was sent without proof of possession",
            id="certificate-bound",
        ),
    ],
)
def test_invalid_token_is_refused_with_401_invalid_token(token: str, description: str) -> None:
    response = TestClient(make_app()).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{description}"'
    )
    assert response.json() == {"error": "invalid_token", "error_description": description}


def test_missing_token_is_refused_with_401_without_error_code() -> None:
    response = TestClient(make_app()).get("/")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_refusals_are_not_cached() -> None:
    response = TestClient(make_app()).get("/", headers=bearer("a.b.c"))
    assert response.headers["cache-control"] == "no-store"


# -- optional authentication ----------------------------------------------------------


def test_optional_lets_anonymous_requests_through_with_claims_none() -> None:
    response = TestClient(make_app(optional=True)).get("/")
    assert response.status_code == 200
    assert response.json() == {
        "claims_type": "NoneType",
        "sub": None,
        "auth_scopes": [],
        "authenticated": False,
        "display_name": None,
        "identity": None,
    }


def test_optional_still_refuses_a_bad_token() -> None:
    response = TestClient(make_app(optional=True)).get("/", headers=bearer(mint(exp=int(NOW) - 3600)))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_optional_still_authenticates_a_good_token() -> None:
    response = TestClient(make_app(optional=True)).get("/", headers=bearer(mint(sub="erin")))
    assert response.json()["sub"] == "erin"


def test_optional_anonymous_request_is_refused_by_starlette_requires() -> None:
    response = TestClient(make_app(optional=True)).get("/starlette-guarded")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("token", "description"),
    [
        pytest.param(
            mint(iss="https://other-issuer.test/"), "The access token issuer is not trusted", id="issuer"
        ),
        pytest.param(
            mint(aud="https://other-api.test"), "The access token audience is not accepted", id="audience"
        ),
    ],
)
def test_optional_leaves_a_token_not_addressed_to_it_to_the_routes(token: str, description: str) -> None:
    # Another issuer's (or another audience's) token may be for a route with issuers of its own:
    # the request passes unauthenticated, and what relies on this middleware refuses it as it would.
    client = TestClient(
        make_app([*default_routes(), Route("/guarded", guarded_by_requires_scopes)], optional=True)
    )
    assert client.get("/", headers=bearer(token)).json()["claims_type"] == "NoneType"
    response = client.get("/guarded", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": description}
    assert client.get("/guarded").headers["www-authenticate"] == "Bearer"  # anonymous: no error code


# -- a new token's two ways ----------------------------------------------------------

_NEW_TOKENS: Final = {
    "valid": mint(),
    "expired": mint(exp=int(NOW) - 3600),
    "another audience": mint(aud="https://other-api.test"),
    "untrusted issuer": mint(iss="https://other-issuer.test/"),
    "forged signature": forge(header(), claims()),
    "alg none": forge({"alg": "none", "kid": RSA_KID}, claims()),
    "unknown kid": mint(kid="unknown"),
    "bound to a DPoP key": mint(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
    "not base64url": "a$b.c.d",
    "two parts": "abc.def",
    "encrypted (five parts)": "a.b.c.d.e",
    "not one token": "abc,def",
    "spaces before": "   " + mint(),
    "spaces inside": mint()[:20] + " " + mint()[20:],
    "larger than allowed": "a" * 20_000,
}


@pytest.mark.parametrize("optional", [False, True], ids=["required", "optional"])
@pytest.mark.parametrize("token", list(_NEW_TOKENS.values()), ids=list(_NEW_TOKENS))
def test_a_new_token_gets_the_same_answer_the_short_way_and_the_full_way(token: str, optional: bool) -> None:
    # `Authorization: Bearer ...` of an HTTP request goes straight to the verifier; with a
    # cookie source enabled every request takes the full way (all sources, every rule).
    def answer(cookie_name: str | None = None) -> tuple[int, str | None, str, list[tuple[str, str | None]]]:
        events: list[AuthEvent] = []
        app = make_app(optional=optional, cookie_name=cookie_name, on_event=events.append)
        response = TestClient(app).get("/", headers={"Authorization": f"Bearer {token}"})
        seen = [(event.kind, event.reason) for event in events if event.kind.startswith("token_")]
        return response.status_code, response.headers.get("www-authenticate"), response.text, seen

    short, full = answer(), answer("access_token")
    assert short == full  # the answer, and the events (what metrics count)
    assert short[0] in {200, 400, 401}


# -- excluded paths -------------------------------------------------------------------


def test_excluded_path_needs_no_token() -> None:
    response = TestClient(make_app(exclude_paths=["/health"])).get("/health")
    assert response.status_code == 200


def test_excluded_path_does_not_validate_a_token_sent_to_it() -> None:
    response = TestClient(make_app(exclude_paths=["/health"])).get("/health", headers=bearer("garbage"))
    assert response.status_code == 200


def test_exclude_paths_match_exact_paths_only() -> None:
    client = TestClient(make_app(exclude_paths=["/health"]))
    assert client.get("/health/x").status_code == 401
    assert client.get("/").status_code == 401


def test_exclude_paths_given_as_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="exclude_paths"):
        JWKSMiddleware(ok_app, issuers=[issuer()], exclude_paths="/health")


# -- never a 500 ----------------------------------------------------------------------


def test_unexpected_verifier_error_is_a_401_invalid_token_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: TokenVerifier, token: str, *, bound: bool = False) -> Claims:
        raise RuntimeError("database is down")

    monkeypatch.setattr(TokenVerifier, "begin", broken)
    token = mint()
    with caplog.at_level(logging.DEBUG, logger="jwks_middleware"):
        response = TestClient(make_app()).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert "database is down" not in response.text
    assert "RuntimeError" in caplog.text
    assert "database is down" in caplog.text
    assert any(record.levelno == logging.ERROR for record in caplog.records)


@pytest.mark.parametrize("token", [mint(), "abc.defghijklmnop.x"], ids=["jwt", "short-parts"])
def test_unexpected_error_echoing_the_token_does_not_log_the_token(
    token: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def echoing(self: TokenVerifier, token: str, *, bound: bool = False) -> Claims:
        payload = token.split(".")[1]
        raise ValueError(f"cannot handle {token!r} (payload {payload})")

    monkeypatch.setattr(TokenVerifier, "begin", echoing)
    with caplog.at_level(logging.DEBUG, logger="jwks_middleware"):
        response = TestClient(make_app()).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert "ValueError: cannot handle" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text
    assert token not in response.text


def test_tokens_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = TestClient(make_app())
    tokens = [mint(), mint(exp=int(NOW) - 3600), mint(aud="https://another-api.test")]
    with caplog.at_level(logging.DEBUG, logger="jwks_middleware"):
        for token in tokens:
            client.get("/", headers=bearer(token))
    for token in tokens:
        assert token.split(".")[2] not in caplog.text


# -- keys never loaded ----------------------------------------------------------------


def unreachable_issuer() -> Issuer:
    return Issuer(ISSUER, audience=AUDIENCE, jwks_uri=f"http://127.0.0.1:{closed_port()}/jwks")


def test_keys_never_loaded_is_a_503_with_retry_after() -> None:
    app = make_app(issuers=[unreachable_issuer()])
    with TestClient(app) as client:
        first = client.get("/", headers=bearer(mint()))
        again = client.get("/", headers=bearer(mint()))
    for response in (first, again):
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert "www-authenticate" not in response.headers
        assert response.json()["error_description"] == "The token signing keys are not available yet"


@pytest.mark.anyio
async def test_keys_never_loaded_without_lifespan_is_a_503_too() -> None:
    middleware = JWKSMiddleware(ok_app, issuers=[unreachable_issuer()], clock=clock)
    scope = http_scope(headers=[(b"authorization", f"Bearer {mint()}".encode())])
    try:
        sent = await RawASGI([]).call(middleware, scope)
    finally:
        await middleware.verifier.aclose()
    assert sent[0]["status"] == 503
    assert middleware.ready() is False


# -- lifespan -------------------------------------------------------------------------


def test_lifespan_of_the_app_still_runs_and_keys_are_ready() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    inner = Starlette(routes=default_routes(), lifespan=lifespan)
    middleware = JWKSMiddleware(inner, issuers=[issuer()], clock=clock)
    with TestClient(middleware) as client:
        assert events == ["startup"]
        assert middleware.ready() is True
        assert middleware.verifier.ready() is True
        assert client.get("/", headers=bearer(mint())).status_code == 200
    assert events == ["startup", "shutdown"]


def test_unreachable_issuer_does_not_stop_the_app_from_starting() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield

    inner = Starlette(routes=default_routes(), lifespan=lifespan)
    middleware = JWKSMiddleware(inner, issuers=[unreachable_issuer()], clock=clock)
    with TestClient(middleware):
        assert events == ["startup"]
        assert middleware.ready() is False


# -- other scopes, state, stacking ----------------------------------------------------


@pytest.mark.anyio
async def test_other_scope_types_pass_through_untouched() -> None:
    calls: list[tuple[Scope, Receive, Send]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append((scope, receive, send))

    middleware = JWKSMiddleware(inner, issuers=[issuer()], clock=clock)
    driver = RawASGI([])
    scope = {"type": "custom.protocol", "path": "/"}
    await middleware(scope, driver.receive, driver.send)
    ((seen_scope, seen_receive, seen_send),) = calls
    assert seen_scope is scope
    assert seen_scope == {"type": "custom.protocol", "path": "/"}
    assert seen_receive == driver.receive
    assert seen_send == driver.send


@pytest.mark.anyio
async def test_state_is_created_when_the_server_sends_none() -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    middleware = JWKSMiddleware(inner, issuers=[issuer()], clock=clock)
    scope = http_scope(headers=[(b"authorization", f"Bearer {mint(sub='frank')}".encode())])
    assert "state" not in scope
    await RawASGI([]).call(middleware, scope)
    assert isinstance(seen[0]["state"]["claims"], Claims)
    assert seen[0]["state"]["claims"].subject == "frank"
    assert seen[0]["user"].display_name == "frank"


def test_works_stacked_with_other_middleware() -> None:
    app = make_app(
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=["testserver"]),
            Middleware(GZipMiddleware, minimum_size=1),
        ]
    )
    client = TestClient(app)
    response = client.get("/", headers={**bearer(mint(sub="gina")), "Accept-Encoding": "gzip"})
    assert response.json()["sub"] == "gina"
    assert response.headers["content-encoding"] == "gzip"
    assert client.get("/").status_code == 401


# -- CORS -----------------------------------------------------------------------------

ORIGIN = "https://app.example.test"
PREFLIGHT = {
    "Origin": ORIGIN,
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


def cors_app(order: str) -> Starlette:
    """The default app with Starlette's CORSMiddleware before ("cors-first") or after this one."""
    cors = Middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_headers=["authorization"])
    jwks = Middleware(JWKSMiddleware, issuers=[issuer()], clock=clock)
    stack = [cors, jwks] if order == "cors-first" else [jwks, cors]
    return Starlette(routes=default_routes(), middleware=stack)


@pytest.mark.parametrize("order", ["cors-first", "jwks-first"])
def test_a_cors_preflight_is_answered_by_cors_whatever_the_order(order: str) -> None:
    response = TestClient(cors_app(order)).options("/", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"]


@pytest.mark.parametrize("order", ["cors-first", "jwks-first"])
def test_the_request_after_the_preflight_is_authenticated_and_gets_cors_headers(order: str) -> None:
    client = TestClient(cors_app(order))
    response = client.get("/", headers={"Origin": ORIGIN, **bearer(mint(sub="hana"))})
    assert response.json()["sub"] == "hana"
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert client.get("/", headers={"Origin": ORIGIN}).status_code == 401


def test_with_cors_first_a_refusal_carries_cors_headers_so_the_browser_can_read_it() -> None:
    response = TestClient(cors_app("cors-first")).get("/", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN


@pytest.mark.anyio
async def test_a_preflight_reaches_the_app_untouched() -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(dict(scope))
        await ok_app(scope, receive, send)

    headers = [(b"origin", ORIGIN.encode()), (b"access-control-request-method", b"DELETE")]
    scope = http_scope(method="OPTIONS", headers=headers)
    sent = await RawASGI([]).call(JWKSMiddleware(inner, issuers=[issuer()], clock=clock), scope)
    assert sent[0]["status"] == 200
    assert seen == [http_scope(method="OPTIONS", headers=headers)]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-cors-headers"),
        pytest.param({"Origin": ORIGIN}, id="origin-only"),
        pytest.param({"Access-Control-Request-Method": "GET"}, id="method-only"),
    ],
)
def test_an_options_request_that_is_no_preflight_is_authenticated(headers: dict[str, str]) -> None:
    client = TestClient(make_app())
    assert client.options("/", headers=headers).status_code == 401
    assert client.options("/", headers={**headers, **bearer("not-a-token")}).status_code == 401


# -- construction ---------------------------------------------------------------------


def test_without_issuers_or_verifier_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="issuers"):
        JWKSMiddleware(ok_app)


def test_with_both_issuers_and_verifier_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="verifier"):
        JWKSMiddleware(ok_app, issuers=[issuer()], verifier=TokenVerifier([issuer()]))


def test_shared_verifier_is_used_and_ready_reflects_it() -> None:
    verifier = TokenVerifier([issuer()], clock=clock)
    app = make_app(verifier=verifier)
    middleware = JWKSMiddleware(ok_app, verifier=verifier)
    assert middleware.verifier is verifier
    assert middleware.ready() is verifier.ready() is True
    response = TestClient(app).get("/", headers=bearer(mint(sub="hank")))
    assert response.json()["sub"] == "hank"


def test_shared_verifier_without_keys_is_not_ready() -> None:
    verifier = TokenVerifier([unreachable_issuer()], clock=clock)
    assert JWKSMiddleware(ok_app, verifier=verifier).ready() is False
