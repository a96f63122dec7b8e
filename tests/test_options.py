"""The verifier options: one set of names, taken alike by the verifier, the middleware and the
FastAPI wiring, and checked once at construction."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from support import AUDIENCE, ISSUER, NOW, Clock, make_issuer, mint

from jwks_middleware import JWKSMiddleware, TokenVerifier, VerifierOptions, VerifierSettings
from jwks_middleware.fastapi import JWKSAuth

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _options_of(constructor: Any) -> list[str]:
    parameters = inspect.signature(constructor).parameters.values()
    return [parameter.name for parameter in parameters if parameter.kind is inspect.Parameter.VAR_KEYWORD]


def test_the_three_constructors_take_the_same_options_in_the_same_order() -> None:
    names = list(VerifierOptions.__annotations__)
    assert names == [field.name for field in VerifierSettings.__dataclass_fields__.values()]
    assert names == [
        "http_client",
        "clock",
        "on_event",
        "token_cache_size",
        "max_token_bytes",
        "max_resolved_issuers",
    ]
    for constructor in (TokenVerifier, JWKSMiddleware, JWKSAuth):
        assert _options_of(constructor) == ["options"], constructor


@pytest.mark.parametrize("name", ["token_cache_size", "max_token_bytes", "max_resolved_issuers"])
def test_every_option_is_reachable_from_each_constructor(name: str) -> None:
    value = {"token_cache_size": 7, "max_token_bytes": 4096, "max_resolved_issuers": 3}[name]
    option: dict[str, Any] = {name: value}
    issuers = [make_issuer()]
    made = [
        TokenVerifier(issuers, **option),
        JWKSMiddleware(lambda *_: None, issuers=issuers, **option).verifier,  # type: ignore[arg-type]
    ]
    auth_verifier = JWKSAuth(issuers, **option).verifier
    assert auth_verifier is not None
    for verifier in [*made, auth_verifier]:
        assert getattr(verifier.options, name) == value


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"token_cache_size": -1}, ValueError),
        ({"max_token_bytes": 100}, ValueError),
        ({"max_resolved_issuers": 0}, ValueError),
        ({"token_cache_size": "big"}, TypeError),
        ({"clock": 5}, TypeError),
        ({"on_event": "log"}, TypeError),
        ({"cache_size": 5}, TypeError),
    ],
)
def test_bad_options_raise_at_construction_from_each_constructor(
    options: dict[str, Any], error: type
) -> None:
    issuers = [make_issuer()]
    with pytest.raises(error):
        TokenVerifier(issuers, **options)
    with pytest.raises(error):
        JWKSMiddleware(lambda *_: None, issuers=issuers, **options)  # type: ignore[arg-type]
    with pytest.raises(error):
        JWKSAuth(issuers, **options)


def test_options_with_a_ready_verifier_are_refused_not_ignored() -> None:
    verifier = TokenVerifier([make_issuer()])
    with pytest.raises(TypeError, match="token_cache_size"):
        JWKSMiddleware(lambda *_: None, verifier=verifier, token_cache_size=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="token_cache_size"):
        JWKSAuth(verifier=verifier, token_cache_size=5)
    with pytest.raises(TypeError, match="need issuers"):
        JWKSAuth(token_cache_size=5)


async def test_the_options_are_used() -> None:
    events: list[object] = []
    clock = Clock(NOW)
    verifier = TokenVerifier([make_issuer()], clock=clock, on_event=events.append, token_cache_size=0)
    claims = await verifier.verify(mint())
    assert claims.issuer == ISSUER
    assert AUDIENCE in (claims.audience or ())
    assert verifier.cached(mint()) is None  # the cache is off
    assert events  # the hook saw the verification
