"""`jwks-middleware keys`: an issuer's keys as the library sees them, and the ones it would skip.

The fetches are the key store's (the same `Fetcher`, limits and discovery rules), done step
by step here so that each failure is reported where it happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .._issuer import Issuer
from .._jwk import VerificationKey, import_key_set
from .._keys.fetch import Fetcher, FetchError, discover_jwks_uri, get_issuer_document

__all__ = ["KeySetFetchError", "list_keys"]


class KeySetFetchError(Exception):
    """Discovery or the JWKS could not be fetched; the message says why."""


async def list_keys(issuer: Issuer, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Fetch the issuer's JWKS (through discovery unless `jwks_uri` is set) and describe each key."""
    discovered_from = None
    try:
        async with Fetcher().session() as client:
            jwks_uri = issuer.jwks_uri
            if jwks_uri is None:
                discovered_from, jwks_uri = await discover_jwks_uri(client, issuer)
            fetched = await get_issuer_document(client, issuer, jwks_uri)
    except FetchError as error:
        raise KeySetFetchError(str(error)) from None
    try:
        imported = import_key_set(fetched.document, max_keys=issuer.max_keys)
    except ValueError as error:
        raise KeySetFetchError(f"{jwks_uri} is {error}") from None
    now = clock()
    return {
        "issuer": issuer.issuer,
        "discovery_url": discovered_from,
        "jwks_uri": jwks_uri,
        "max_age": fetched.max_age,
        "keys": [_describe(key, now) for key in imported.keys],
        "skipped": [{"kid": skipped.kid, "reason": skipped.reason} for skipped in imported.skipped],
    }


def _describe(key: VerificationKey, now: float) -> dict[str, Any]:
    expires = key.certificate_expires
    return {
        "kid": key.kid,
        "kty": key.kty,
        "alg": key.declared_alg,
        "algorithms": sorted(key.algorithms),
        "use": key.use,
        "size": key.size,
        "crv": key.crv,
        "thumbprint": key.thumbprint,
        "certificate_expires": expires.strftime("%Y-%m-%d %H:%M:%S UTC") if expires else None,
        "certificate_expired": expires.timestamp() < now if expires else None,
    }
