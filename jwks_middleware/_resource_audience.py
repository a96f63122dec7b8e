"""RFC 8707 audience binding: a token for a resource names it in `aud`.

When a resource identifier is configured (RFC 9728 metadata, an MCP server), tokens must have
been issued for it: the authorization server puts the `resource` the client asked for
(RFC 8707 section 2) into `aud`, and a token for another resource is refused as
`invalid_token`, like any other wrong audience.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import overload
from urllib.parse import urlsplit

from ._issuer import Issuer
from ._keys.store import IssuerResolver

__all__ = ["issuer_for_resource", "issuers_for_resource", "resource_audiences"]


def resource_audiences(resource: str) -> frozenset[str]:
    """The `aud` values that name `resource` (RFC 8707 section 2): the identifier as written,
    and for an origin-only identifier its spelling with and without the final ``/`` (the same
    URL, RFC 3986 section 6.2.3). ``/mcp`` and ``/mcp/`` are different resources."""
    path = urlsplit(resource).path
    if path == "":
        return frozenset({resource, resource + "/"})
    if path == "/":
        return frozenset({resource, resource[:-1]})
    return frozenset({resource})


def issuer_for_resource(issuer: Issuer, resource: str) -> Issuer:
    """`issuer`, accepting only tokens whose `aud` names `resource` (RFC 8707 section 2).

    A copy is returned with its audiences set to `resource_audiences(resource)` and the
    audience check on, even if the issuer had turned it off. An issuer configured with
    audiences that do not name the resource is a mistake: `ValueError`.
    """
    audiences = resource_audiences(resource)
    if issuer.verify_audience and issuer.audiences == audiences:
        return issuer
    if issuer.verify_audience and not issuer.audiences & audiences:
        raise ValueError(
            f"issuer {issuer.issuer!r} accepts the audience {sorted(issuer.audiences)!r}, but tokens for "
            f"the resource {resource!r} carry it in 'aud' (RFC 8707): add it to the issuer's audience, "
            "or do not require the resource audience"
        )
    bound = copy.copy(issuer)
    bound.audiences = audiences
    bound.verify_audience = True
    return bound


@overload
def issuers_for_resource(issuers: IssuerResolver, resource: str) -> IssuerResolver: ...
@overload
def issuers_for_resource(
    issuers: Iterable[Issuer | IssuerResolver], resource: str
) -> list[Issuer | IssuerResolver]: ...
def issuers_for_resource(
    issuers: Iterable[Issuer | IssuerResolver] | IssuerResolver, resource: str
) -> list[Issuer | IssuerResolver] | IssuerResolver:
    """`issuer_for_resource` applied to each issuer listed, and to each issuer a resolver finds."""
    if callable(issuers):
        resolver = issuers

        def resolve(iss: str) -> Issuer | None:
            found = resolver(iss)
            return issuer_for_resource(found, resource) if found is not None else None

        return resolve
    return [
        issuer_for_resource(source, resource)
        if isinstance(source, Issuer)
        else issuers_for_resource(source, resource)
        for source in issuers
    ]
