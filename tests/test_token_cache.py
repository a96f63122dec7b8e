"""The verified-token cache: a repeated token costs a lookup and a time check, never outlives
its `exp`, `nbf` or the key that verified it, and never answers for another token."""

from __future__ import annotations

import httpx
import pytest
from support import NOW, Clock, claims, jwks, make_issuer, make_verifier, mint, public_jwk, rsa_key, segment

from jwks_middleware import ExpiredTokenError, ImmatureTokenError, InvalidSignatureError, UnknownKeyError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_cache_hit_returns_the_same_claims() -> None:
    verifier = make_verifier()
    token = mint()
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first


async def test_cached_token_is_refused_once_the_clock_passes_exp_and_leeway() -> None:
    clock = Clock()
    verifier = make_verifier(clock=clock)
    token = mint(exp=NOW + 100)
    assert await verifier.verify(token)
    clock.advance(100 + 60 - 1)
    assert await verifier.verify(token)  # a second before exp + leeway: still valid
    clock.advance(1)
    # Exactly exp + leeway: expired (RFC 7519 section 4.1.4), on the cached path as on first sight.
    assert verifier.cached(token) is None
    with pytest.raises(ExpiredTokenError):
        await verifier.verify(token)


async def test_cached_token_is_refused_when_the_clock_goes_back_before_nbf() -> None:
    clock = Clock()
    verifier = make_verifier(clock=clock)
    token = mint(nbf=NOW + 30, iat=NOW - 100)
    assert await verifier.verify(token)
    clock.advance(-100)
    with pytest.raises(ImmatureTokenError):
        await verifier.verify(token)


async def test_token_cache_size_zero_disables_the_cache() -> None:
    verifier = make_verifier(token_cache_size=0)
    token = mint()
    first = await verifier.verify(token)
    second = await verifier.verify(token)
    assert first == second
    assert first is not second


async def test_cache_never_accepts_a_different_token() -> None:
    verifier = make_verifier()
    token = mint()
    assert await verifier.verify(token)
    token_header, payload, signature = token.split(".")
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(f"{token_header}.{payload}.{signature[:-4]}AAAA")


async def test_forged_token_sharing_a_cached_signature_is_not_served_from_the_cache() -> None:
    verifier = make_verifier()
    token = mint()
    assert await verifier.verify(token)
    token_header, _, signature = token.split(".")
    forged = f"{token_header}.{segment(claims(sub='admin'))}.{signature}"
    assert verifier.cached(forged) is None
    with pytest.raises(InvalidSignatureError):
        await verifier.verify(forged)


async def test_token_in_constant_use_stays_cached_while_others_come_and_go() -> None:
    verifier = make_verifier(token_cache_size=4)
    busy = mint(sub="busy")
    first = await verifier.verify(busy)
    for index in range(20):
        other = await verifier.verify(mint(sub=f"user-{index}"))
        assert other.subject == f"user-{index}"
        assert await verifier.verify(busy) is first


async def test_cached_answers_only_for_a_token_verified_before_and_still_valid() -> None:
    clock = Clock()
    verifier = make_verifier(clock=clock)
    token = mint(exp=NOW + 100)
    assert verifier.cached(token) is None
    verified = await verifier.verify(token)
    assert verifier.cached(token) is verified
    clock.advance(100 + 60 + 1)
    assert verifier.cached(token) is None
    assert make_verifier(token_cache_size=0).cached(token) is None


@pytest.mark.parametrize("token_cache_size", [10, 0])
async def test_key_removed_from_the_jwks_drops_the_tokens_it_verified(token_cache_size: int) -> None:
    published = [public_jwk(rsa_key(0), kid="old")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks(*published))

    issuer = make_issuer(jwks_uri="https://issuer.example.test/jwks", refresh_cooldown=0)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        verifier = make_verifier(issuer, http_client=client, token_cache_size=token_cache_size)
        try:
            old_token = mint(rsa_key(0), kid="old")
            assert await verifier.verify(old_token)
            assert await verifier.verify(old_token)  # from the cache
            published[:] = [public_jwk(rsa_key(1), kid="new")]
            # A token with the new kid makes the verifier fetch the rotated set, which drops "old".
            assert await verifier.verify(mint(rsa_key(1), kid="new"))
            with pytest.raises(UnknownKeyError):
                await verifier.verify(old_token)
        finally:
            await verifier.aclose()
