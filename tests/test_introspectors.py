"""Where tokens go: a compact JWS to its issuer's keys, anything else to the one issuer that
takes opaque tokens (configuration decides, never the token)."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from support import ISSUER, OTHER_ISSUER, Clock, make_issuer, mint

from jwks_middleware import Introspection, MalformedTokenError, TokenVerifier

pytestmark = pytest.mark.anyio

ENDPOINT = "https://issuer.example.test/introspect"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def introspection(**options: object) -> Introspection:
    return Introspection("api", client_secret="secret", endpoint=ENDPOINT, **options)  # type: ignore[arg-type]


def answering(asked: list[str]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.content.decode())
        return httpx.Response(
            200, json={"active": True, "iss": ISSUER, "aud": "https://api.example.test", "exp": 1_700_000_600}
        )

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_a_token_that_is_not_a_jws_goes_to_the_introspecting_issuer() -> None:
    asked: list[str] = []
    verifier = TokenVerifier(
        [make_issuer(introspection=introspection())], clock=Clock(), http_client=answering(asked)
    )
    claims = await verifier.verify("an-opaque-reference")
    assert claims.issuer == ISSUER
    assert asked == ["token=an-opaque-reference&token_type_hint=access_token"]
    await verifier.verify(mint())  # a JWS goes to the keys: nothing asked
    assert len(asked) == 1


async def test_without_an_introspecting_issuer_an_opaque_token_is_malformed() -> None:
    verifier = TokenVerifier([make_issuer()], clock=Clock())
    with pytest.raises(MalformedTokenError):
        await verifier.verify("an-opaque-reference")


def test_two_issuers_taking_opaque_tokens_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="opaque_tokens=False"):
        TokenVerifier(
            [
                make_issuer(introspection=introspection()),
                make_issuer(OTHER_ISSUER, introspection=introspection()),
            ]
        )
    TokenVerifier(
        [
            make_issuer(introspection=introspection()),
            make_issuer(OTHER_ISSUER, introspection=introspection(opaque_tokens=False, all_tokens=True)),
        ]
    )


async def test_the_digest_of_a_cached_opaque_token_is_no_token() -> None:
    """Verdicts are kept under the token's SHA-256: that digest, sent as a token, opens nothing."""
    asked: list[str] = []
    verifier = TokenVerifier(
        [make_issuer(introspection=introspection())], clock=Clock(), http_client=answering(asked)
    )
    assert await verifier.verify("an-opaque-reference")
    digest = hashlib.sha256(b"an-opaque-reference").hexdigest()
    assert verifier.cached(digest) is None
    await verifier.verify(digest)  # not the cached verdict: asked of the issuer like any token
    assert asked[-1] == f"token={digest}&token_type_hint=access_token"
