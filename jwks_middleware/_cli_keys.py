"""`jwks-middleware keys`: an issuer's keys as the library sees them, and the ones it would skip.

The fetches are the key store's (the same `Fetcher`, limits and discovery rules), done step
by step here so that each failure is reported where it happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._fetch import Fetcher, FetchError
from ._issuer import Issuer
from ._keys import KeyRejectedError, VerificationKey, import_jwk

__all__ = ["KeySetFetchError", "list_keys"]


class KeySetFetchError(Exception):
    """Discovery or the JWKS could not be fetched; the message says why."""


async def list_keys(issuer: Issuer, *, clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Fetch the issuer's JWKS (through discovery unless `jwks_uri` is set) and describe each key."""
    fetcher = Fetcher()
    discovered_from = None
    try:
        async with fetcher.session() as client:
            jwks_uri = issuer.jwks_uri
            if jwks_uri is None:
                discovered_from, jwks_uri = await _discover(client, issuer)
            fetched = await Fetcher.get_json(
                client,
                jwks_uri,
                max_bytes=issuer.max_document_bytes,
                timeout=issuer.timeout,
                headers=issuer.fetch_headers,
            )
    except FetchError as error:
        raise KeySetFetchError(str(error)) from None
    document = fetched.document
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise KeySetFetchError(f"{jwks_uri} is not a JWKS: expected an object with a 'keys' array")
    keys: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for index, jwk in enumerate(document["keys"]):
        kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
        kid = kid if isinstance(kid, str) else None
        if index >= issuer.max_keys:  # the key store keeps only the first max_keys
            skipped.append({"kid": kid, "reason": f"more than {issuer.max_keys} keys in the set"})
            continue
        try:
            key = import_jwk(jwk)
        except KeyRejectedError as error:
            skipped.append({"kid": kid, "reason": str(error)})
            continue
        keys.append(_describe(key, jwk, clock()))
    return {
        "issuer": issuer.issuer,
        "discovery_url": discovered_from,
        "jwks_uri": jwks_uri,
        "max_age": fetched.max_age,
        "keys": keys,
        "skipped": skipped,
    }


async def _discover(client: httpx.AsyncClient, issuer: Issuer) -> tuple[str, str]:
    """The first metadata document that answers, and its `jwks_uri` (as `IssuerKeys` does)."""
    errors = []
    for url in issuer.metadata_urls:
        try:
            fetched = await Fetcher.get_json(
                client,
                url,
                max_bytes=issuer.max_document_bytes,
                timeout=issuer.timeout,
                headers=issuer.fetch_headers,
            )
        except FetchError as error:
            errors.append(str(error))
            continue
        metadata = fetched.document
        if not isinstance(metadata, Mapping):
            raise FetchError(f"{url} is not a metadata object")
        # OpenID Connect Discovery 1.0 section 4.3 / RFC 8414 section 3.3: must match exactly.
        if metadata.get("issuer") != issuer.issuer:
            raise FetchError(
                f"{url} names issuer {str(metadata.get('issuer'))[:100]!r}, not {issuer.issuer!r}"
            )
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchError(f"{url} has no jwks_uri")
        return url, jwks_uri
    raise FetchError("; ".join(errors))


def _describe(key: VerificationKey, jwk: Mapping[str, Any], now: float) -> dict[str, Any]:
    alg = jwk.get("alg")
    expires = key.certificate_expires
    return {
        "kid": key.kid,
        "kty": key.kty,
        "alg": alg if isinstance(alg, str) else None,
        "algorithms": sorted(key.algorithms),
        "use": jwk.get("use") if isinstance(jwk.get("use"), str) else None,
        "size": key.size,
        "crv": key.crv,
        "thumbprint": key.thumbprint,
        "certificate_expires": expires.strftime("%Y-%m-%d %H:%M:%S UTC") if expires else None,
        "certificate_expired": expires.timestamp() < now if expires else None,
    }
