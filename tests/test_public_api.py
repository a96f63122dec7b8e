"""The public names of the package: sorted, present, and cheap to import."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import jwks_middleware
from jwks_middleware import AuthError


def test_all_is_sorted() -> None:
    assert jwks_middleware.__all__ == sorted(jwks_middleware.__all__)


def test_every_public_name_exists() -> None:
    for name in jwks_middleware.__all__:
        assert getattr(jwks_middleware, name, None) is not None, name


def test_version_matches_the_distribution() -> None:
    assert jwks_middleware.__version__ == version("jwks-middleware")


def test_import_does_not_load_fastapi_or_the_testing_kit() -> None:
    code = (
        "import sys, jwks_middleware; "
        "loaded = [m for m in ('fastapi', 'jwks_middleware.testing', 'jwks_middleware.fastapi') "
        "if m in sys.modules]; "
        "print(','.join(loaded))"
    )
    result = subprocess.run(  # noqa: S603 - fixed arguments, the running interpreter
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_every_exported_error_carries_its_rfc_6750_answer() -> None:
    allowed = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}  # RFC 6750 section 3
    errors = [
        getattr(jwks_middleware, name)
        for name in jwks_middleware.__all__
        if isinstance(getattr(jwks_middleware, name), type)
        and issubclass(getattr(jwks_middleware, name), AuthError)
    ]
    assert len(errors) > 10
    for error in errors:
        assert error.__name__.endswith("Error")
        assert error.status_code in {400, 401, 403, 503}
        # RFC 6750 section 3.1, and RFC 9449 section 7.1 for DPoP proofs.
        assert error.error in {
            None,
            "invalid_request",
            "invalid_token",
            "insufficient_scope",
            "invalid_dpop_proof",
            "use_dpop_nonce",
        }
        assert set(error.description) <= allowed, error
        assert error.reason


def test_starlette_decorators_and_fastapi_guards_offer_the_same_requirements() -> None:
    from jwks_middleware.fastapi import JWKSAuth

    decorators = {
        name.removeprefix("requires_") for name in jwks_middleware.__all__ if name.startswith("requires_")
    }
    guards = {name.removeprefix("require_") for name in dir(JWKSAuth) if name.startswith("require_")}
    assert decorators == guards == {"scopes", "any_scope", "roles", "any_role", "claim", "check"}


def test_public_classes_are_shown_under_their_public_path() -> None:
    for name in jwks_middleware.__all__:
        value = getattr(jwks_middleware, name)
        if isinstance(value, type):
            assert value.__module__ == "jwks_middleware", name
