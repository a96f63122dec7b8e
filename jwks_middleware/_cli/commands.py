"""The `jwks-middleware` command line (also `python -m jwks_middleware`).

    jwks-middleware verify TOKEN --issuer URL [--audience A ...]   is it valid, and if not, why?
    jwks-middleware keys --issuer URL                              the issuer's keys, and skipped ones
    jwks-middleware decode TOKEN                                   header and claims, NOT verified
    jwks-middleware demo [--smoke]                                 a protected API and a local issuer

Exit status: 0 valid (or done), 1 refused (for `keys`: no usable key; for `decode`: not
decodable), 2 could not check (issuer unreachable, keys unavailable) or bad arguments.
Tokens are never printed back: only their length and a SHA-256 prefix.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from .. import __version__
from .._config import DEFAULT_LEEWAY
from .._events import logger
from .._issuer import Issuer
from .format import format_decoded, format_keys, format_verdict
from .keys import KeySetFetchError, list_keys
from .presets import PRESETS, preset_issuer, read_secret
from .tokens import EXIT_STATUS, TokenInputError, decode_token, read_token, verify_token

__all__ = ["build_parser", "main"]

_EPILOG = "Exit status: 0 valid, 1 refused, 2 could not check (network, keys unavailable, bad arguments)."


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="jwks-middleware",
        description="Check JWT bearer tokens against an issuer's keys, as jwks-middleware does.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    verify = commands.add_parser(
        "verify",
        help="verify a token and say exactly why it is refused",
        description="Fetch the issuer's discovery document and JWKS, verify the token as the middleware "
        "would, and print its header, claims and either 'valid' or the precise reason for refusal.",
        epilog=_EPILOG,
    )
    _token_argument(verify)
    _issuer_arguments(verify, required=False)
    verify.add_argument(
        "--preset",
        metavar="NAME",
        choices=sorted(PRESETS),
        help="check what an app using this provider preset checks, instead of --issuer: "
        + ", ".join(sorted(PRESETS)),
    )
    verify.add_argument(
        "--preset-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an argument of the preset, named as in jwks_middleware.providers (repeatable; a name "
        "given twice is a list), e.g. --preset cognito --preset-arg region=eu-west-1 "
        "--preset-arg user_pool_id=eu-west-1_AbC --preset-arg client_ids=app --preset-arg token_use=access",
    )
    verify.add_argument(
        "--secret-env",
        metavar="VAR",
        help="for HS256/384/512 tokens: the environment variable holding the shared secret",
    )
    verify.add_argument(
        "--secret-file",
        metavar="PATH",
        help="for HS256/384/512 tokens: a file holding the shared secret (trailing newline dropped)",
    )
    verify.add_argument(
        "--audience",
        action="append",
        metavar="A",
        help="an audience your API accepts (repeatable); without it the audience is NOT checked",
    )
    verify.add_argument(
        "--algorithm",
        action="append",
        metavar="ALG",
        help="an allowed JWS algorithm (repeatable; default: every asymmetric one; HS256/384/512 "
        "need the shared secret through --secret-env or --secret-file)",
    )
    verify.add_argument(
        "--leeway", type=float, default=DEFAULT_LEEWAY, metavar="N", help="clock skew allowed, in seconds"
    )
    _output_arguments(verify)

    keys = commands.add_parser(
        "keys",
        help="list an issuer's keys and the ones the library would skip",
        description="Fetch the issuer's JWKS and list each key (kid, type, alg, use, size or curve, "
        "thumbprint, certificate expiry) and each key the library would skip, with the reason.",
        epilog="Exit status: 0 keys found, 1 no usable key, 2 could not fetch them.",
    )
    _issuer_arguments(keys)
    _output_arguments(keys)

    decode = commands.add_parser(
        "decode",
        help="show a token's header and claims, NOT verified",
        description="Decode a token's header and claims without verifying anything.",
        epilog="Exit status: 0 decoded, 1 not a decodable JWT.",
    )
    _token_argument(decode)
    decode.add_argument("--json", action="store_true", help="print JSON for machines")

    demo = commands.add_parser(
        "demo",
        help="run a protected API and a local issuer on 127.0.0.1, with curl commands to try",
        description="Start the demo API and a local token issuer on 127.0.0.1 (no internet needed) and "
        "print ready-to-paste curl commands with fresh tokens. Needs uvicorn: "
        "pip install 'jwks-middleware[demo]'.",
    )
    demo.add_argument(
        "--smoke", action="store_true", help="send the requests, print the answers, exit 0 if all are right"
    )
    demo.add_argument("--port", type=int, default=0, help="port of the API (default: a free one)")
    return parser


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None) -> int:
    """Run a command; return its exit status. Never a traceback: a closed pipe ends quietly
    with the verdict's status, an interrupt or an unexpected failure in one line."""
    try:
        return _run(argv, stdin)
    except KeyboardInterrupt:
        _say("jwks-middleware: interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - one clear line instead of a traceback
        _say(f"jwks-middleware: unexpected {type(error).__name__}: {str(error)[:200]}")
        return 2


def _run(argv: Sequence[str] | None, stdin: TextIO | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo  # imports the testing kit and, inside, uvicorn

        return run_demo(smoke=args.smoke, port=args.port)
    as_json: bool = args.json
    try:
        token = read_token(args.token, stdin or sys.stdin) if args.command != "keys" else ""
        if args.command == "decode":
            decoded = decode_token(token)
            _emit(decoded, as_json, format_decoded)
            return 0 if decoded["header"] is not None and decoded["claims"] is not None else 1
        issuer = _verify_issuer(args, token) if args.command == "verify" else _issuer(args)
    except (TokenInputError, ValueError, TypeError) as error:
        return _fail(f"error: {error}", as_json)
    with _library_log(verbose=args.verbose):
        return asyncio.run(_check(args.command, token, issuer, as_json=as_json))


async def _check(command: str, token: str, issuer: Issuer, *, as_json: bool) -> int:
    """`verify` or `keys`: the network part of a command."""
    if command == "verify":
        verdict = await verify_token(token, issuer)
        _emit(verdict, as_json, format_verdict)
        return EXIT_STATUS[verdict["verdict"]]
    try:
        keys = await list_keys(issuer)
    except KeySetFetchError as error:
        return _fail(f"could not fetch the keys: {error}", as_json)
    _emit(keys, as_json, format_keys)
    return 0 if keys["keys"] else 1


def _token_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("token", metavar="TOKEN", help="the token, or '-' to read it from stdin")


def _issuer_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--issuer", required=required, metavar="URL", help="the issuer: the tokens' exact 'iss'"
    )
    parser.add_argument("--jwks-uri", metavar="U", help="the JWKS URL (default: found through discovery)")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("-v", "--verbose", action="store_true", help="log the library's events to stderr")


def _verify_issuer(args: argparse.Namespace, token: str) -> Issuer:
    """The `Issuer` of `verify`: a provider preset, or --issuer with the other options."""
    if args.preset is not None:
        if args.issuer or args.audience or args.secret_env or args.secret_file:
            raise ValueError("--preset replaces --issuer, --audience and secrets: give its arguments instead")
        return preset_issuer(args.preset, args.preset_arg, token, jwks_uri=args.jwks_uri, leeway=args.leeway)
    if args.preset_arg:
        raise ValueError("--preset-arg needs --preset")
    if not args.issuer:
        raise ValueError("give --issuer URL (or --preset NAME)")
    secret = read_secret(env=args.secret_env, file=args.secret_file)
    if secret is None and any(name.upper().startswith("HS") for name in args.algorithm or ()):
        raise ValueError(
            "HS256/384/512 tokens are checked with the shared secret: give --secret-env VAR "
            "(an environment variable holding it) or --secret-file PATH"
        )
    if secret is None:
        return _issuer(args, audiences=args.audience, algorithms=args.algorithm, leeway=args.leeway)
    return Issuer(
        args.issuer,
        audience=args.audience,
        verify_audience=bool(args.audience),
        secret=secret,
        algorithms=args.algorithm,
        leeway=args.leeway,
    )


def _issuer(
    args: argparse.Namespace,
    *,
    audiences: list[str] | None = None,
    algorithms: list[str] | None = None,
    leeway: float = DEFAULT_LEEWAY,
) -> Issuer:
    return Issuer(
        args.issuer,
        audience=audiences,
        verify_audience=bool(audiences),
        jwks_uri=args.jwks_uri,
        algorithms=algorithms,
        leeway=leeway,
    )


def _emit(result: dict[str, Any], as_json: bool, formatter: Callable[[dict[str, Any]], str]) -> None:
    text = json.dumps(result, indent=2, ensure_ascii=False) if as_json else formatter(result)
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # The reader went away (`| head -1`): what it read is all it wanted. Point stdout at
        # the null device, so that the flush at exit fails no more, and keep the verdict's status.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _say(message: str) -> None:
    with contextlib.suppress(OSError):  # stderr closed too: nothing left to tell
        print(message, file=sys.stderr, flush=True)


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message}, indent=2))
    else:
        _say(f"jwks-middleware: {message}")
    return 2


@contextlib.contextmanager
def _library_log(*, verbose: bool) -> Iterator[None]:
    """The library's events on stderr with --verbose; otherwise kept out of the output."""
    handler: logging.Handler = logging.StreamHandler(sys.stderr) if verbose else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.CRITICAL)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
