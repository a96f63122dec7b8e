"""`combine`: one resolver from the issuers and resolvers the presets make."""

from __future__ import annotations

from collections.abc import Iterable

from .._issuer import Issuer
from .._keys.store import IssuerResolver


def combine(*sources: Issuer | Iterable[Issuer] | IssuerResolver) -> IssuerResolver:
    """One resolver from issuers, lists of issuers and resolvers (`EntraTenants`).

    A configured `Issuer` wins over resolvers for its `iss`; resolvers are asked in order.
    The `issuers=` list of the verifier takes issuers and resolvers mixed too; `combine` is for
    places that take exactly one resolver.
    """
    fixed: dict[str, Issuer] = {}
    resolvers: list[IssuerResolver] = []
    for source in sources:
        if isinstance(source, Issuer):
            issuers: Iterable[object] = (source,)
        elif callable(source):
            resolvers.append(source)
            continue
        else:
            issuers = source
        for issuer in issuers:
            if not isinstance(issuer, Issuer):
                raise TypeError(f"combine() takes issuers and resolvers, not {type(issuer).__name__}")
            for iss in (issuer.issuer, *issuer.aliases):
                if iss in fixed:
                    raise ValueError(f"issuer {iss!r} is configured twice")
                fixed[iss] = issuer
    if not fixed and not resolvers:
        raise ValueError("combine() needs at least one issuer or resolver")

    def resolve(iss: str) -> Issuer | None:
        found = fixed.get(iss)
        for resolver in resolvers:
            if found is not None:
                break
            found = resolver(iss)
        return found

    return resolve
