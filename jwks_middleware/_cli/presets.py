"""`verify --preset NAME --preset-arg name=value ...`: the `Issuer` a provider preset makes, as
an app using that preset would have it; and shared secrets read from a safe place."""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from .. import providers
from .._issuer import Issuer

__all__ = ["PRESETS", "preset_issuer", "read_secret"]

#: Command-line names of the provider presets.
PRESETS: Final[Mapping[str, Callable[..., object]]] = {
    "auth0": providers.auth0,
    "clerk": providers.clerk,
    "cognito": providers.cognito,
    "entra-id": providers.entra_id,
    "entra-id-multi-tenant": providers.entra_id_multi_tenant,
    "google": providers.google,
    "keycloak": providers.keycloak,
    "okta": providers.okta,
    "onelogin": providers.onelogin,
    "supertokens": providers.supertokens,
}


def preset_issuer(
    name: str, arguments: Iterable[str], token: str, *, jwks_uri: str | None, leeway: float
) -> Issuer:
    """The `Issuer` preset `name` makes from `name=value` arguments, for this token's `iss`
    (presets for several issuers, like Google's two spellings or Entra's tenants, hold one
    per `iss`). Raise ValueError or TypeError naming what is wrong."""
    preset = PRESETS[name]
    parameters = inspect.signature(preset).parameters
    values: dict[str, Any] = {}
    for argument in arguments:
        key, sep, value = argument.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--preset-arg takes NAME=VALUE, not {argument!r}")
        if key not in parameters or parameters[key].kind is inspect.Parameter.VAR_KEYWORD:
            known = ", ".join(
                p for p, spec in parameters.items() if spec.kind is not inspect.Parameter.VAR_KEYWORD
            )
            raise ValueError(f"the {name} preset has no argument {key!r}; it takes {known}")
        typed: Any = int(value) if _takes_number(parameters[key]) and value.isdigit() else value
        if key in values:  # given twice: a list
            previous = values[key]
            values[key] = [*previous, typed] if isinstance(previous, list) else [previous, typed]
        else:
            values[key] = typed
    options: dict[str, Any] = {"leeway": leeway}
    if jwks_uri is not None:
        options["jwks_uri"] = jwks_uri
    try:
        made = preset(**values, **options)
    except TypeError as error:
        raise TypeError(f"the {name} preset: {error}") from None
    return _for_token(made, _unverified_iss(token), name)


def _takes_number(parameter: inspect.Parameter) -> bool:
    # Entra's `version=2`: annotations are strings here (postponed evaluation).
    annotation = str(parameter.annotation)
    return "int" in annotation or "Literal[1, 2]" in annotation


def _for_token(made: object, iss: str | None, name: str) -> Issuer:
    if isinstance(made, Issuer):
        return made
    if isinstance(made, Iterable):
        issuers = [issuer for issuer in made if isinstance(issuer, Issuer)]
        return next((issuer for issuer in issuers if issuer.issuer == iss), issuers[0])
    if callable(made):
        found = made(iss) if iss is not None else None
        if isinstance(found, Issuer):
            return found
        raise ValueError(f"the {name} preset does not trust the token's iss {str(iss)[:100]!r}")
    raise TypeError(f"the {name} preset made no Issuer")  # pragma: no cover - every preset does


def _unverified_iss(token: str) -> str | None:
    # Only to pick among a preset's issuers; the verification that follows decides.
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return None
    iss = claims.get("iss") if isinstance(claims, dict) else None
    return iss if isinstance(iss, str) else None


def read_secret(*, env: str | None, file: str | None) -> str | None:
    """The shared secret of an HS256/384/512 issuer, from an environment variable or a file:
    never from the command line itself, where shell history and `ps` would show it."""
    if env is not None and file is not None:
        raise ValueError("give --secret-env or --secret-file, not both")
    if env is not None:
        secret = os.environ.get(env)
        if not secret:
            raise ValueError(f"the environment variable {env} is not set or empty")
        return secret
    if file is not None:
        try:
            secret = Path(file).read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"cannot read the secret file: {type(error).__name__}") from None
        if not secret:
            raise ValueError("the secret file is empty")
        return secret
    return None
