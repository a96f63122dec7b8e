"""RFC 6750 refusals: the `WWW-Authenticate` challenge, the JSON body, WebSocket denials."""

from __future__ import annotations

import re
from typing import Final

import httpx2
import pytest
from asgi_helpers import RawASGI, bearer, clock, closed_port, forge, issuer, make_app, websocket_scope
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.types import Receive, Scope, Send
from support import AUDIENCE, ISSUER, NOW, mint

from jwks_middleware import (
    AuthError,
    ExpiredTokenError,
    InsufficientScopeError,
    InvalidRequestError,
    InvalidTokenError,
    Issuer,
    JWKSMiddleware,
    KeysUnavailableError,
    MissingTokenError,
    UseDPoPNonceError,
)
from jwks_middleware._responses import Challenges, challenge, error_body, refusal_header_map, refusal_headers

# RFC 6750 section 3: the characters a challenge's quoted values may hold.
CHALLENGE_CHARACTERS: Final = re.compile(r"[\x20-\x7e]*")
CRAFTED: Final = 'x", error="hacked"\r\nSet-Cookie: pwned=1\n\\ \u00e9'


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def assert_nothing_echoed(response: httpx2.Response) -> None:
    for name, value in response.headers.multi_items():
        assert CHALLENGE_CHARACTERS.fullmatch(value), name
        assert "hacked" not in value
        assert "pwned" not in value
    assert "set-cookie" not in response.headers
    assert "hacked" not in response.text
    assert "pwned" not in response.text


# -- the challenge --------------------------------------------------------------------


def test_invalid_token_challenge_names_error_and_description() -> None:
    assert challenge(ExpiredTokenError("token expired 2 h ago")) == (
        'Bearer error="invalid_token", error_description="The access token expired"'
    )


def test_missing_token_challenge_has_no_error_code() -> None:
    assert challenge(MissingTokenError()) == "Bearer"


def test_realm_comes_first_in_the_challenge() -> None:
    assert challenge(MissingTokenError(), realm="api") == 'Bearer realm="api"'
    assert challenge(InvalidRequestError("two headers"), realm="api") == (
        'Bearer realm="api", error="invalid_request", error_description="The request is malformed"'
    )


def test_insufficient_scope_challenge_names_the_required_scopes() -> None:
    error = InsufficientScopeError(["read:items", "write:items"], ["write:items"])
    assert challenge(error) == (
        'Bearer error="insufficient_scope", error_description="The access token lacks the required scope", '
        'scope="read:items write:items"'
    )


def test_challenge_drops_characters_outside_rfc_6750() -> None:
    error = InvalidTokenError(description='bad "quote" \\ back\r\nslash \u00e9')
    value = challenge(error, realm='my "realm"\n')
    assert value == (
        'Bearer realm="my realm", error="invalid_token", error_description="bad quote  backslash "'
    )
    scoped = challenge(InsufficientScopeError(['read "x"', "a\nb"], ["a\nb"]))
    assert scoped.endswith('scope="readx ab"')


def test_detail_never_reaches_the_challenge_or_body() -> None:
    error = ExpiredTokenError("token expired at 1700000000 for sub alice")
    assert "alice" not in challenge(error)
    assert "alice" not in str(error_body(error))


@pytest.mark.parametrize(
    ("error", "body"),
    [
        (MissingTokenError(), {"error": "unauthorized", "error_description": "Authentication required"}),
        (
            InvalidRequestError("x"),
            {"error": "invalid_request", "error_description": "The request is malformed"},
        ),
        (
            KeysUnavailableError("x"),
            {"error": "unavailable", "error_description": "The token signing keys are not available yet"},
        ),
        (
            InsufficientScopeError(["a", "b"], ["b"]),
            {
                "error": "insufficient_scope",
                "error_description": "The access token lacks the required scope",
                "scope": "a b",
            },
        ),
    ],
)
def test_error_body_carries_code_and_description(error: AuthError, body: dict[str, str]) -> None:
    assert error_body(error) == body


# -- over HTTP ------------------------------------------------------------------------


def test_refusal_is_json_with_length_and_no_store() -> None:
    response = TestClient(make_app()).get("/", headers=bearer("a.b.c"))
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "The access token is malformed",
    }


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="another-scheme"),
        pytest.param({"Authorization": "Bearer"}, id="malformed"),
        pytest.param(bearer("a.b.c"), id="invalid-token"),
    ],
)
def test_realm_appears_in_every_challenge(headers: dict[str, str]) -> None:
    response = TestClient(make_app(realm="orders-api")).get("/", headers=headers)
    assert response.status_code in (400, 401)
    assert response.headers["www-authenticate"].startswith('Bearer realm="orders-api"')


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(mint(aud=CRAFTED), id="audience"),
        pytest.param(mint(iss=CRAFTED), id="issuer"),
        pytest.param(mint(exp=int(NOW) - 3600, sub=CRAFTED), id="expired-subject"),
        pytest.param(mint(header_members={"kid": CRAFTED}), id="kid"),
        pytest.param(mint(header_members={"typ": CRAFTED}), id="typ"),
        pytest.param(forge({"alg": CRAFTED, "kid": "k"}, {"iss": ISSUER}), id="alg"),
        pytest.param(forge({"alg": "RS256", "crit": [CRAFTED]}, {}), id="crit"),
        pytest.param(mint(exp=CRAFTED), id="exp"),
    ],
)
def test_refusal_never_echoes_what_the_client_sent(token: str) -> None:
    response = TestClient(make_app(realm="api")).get("/", headers=bearer(token))
    assert response.status_code == 401
    assert_nothing_echoed(response)


def test_valid_token_with_crafted_claims_is_accepted_and_nothing_leaks_into_headers() -> None:
    response = TestClient(make_app()).get("/", headers=bearer(mint(sub=CRAFTED)))
    assert response.status_code == 200
    assert response.json()["sub"] == CRAFTED
    for _, value in response.headers.multi_items():
        assert "hacked" not in value


def test_503_has_retry_after_and_no_challenge() -> None:
    unreachable = Issuer(ISSUER, audience=AUDIENCE, jwks_uri=f"http://127.0.0.1:{closed_port()}/")
    with TestClient(make_app(issuers=[unreachable], realm="api")) as client:
        response = client.get("/", headers=bearer(mint()))
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert "www-authenticate" not in response.headers
    assert response.json()["error"] == "unavailable"


# -- WebSocket handshakes -------------------------------------------------------------


def test_websocket_refusal_is_a_401_denial_response_when_supported() -> None:
    client = TestClient(make_app(realm="api"))
    with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/ws"):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 401
    assert denied.value.headers["www-authenticate"] == 'Bearer realm="api"'
    assert denied.value.json() == {"error": "unauthorized", "error_description": "Authentication required"}


def test_websocket_invalid_token_is_a_401_invalid_token_denial() -> None:
    client = TestClient(make_app())
    with (
        pytest.raises(WebSocketDenialResponse) as denied,
        client.websocket_connect("/ws", headers=bearer(mint(exp=int(NOW) - 3600))),
    ):
        pass  # pragma: no cover - the handshake is refused
    assert denied.value.status_code == 401
    assert 'error="invalid_token"' in denied.value.headers["www-authenticate"]


def never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the app must not see a refused handshake")  # pragma: no cover


@pytest.mark.anyio
async def test_websocket_refusal_without_denial_extension_closes_with_1008_before_accept() -> None:
    middleware = JWKSMiddleware(never_called, issuers=[issuer()], clock=clock)  # type: ignore[arg-type]
    sent = await RawASGI([{"type": "websocket.connect"}]).call(middleware, websocket_scope())
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "Authentication required"}]


@pytest.mark.anyio
async def test_websocket_invalid_token_without_denial_extension_closes_with_1008() -> None:
    middleware = JWKSMiddleware(never_called, issuers=[issuer()], clock=clock)  # type: ignore[arg-type]
    headers = [(b"authorization", b"Bearer a.b.c")]
    sent = await RawASGI([{"type": "websocket.connect"}]).call(middleware, websocket_scope(headers=headers))
    assert [message["type"] for message in sent] == ["websocket.close"]
    assert sent[0]["code"] == 1008
    assert sent[0]["reason"] == "The access token is malformed"


@pytest.mark.anyio
async def test_websocket_client_gone_before_connect_gets_nothing() -> None:
    middleware = JWKSMiddleware(never_called, issuers=[issuer()], clock=clock)  # type: ignore[arg-type]
    sent = await RawASGI([{"type": "websocket.disconnect", "code": 1001}]).call(middleware, websocket_scope())
    assert sent == []


# -- several schemes (RFC 9449 section 7.1) and the metadata URL (RFC 9728 section 5.1) --------

METADATA: Final = "https://api.test/.well-known/oauth-protected-resource"
BOTH: Final = Challenges(realm="api", dpop_algorithms=("ES256", "PS256"), resource_metadata=METADATA)


def test_without_credentials_both_schemes_are_offered_without_an_error() -> None:
    assert BOTH.values(MissingTokenError()) == [
        f'Bearer realm="api", resource_metadata="{METADATA}"',
        f'DPoP realm="api", resource_metadata="{METADATA}", algs="ES256 PS256"',
    ]


def test_the_error_goes_into_the_challenge_of_the_scheme_used_which_comes_first() -> None:
    expired = ExpiredTokenError("expired")
    bearer_values = BOTH.values(expired)
    assert bearer_values[0].startswith('Bearer realm="api", error="invalid_token"')
    assert "error=" not in bearer_values[1]
    dpop_values = BOTH.for_scheme("dpop").values(expired)
    assert dpop_values[0].startswith('DPoP realm="api", error="invalid_token"')
    assert dpop_values[1].startswith("Bearer")
    assert "error=" not in dpop_values[1]


def test_a_proof_error_goes_to_the_dpop_challenge_and_a_nonce_is_sent() -> None:
    error = UseDPoPNonceError("no nonce", nonce="n-1")
    headers = refusal_headers(error, BOTH)
    challenges = [value.decode() for name, value in headers if name == b"www-authenticate"]
    assert challenges[0].startswith('DPoP realm="api", error="use_dpop_nonce"')
    assert (b"dpop-nonce", b"n-1") in headers


def test_dpop_only_offers_no_bearer_challenge_and_a_mapping_joins_challenges() -> None:
    dpop_only = Challenges(bearer=False, dpop_algorithms=("ES256",))
    assert dpop_only.values(ExpiredTokenError()) == [
        'DPoP error="invalid_token", error_description="The access token expired", algs="ES256"'
    ]
    joined = refusal_header_map(MissingTokenError(), Challenges(dpop_algorithms=("ES256",)))
    assert joined["www-authenticate"] == 'Bearer, DPoP algs="ES256"'
