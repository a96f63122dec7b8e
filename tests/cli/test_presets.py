"""`verify --preset`: the issuer a provider preset makes; shared secrets from a safe place."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jwks_middleware._cli import main
from jwks_middleware.testing import LocalIssuer

AUDIENCE = "https://api.example.test"


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer.serve(algorithm="ES256", audience=AUDIENCE) as served:
        yield served


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*argv: str, stdin: str = "") -> Run:
        status = main(list(argv), stdin=io.StringIO(stdin))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


COGNITO = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"


@pytest.fixture
def rs256_issuer() -> Iterator[LocalIssuer]:
    # Cognito signs with RS256 only, and its preset allows nothing else.
    with LocalIssuer.serve(algorithm="RS256") as served:
        yield served


def cognito_args(issuer: LocalIssuer, token: str, *extra: str) -> list[str]:
    # The preset's own rules; the keys come from the local issuer instead of AWS.
    return [
        "verify",
        token,
        "--preset",
        "cognito",
        "--preset-arg",
        "region=eu-west-1",
        "--preset-arg",
        "user_pool_id=eu-west-1_AbCdEf123",
        "--jwks-uri",
        issuer.jwks_uri,
        *extra,
    ]


def test_verify_checks_what_an_app_with_a_preset_checks(cli: Any, rs256_issuer: LocalIssuer) -> None:
    token = rs256_issuer.issue(iss=COGNITO, aud=None, client_id="app", token_use="access")
    run = cli(*cognito_args(rs256_issuer, token, "--preset-arg", "client_ids=app"))
    assert run.status == 0, run.out
    assert "VALID" in run.out


def test_verify_with_a_preset_refuses_what_the_preset_refuses(cli: Any, rs256_issuer: LocalIssuer) -> None:
    # An ID token where the app takes access tokens: Cognito's `token_use` says which is which.
    id_token = rs256_issuer.issue(iss=COGNITO, aud=None, client_id="app", token_use="id")
    run = cli(*cognito_args(rs256_issuer, id_token, "--preset-arg", "client_ids=app"))
    assert run.status == 1
    assert "REFUSED (invalid claims): claim 'token_use'" in run.out


def test_a_preset_argument_given_twice_is_a_list(cli: Any, rs256_issuer: LocalIssuer) -> None:
    token = rs256_issuer.issue(iss=COGNITO, aud=None, client_id="web", token_use="access")
    both = ("--preset-arg", "client_ids=app", "--preset-arg", "client_ids=web")
    assert cli(*cognito_args(rs256_issuer, token, *both)).status == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset-arg", "pool=x"], "has no argument 'pool'; it takes region, user_pool_id, client_ids"),
        (["--preset-arg", "client_ids"], "NAME=VALUE"),
        ([], "client_ids"),
        (["--preset-arg", "client_ids=app", "--audience", "x"], "--preset replaces --issuer"),
    ],
)
def test_preset_mistakes_exit_2_with_a_message(
    cli: Any, issuer: LocalIssuer, extra: list[str], message: str
) -> None:
    run = cli(*cognito_args(issuer, issuer.issue(), *extra))
    assert run.status == 2
    assert message in run.err


def test_hs256_takes_the_secret_from_an_environment_variable(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "a-shared-secret-of-at-least-32-bytes!"
    monkeypatch.setenv("MY_SECRET", secret)
    import jwt  # PyJWT, an independent signer

    token = jwt.encode(
        {"iss": "https://issuer.example", "sub": "s", "exp": int(time.time()) + 60}, secret, algorithm="HS256"
    )
    args = ["verify", token, "--issuer", "https://issuer.example", "--algorithm", "HS256"]
    assert cli(*args, "--secret-env", "MY_SECRET").status == 0
    monkeypatch.setenv("MY_SECRET", "another-shared-secret-of-32-bytes-or-more")
    assert cli(*args, "--secret-env", "MY_SECRET").status == 1


def test_hs256_without_a_secret_says_how_to_give_one(cli: Any) -> None:
    run = cli("verify", "a.b.c", "--issuer", "https://issuer.example", "--algorithm", "HS256")
    assert run.status == 2
    assert "--secret-env VAR" in run.err
    assert "--secret-file PATH" in run.err


def test_hs256_secret_from_a_file(cli: Any, tmp_path: Path) -> None:
    import jwt

    secret = "a-shared-secret-of-at-least-32-bytes!"
    (tmp_path / "secret").write_text(secret + "\n")
    token = jwt.encode(
        {"iss": "https://issuer.example", "sub": "s", "exp": int(time.time()) + 60}, secret, algorithm="HS256"
    )
    run = cli(
        "verify",
        token,
        "--issuer",
        "https://issuer.example",
        "--algorithm",
        "HS256",
        "--secret-file",
        str(tmp_path / "secret"),
    )
    assert run.status == 0, run.out
