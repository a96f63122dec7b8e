"""Public names under their public path: `jwks_middleware.Issuer`, not `jwks_middleware._issuer.Issuer`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["show_as_public"]


def show_as_public(module: str, namespace: Mapping[str, object], names: Iterable[str]) -> None:
    """Set `__module__` of the classes `module` exports to `module`, so that reprs, tracebacks,
    documentation tools and pickles name the path users import them from."""
    for name in names:
        value = namespace[name]
        if isinstance(value, type) and value.__module__.startswith(f"{module}._"):
            value.__module__ = module
