"""The app's own rules on verified claims: claims checks (per issuer and per route) and the
revocation hook, each a sync or async callable.

A check answers `True` to let the token through, and `False` or a reason (a string, logged,
never sent to the client) to refuse it; any other answer (a forgotten `return` gives None)
refuses it too, with an error in the log. A check that raises refuses the request with 503:
it could not be decided, and the error goes to the log, never a 500. The revocation hook
answers `True` for a revoked token.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from ._claims import Claims
from ._errors import AuthUnavailableError, ClaimsCheckError, RevokedTokenError
from ._events import logger

__all__ = ["ClaimsRule", "RevocationHook", "ask", "check_verdict", "run_issuer_hooks"]

#: A claims check: `True` to accept, `False` or a reason (str) to refuse; sync or async.
ClaimsRule: TypeAlias = Callable[[Claims], "bool | str | Awaitable[bool | str]"]
#: A revocation hook: `True` when the token was revoked; sync or async.
RevocationHook: TypeAlias = Callable[[Claims], "bool | Awaitable[bool]"]


async def ask(hook: Callable[[Claims], object], claims: Claims, what: str) -> object:
    """The hook's answer for `claims`; an exception becomes a 503 refusal, logged."""
    try:
        answer = hook(claims)
        if inspect.isawaitable(answer):
            answer = await answer
    except Exception as error:  # noqa: BLE001 - a failing hook is logged and refused, never a 500
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        logger.error("the %s %r failed\n%s", what, _name(hook), trace)
        raise AuthUnavailableError(f"the {what} failed: {type(error).__name__}") from None
    return answer


def check_verdict(answer: object, check: Callable[..., object]) -> str | None:
    """None when a check's `answer` accepts the token, else the reason it refused it."""
    if answer is True:
        return None
    if answer is False:
        return f"refused by {_name(check)}"
    if isinstance(answer, str):
        return answer or f"refused by {_name(check)}"
    logger.error(
        "the claims check %r answered %r: answer True to accept, False or a reason to refuse",
        _name(check),
        answer,
    )
    return f"{_name(check)} answered neither True, False nor a reason"


async def run_issuer_hooks(check: ClaimsRule | None, hook: RevocationHook | None, claims: Claims) -> None:
    """Refuse claims that an issuer's claims `check` refuses (401, the reason only logged) or
    whose token its revocation `hook` says was revoked."""
    if check is not None:
        reason = check_verdict(await ask(check, claims, "claims check"), check)
        if reason is not None:
            raise ClaimsCheckError(reason)
    if hook is not None:
        revoked = await ask(hook, claims, "revocation hook")
        if revoked is not False:
            if revoked is not True:  # fail closed: a hook that forgot to answer revokes
                logger.error("the revocation hook %r answered %r, not True or False", _name(hook), revoked)
            raise RevokedTokenError("the revocation hook says the token was revoked")


def _name(hook: Callable[..., object]) -> str:
    return getattr(hook, "__qualname__", None) or type(hook).__name__
