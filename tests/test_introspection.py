"""Token introspection (RFC 7662): the configuration, the client, its cache and its refusals.

The endpoint here is an `httpx.MockTransport`; the same behaviours over a real server on
127.0.0.1 are in tests/integration/test_introspection_server.py.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey
from support import NOW, Clock, ec_key, okp_key, rsa_key

from jwks_middleware import AuthEvent, AuthUnavailableError, Introspection, InvalidTokenError
from jwks_middleware._config import INACTIVE_TOKEN_TTL
from jwks_middleware._events import Events
from jwks_middleware._introspection import Introspector
from jwks_middleware._introspection_cache import AnswerCache, CachedAnswer, token_key

pytestmark = pytest.mark.anyio

ISSUER = "https://issuer.example.test"
ENDPOINT = "https://issuer.example.test/introspect"
TOKEN = "opaque-token-1"
ACTIVE = {"active": True, "sub": "user-1", "scope": "read", "client_id": "app", "exp": NOW + 600}

Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Endpoint:
    """An introspection endpoint in memory: answers with `answer` and keeps every request."""

    def __init__(self, answer: Any = ACTIVE, *, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.answer: Any = answer
        self.status = status
        self.release: asyncio.Event | None = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.release is not None:
            await self.release.wait()
        if request.url.path.startswith("/.well-known/"):
            return httpx.Response(200, json={"issuer": ISSUER, "introspection_endpoint": ENDPOINT})
        if isinstance(self.answer, bytes):
            return httpx.Response(
                self.status, content=self.answer, headers={"Content-Type": "application/json"}
            )
        return httpx.Response(self.status, json=self.answer)

    def form(self, index: int = -1) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(self.requests[index].content.decode()).items()}

    def posts(self) -> int:
        return sum(request.method == "POST" for request in self.requests)


@contextmanager
def introspector(
    handler: Handler, clock: Clock, *, events: Events | None = None, **options: Any
) -> Iterator[Introspector]:
    options.setdefault("client_secret", "s3cret")
    options.setdefault("endpoint", ENDPOINT)
    discovery_url = options.pop("discovery_url", None)
    config = Introspection("api", **options)
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    yield Introspector(
        ISSUER, config, http_client=client, clock=clock, events=events, discovery_url=discovery_url
    )


# -- configuration -------------------------------------------------------------------------------


def test_the_repr_shows_no_secret() -> None:
    config = Introspection("api", client_secret="s3cret-value")
    assert "s3cret-value" not in repr(config)
    assert "api" in repr(config)


def test_the_repr_shows_no_private_key() -> None:
    key = ec_key()
    config = Introspection("api", auth_method="private_key_jwt", private_key=key.as_dict(private=True))
    assert str(key.as_dict(private=True)["d"]) not in repr(config)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"client_id": ""}, TypeError),
        ({"client_secret": None}, TypeError),
        ({"auth_method": "client_secret_jwt"}, ValueError),
        ({"private_key": "-----BEGIN PRIVATE KEY-----"}, ValueError),
        ({"auth_method": "private_key_jwt", "client_secret": None}, ValueError),
        ({"endpoint": "ftp://issuer.example.test/introspect"}, ValueError),
        ({"cache_ttl": -1}, ValueError),
        ({"cache_ttl": float("inf")}, ValueError),
        ({"max_stale": float("nan")}, ValueError),
        ({"cache_size": 0}, ValueError),
    ],
)
def test_a_bad_configuration_fails_at_construction(options: dict[str, Any], error: type[Exception]) -> None:
    arguments: dict[str, Any] = {"client_id": "api", "client_secret": "s3cret", **options}
    with pytest.raises(error):
        Introspection(**arguments)


def test_private_key_jwt_needs_a_private_key() -> None:
    public = {name: value for name, value in ec_key().as_dict().items() if name != "d"}
    with pytest.raises(ValueError, match="no private key"):
        Introspection("api", auth_method="private_key_jwt", private_key=public)
    with pytest.raises(TypeError):
        Introspection("api", auth_method="private_key_jwt", private_key=42)
    with pytest.raises(ValueError, match="not a PEM"):
        Introspection("api", auth_method="private_key_jwt", private_key="not a key")


def test_a_private_key_is_accepted_as_pem_jwk_or_key_object() -> None:
    pem = rsa_key().as_pem(private=True)
    for key in (pem, pem.decode(), rsa_key().as_dict(private=True), okp_key()):
        config = Introspection("api", auth_method="private_key_jwt", private_key=key)
        assert config.signing_key is not None


def test_plain_http_endpoints_only_on_loopback_unless_the_issuer_allows_them(clock: Clock) -> None:
    config = Introspection("api", client_secret="s3cret", endpoint="http://idp.internal/introspect")
    with pytest.raises(ValueError, match="https"):
        Introspector(ISSUER, config, clock=clock)
    Introspector(ISSUER, config, clock=clock, allow_http=True)
    loopback = Introspection("api", client_secret="s3cret", endpoint="http://127.0.0.1:8080/introspect")
    Introspector(ISSUER, loopback, clock=clock)


# -- the request ---------------------------------------------------------------------------------


async def test_the_request_is_a_form_post_with_basic_authentication(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, client_secret="p@ss:w rd") as client:
        await client.introspect(TOKEN)
    request = endpoint.requests[0]
    assert request.method == "POST"
    assert str(request.url) == ENDPOINT
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["accept"] == "application/json"
    assert endpoint.form() == {"token": TOKEN, "token_type_hint": "access_token"}
    scheme, _, credentials = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    # RFC 6749 section 2.3.1: form-urlencoded before base64.
    assert base64.b64decode(credentials).decode() == "api:p%40ss%3Aw+rd"


async def test_client_secret_post_sends_the_credentials_in_the_form(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, auth_method="client_secret_post") as client:
        await client.introspect(TOKEN)
    assert "authorization" not in endpoint.requests[0].headers
    assert endpoint.form() == {
        "token": TOKEN,
        "token_type_hint": "access_token",
        "client_id": "api",
        "client_secret": "s3cret",
    }


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
@pytest.mark.parametrize("key", [ec_key(), okp_key()], ids=["ES256", "EdDSA"])
async def test_private_key_jwt_sends_a_fresh_signed_client_assertion(
    clock: Clock, key: ECKey | OKPKey
) -> None:
    endpoint = Endpoint()
    options: dict[str, Any] = {"auth_method": "private_key_jwt", "private_key": key, "client_secret": None}
    with introspector(endpoint, clock, **options) as client:
        await client.introspect(TOKEN)
        await client.introspect("another token")
    forms = [endpoint.form(0), endpoint.form(1)]
    assert forms[0]["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert forms[0]["client_id"] == "api"
    assert "authorization" not in endpoint.requests[0].headers
    algorithm = "ES256" if isinstance(key, ECKey) else "EdDSA"
    claims = [jwt.decode(form["client_assertion"], key, algorithms=[algorithm]).claims for form in forms]
    assert claims[0]["iss"] == claims[0]["sub"] == "api"
    assert claims[0]["aud"] == ENDPOINT
    assert claims[0]["iat"] == NOW
    assert claims[0]["exp"] == NOW + 60
    assert claims[0]["jti"] != claims[1]["jti"]


async def test_the_assertion_audience_can_be_the_issuer(clock: Clock) -> None:
    endpoint = Endpoint()
    options: dict[str, Any] = {
        "auth_method": "private_key_jwt",
        "private_key": ec_key(),
        "client_secret": None,
    }
    with introspector(endpoint, clock, assertion_audience=ISSUER, **options) as client:
        await client.introspect(TOKEN)
    assertion = endpoint.form()["client_assertion"]
    assert jwt.decode(assertion, ec_key(), algorithms=["ES256"]).claims["aud"] == ISSUER


# -- answers -------------------------------------------------------------------------------------


async def test_an_active_answer_gives_its_members_without_active(clock: Clock) -> None:
    with introspector(Endpoint(), clock) as client:
        claims = await client.introspect(TOKEN)
    assert claims == {"sub": "user-1", "scope": "read", "client_id": "app", "exp": NOW + 600, "iss": ISSUER}


async def test_the_answer_keeps_the_issuer_it_names(clock: Clock) -> None:
    with introspector(Endpoint({**ACTIVE, "iss": "https://elsewhere.test"}), clock) as client:
        assert (await client.introspect(TOKEN))["iss"] == "https://elsewhere.test"


async def test_an_inactive_token_is_refused_and_remembered_briefly(clock: Clock) -> None:
    endpoint = Endpoint({"active": False})
    with introspector(endpoint, clock) as client:
        for _ in range(2):
            with pytest.raises(InvalidTokenError):
                await client.introspect(TOKEN)
        assert endpoint.posts() == 1
        clock.advance(INACTIVE_TOKEN_TTL)
        with pytest.raises(InvalidTokenError):
            await client.introspect(TOKEN)
    assert endpoint.posts() == 2


@pytest.mark.parametrize("answer", [[ACTIVE], "active", {"active": "true"}, {"sub": "user-1"}, b"null"])
async def test_an_answer_without_active_true_is_refused_and_not_remembered(clock: Clock, answer: Any) -> None:
    endpoint = Endpoint(answer)
    with introspector(endpoint, clock) as client:
        for _ in range(2):
            with pytest.raises(InvalidTokenError):
                await client.introspect(TOKEN)
    assert endpoint.posts() == 2


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (ACTIVE, 500),
        (ACTIVE, 503),
        ({"error": "invalid_request"}, 400),
        (b"<html>maintenance</html>", 200),
        (b"x" * 200_000, 200),
    ],
    ids=["500", "503", "400", "not JSON", "too large"],
)
async def test_an_endpoint_that_cannot_answer_is_unavailable(clock: Clock, answer: Any, status: int) -> None:
    with introspector(Endpoint(answer, status=status), clock) as client, pytest.raises(AuthUnavailableError):
        await client.introspect(TOKEN)


async def test_a_redirect_is_not_followed(clock: Clock) -> None:
    endpoint = Endpoint()

    async def redirect(request: httpx.Request) -> httpx.Response:
        await endpoint(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.test/introspect"})

    with introspector(redirect, clock) as client, pytest.raises(AuthUnavailableError, match="redirect"):
        await client.introspect(TOKEN)
    assert len(endpoint.requests) == 1


async def test_refused_client_credentials_are_unavailable_with_an_error_event(clock: Clock) -> None:
    events: list[AuthEvent] = []
    endpoint = Endpoint({"error": "invalid_client"}, status=401)
    with (
        introspector(endpoint, clock, events=Events(events.append)) as client,
        pytest.raises(AuthUnavailableError, match="client credentials"),
    ):
        await client.introspect(TOKEN)
    assert [event.kind for event in events] == ["introspection_unauthorized"]
    assert "client_id 'api'" in events[0].detail
    assert "s3cret" not in events[0].detail


async def test_a_broken_client_is_unavailable_not_an_exception(clock: Clock) -> None:
    async def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("the client was closed")

    with introspector(broken, clock) as client, pytest.raises(AuthUnavailableError):
        await client.introspect(TOKEN)


async def test_the_token_is_never_in_events_or_logs(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    events: list[AuthEvent] = []
    caplog.set_level(logging.DEBUG, logger="jwks_middleware")
    for status in (500, 401):
        with (
            introspector(Endpoint(status=status), clock, events=Events(events.append)) as client,
            pytest.raises(AuthUnavailableError),
        ):
            await client.introspect(TOKEN)
    assert events
    assert all(TOKEN not in event.detail for event in events)
    assert TOKEN not in caplog.text


# -- the cache -----------------------------------------------------------------------------------


async def test_an_answer_is_reused_until_the_cache_ttl(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, cache_ttl=30) as client:
        await client.introspect(TOKEN)
        clock.advance(29)
        await client.introspect(TOKEN)
        assert endpoint.posts() == 1
        clock.advance(1)
        await client.introspect(TOKEN)
    assert endpoint.posts() == 2


async def test_an_answer_is_never_reused_past_the_token_exp(clock: Clock) -> None:
    endpoint = Endpoint({**ACTIVE, "exp": NOW + 10})
    with introspector(endpoint, clock, cache_ttl=60) as client:
        await client.introspect(TOKEN)
        clock.advance(10)
        await client.introspect(TOKEN)
    assert endpoint.posts() == 2


async def test_a_cache_ttl_of_zero_asks_every_time(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, cache_ttl=0) as client:
        await client.introspect(TOKEN)
        await client.introspect(TOKEN)
    assert endpoint.posts() == 2


async def test_a_stale_answer_serves_while_the_endpoint_is_down(clock: Clock) -> None:
    events: list[AuthEvent] = []
    endpoint = Endpoint({**ACTIVE, "exp": NOW + 600})
    with introspector(endpoint, clock, cache_ttl=60, max_stale=300, events=Events(events.append)) as client:
        await client.introspect(TOKEN)
        endpoint.status = 503
        clock.advance(60 + 299)
        assert (await client.introspect(TOKEN))["sub"] == "user-1"
        assert events[-1].kind == "introspection_failed"
        clock.advance(1)
        with pytest.raises(AuthUnavailableError):
            await client.introspect(TOKEN)


async def test_a_stale_answer_never_outlives_the_token(clock: Clock) -> None:
    endpoint = Endpoint({**ACTIVE, "exp": NOW + 90})
    with introspector(endpoint, clock, cache_ttl=60, max_stale=300) as client:
        await client.introspect(TOKEN)
        endpoint.status = 503
        clock.advance(90)
        with pytest.raises(AuthUnavailableError):
            await client.introspect(TOKEN)


async def test_a_stale_answer_is_not_used_when_the_issuer_says_inactive(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, cache_ttl=60) as client:
        await client.introspect(TOKEN)
        endpoint.answer = {"active": False}
        clock.advance(60)
        with pytest.raises(InvalidTokenError):
            await client.introspect(TOKEN)


async def test_forget_and_clear_drop_answers(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock) as client:
        await client.introspect(TOKEN)
        client.forget(TOKEN)
        await client.introspect(TOKEN)
        client.clear()
        await client.introspect(TOKEN)
    assert endpoint.posts() == 3


async def test_the_returned_claims_are_a_copy(clock: Clock) -> None:
    with introspector(Endpoint(), clock) as client:
        (await client.introspect(TOKEN))["sub"] = "someone else"
        assert (await client.introspect(TOKEN))["sub"] == "user-1"


async def test_concurrent_introspections_of_one_token_share_one_post(clock: Clock) -> None:
    endpoint = Endpoint()
    endpoint.release = asyncio.Event()
    with introspector(endpoint, clock) as client:
        waiters = [asyncio.ensure_future(client.introspect(TOKEN)) for _ in range(20)]
        other = asyncio.ensure_future(client.introspect("another token"))
        await asyncio.sleep(0)
        endpoint.release.set()
        answers = await asyncio.gather(*waiters, other)
    assert all(answer["sub"] == "user-1" for answer in answers)
    assert endpoint.posts() == 2


async def test_a_waiter_that_goes_away_does_not_cancel_the_others(clock: Clock) -> None:
    endpoint = Endpoint()
    endpoint.release = asyncio.Event()
    with introspector(endpoint, clock) as client:
        first = asyncio.ensure_future(client.introspect(TOKEN))
        second = asyncio.ensure_future(client.introspect(TOKEN))
        await asyncio.sleep(0)
        first.cancel()
        endpoint.release.set()
        assert (await second)["sub"] == "user-1"
    assert endpoint.posts() == 1


def test_the_cache_is_bounded_and_keyed_by_a_digest(clock: Clock) -> None:
    cache = AnswerCache(4, clock)
    for index in range(10):
        cache.put(token_key(f"token-{index}"), CachedAnswer({"n": index}, NOW + 60, NOW + 60))
    assert len(cache) <= 4
    assert cache.get(token_key("token-9")) is not None
    assert token_key(TOKEN) == token_key(TOKEN)
    assert TOKEN.encode() not in token_key(TOKEN)
    assert len(token_key("x" * 16_000)) == 32


# -- discovery -----------------------------------------------------------------------------------


async def test_the_endpoint_is_read_from_discovery_once(clock: Clock) -> None:
    endpoint = Endpoint()
    with introspector(endpoint, clock, endpoint=None) as client:
        await client.introspect(TOKEN)
        await client.introspect("another token")
    paths = [request.url.path for request in endpoint.requests]
    assert paths == ["/.well-known/openid-configuration", "/introspect", "/introspect"]


async def test_the_metadata_can_come_from_a_callable(clock: Clock) -> None:
    endpoint = Endpoint()

    async def metadata() -> dict[str, Any]:
        return {"issuer": ISSUER, "introspection_endpoint": ENDPOINT}

    with introspector(endpoint, clock, endpoint=None, discovery_url=metadata) as client:
        await client.introspect(TOKEN)
    assert [request.url.path for request in endpoint.requests] == ["/introspect"]


@pytest.mark.parametrize(
    "metadata",
    [
        {"issuer": "https://other.example.test", "introspection_endpoint": ENDPOINT},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "introspection_endpoint": "http://idp.example.test/introspect"},
        ["not", "an", "object"],
    ],
    ids=["other issuer", "no endpoint", "plain http", "not an object"],
)
async def test_unusable_metadata_is_unavailable(clock: Clock, metadata: Any) -> None:
    async def source() -> Any:
        return metadata

    with (
        introspector(Endpoint(), clock, endpoint=None, discovery_url=source) as client,
        pytest.raises(AuthUnavailableError),
    ):
        await client.introspect(TOKEN)


async def test_a_metadata_callable_that_raises_is_unavailable(clock: Clock) -> None:
    async def source() -> Any:
        raise KeyError("metadata")

    with (
        introspector(Endpoint(), clock, endpoint=None, discovery_url=source) as client,
        pytest.raises(AuthUnavailableError, match="KeyError"),
    ):
        await client.introspect(TOKEN)


async def test_a_failed_discovery_is_tried_again(clock: Clock) -> None:
    endpoint = Endpoint()
    answers = iter([{"issuer": ISSUER}, {"issuer": ISSUER, "introspection_endpoint": ENDPOINT}])

    async def source() -> Any:
        return next(answers)

    with introspector(endpoint, clock, endpoint=None, discovery_url=source) as client:
        with pytest.raises(AuthUnavailableError):
            await client.introspect(TOKEN)
        assert (await client.introspect(TOKEN))["sub"] == "user-1"
