"""The `jwks-middleware` command line: `verify` against a local issuer served on 127.0.0.1, bad
arguments, and never a traceback.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from jwks_middleware._cli import commands as cli_module
from jwks_middleware._cli import main
from jwks_middleware.testing import WRONG_AUDIENCE, LocalIssuer

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


def verify_args(issuer: LocalIssuer, token: str, *extra: str) -> list[str]:
    return ["verify", token, "--issuer", issuer.url, "--audience", AUDIENCE, *extra]


def assert_not_echoed(token: str, run: Run) -> None:
    # Header and claims are fine; the token itself (or its signature) never is.
    signature = token.rsplit(".", 1)[-1]
    assert token not in run.out + run.err
    assert not signature or signature not in run.out + run.err


def test_verify_says_valid_and_prints_header_and_claims(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="alice", scopes=["read:items", "write:items"])

    run = cli(*verify_args(issuer, token))

    assert run.status == 0
    assert "VALID  scopes: read:items write:items" in run.out
    assert '"sub": "alice"' in run.out
    assert f'"kid": "{issuer.kid}"' in run.out
    assert f"audience    {AUDIENCE}" in run.out
    assert f"{issuer.jwks_uri}: '{issuer.kid}'" in run.out
    assert_not_echoed(token, run)


def test_verify_without_audience_says_the_audience_was_not_checked(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.wrong_audience_token()

    run = cli("verify", token, "--issuer", issuer.url)

    assert run.status == 0
    assert f'NOT CHECKED (no --audience given; the token\'s aud is "{WRONG_AUDIENCE}")' in run.out
    assert "but the audience was NOT checked: give --audience" in run.out


@pytest.mark.parametrize(
    ("make_token", "expected"),
    [
        (lambda i: i.expired_token(), "REFUSED (expired): token expired 10 min ago"),
        (
            lambda i: i.wrong_audience_token(),
            f"REFUSED (wrong audience): audience ['{WRONG_AUDIENCE}'] not in ['{AUDIENCE}']",
        ),
        (
            lambda i: i.issue(headers={"alg": "HS256"}),
            "REFUSED (algorithm not allowed): alg 'HS256' is not allowed for this issuer; "
            "allowed: the asymmetric ones (RS*, PS*, ES*, EdDSA); HS* needs a shared secret",
        ),
        (lambda i: i.wrong_key_token(), "REFUSED (signature invalid): signature does not match the key '"),
        (lambda i: i.issue(iss="https://evil.example.test"), "REFUSED (untrusted issuer): token iss "),
        (lambda i: i.issue(iss=None), "REFUSED (untrusted issuer): token has no 'iss' claim"),
        (lambda i: i.issue(exp=None), "REFUSED (invalid claims): token has no 'exp' claim"),
        (lambda i: i.unsigned_token(), "REFUSED (algorithm not allowed): unsigned tokens (alg 'none')"),
        (lambda i: "abc.def", "REFUSED (malformed token): a compact JWS has 3 parts, this token has 2"),
    ],
)
def test_verify_gives_the_precise_reason_of_a_refusal(
    cli: Any, issuer: LocalIssuer, make_token: Any, expected: str
) -> None:
    token = make_token(issuer)

    run = cli(*verify_args(issuer, token))

    assert run.status == 1
    assert expected in run.out
    assert_not_echoed(token, run)


def test_verify_names_the_kids_the_jwks_has_for_an_unknown_kid(cli: Any, issuer: LocalIssuer) -> None:
    issuer.publish_next_key()
    token = issuer.unknown_kid_token()
    stranger = token.split(".")[0]

    run = cli(*verify_args(issuer, token))

    assert run.status == 1
    unknown_kid = json.loads(cli("decode", token, "--json").out)["header"]["kid"]
    kids = ", ".join(repr(kid) for kid in issuer.published_kids)
    assert f"REFUSED (unknown key): kid '{unknown_kid}' is not in the key set (JWKS has: {kids})" in run.out
    assert stranger not in run.out


def test_verify_explains_a_trailing_slash_mismatch_of_the_issuer(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("verify", issuer.issue(), "--issuer", issuer.url + "/", "--audience", AUDIENCE)

    assert run.status == 1
    assert f"token iss '{issuer.url}' is not the trusted issuer '{issuer.url}/'" in run.out
    assert "(they differ only by a trailing slash); iss must match exactly" in run.out


def test_verify_lists_the_algorithms_given(cli: Any, issuer: LocalIssuer) -> None:
    run = cli(*verify_args(issuer, issuer.issue(), "--algorithm", "RS256", "--algorithm", "PS256"))

    assert run.status == 1
    assert "alg 'ES256' is not allowed for this issuer; allowed: PS256, RS256" in run.out
    assert "algorithms  PS256, RS256" in run.out


def test_verify_honours_leeway_and_jwks_uri(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(expires_in=-90)

    strict = cli(*verify_args(issuer, token, "--leeway", "60"))
    lenient = cli(*verify_args(issuer, token, "--leeway", "120", "--jwks-uri", issuer.jwks_uri))

    assert (strict.status, lenient.status) == (1, 0)
    # Minted a moment before the command runs: a second may tick over in between.
    assert re.search(r"token expired 9[01] s ago", strict.out)
    assert issuer.requests[issuer.discovery_url] == 0


def test_verify_cannot_check_when_the_issuer_is_unreachable(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue()
    issuer.stop()

    run = cli(*verify_args(issuer, token))

    assert run.status == 2
    assert "COULD NOT CHECK (keys unavailable): keys of " in run.out
    assert "could not be fetched (ConnectError)" in run.out
    assert "keys        could not be loaded (see below)" in run.out


def test_verify_refuses_a_hopeless_token_even_when_the_issuer_is_unreachable(
    cli: Any, issuer: LocalIssuer
) -> None:
    token = issuer.expired_token()
    issuer.stop()

    run = cli(*verify_args(issuer, token))

    assert run.status == 1
    assert "keys        not fetched: the token was refused before its key was needed" in run.out


def test_verify_json_is_for_machines(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.expired_token(sub="alice")

    run = cli(*verify_args(issuer, token, "--json"))
    result = run.json()

    assert run.status == 1
    assert (result["verdict"], result["reason"]) == ("refused", "expired")
    assert result["detail"] == "token expired 10 min ago"
    assert result["claims"]["sub"] == "alice"
    assert "verified" not in result  # `verdict` says it
    assert result["token"]["length"] == len(token)
    assert (result["audience_checked"], result["audiences"]) == (True, [AUDIENCE])
    assert result["times"]["exp"]["relative"] == "10 min ago"
    assert_not_echoed(token, run)


def test_verify_json_of_a_valid_token_lists_keys_and_scopes(cli: Any, issuer: LocalIssuer) -> None:
    run = cli(*verify_args(issuer, issuer.issue(scopes=["b", "a"]), "--json"))
    result = run.json()

    assert (run.status, result["verdict"], result["reason"]) == (0, "valid", None)
    assert result["scopes"] == ["a", "b"]
    assert result["keys"] == {
        "jwks_uri": issuer.jwks_uri,
        "fetched": True,
        "key_ids": [issuer.kid],
        "skipped": [],
        "last_error": None,
    }


def test_verify_reads_the_token_from_stdin(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue()

    run = cli(*verify_args(issuer, "-"), stdin=f"Bearer {token}\n")

    assert run.status == 0
    assert_not_echoed(token, run)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "-", "--issuer", "https://issuer.example.test"], "no token given"),
        (["verify", "a.b.c", "--issuer", "ftp://issuer.example.test"], "keys are only fetched over https"),
        (["verify", "a.b.c", "--issuer", "https://i.example.test", "--algorithm", "HS256"], "shared secret"),
        (["keys", "--issuer", "http://issuer.example.test"], "keys are only fetched over https"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(cli: Any, argv: list[str], message: str) -> None:
    run = cli(*argv)

    assert run.status == 2
    assert run.err.startswith("jwks-middleware: error: ")
    assert message in run.err


def test_bad_arguments_with_json_answer_json(cli: Any) -> None:
    run = cli("verify", "-", "--issuer", "https://issuer.example.test", "--json")

    assert run.status == 2
    assert "no token given" in run.json()["error"]


def test_verbose_logs_the_library_events_to_stderr(cli: Any, issuer: LocalIssuer) -> None:
    quiet = cli(*verify_args(issuer, issuer.issue()))
    verbose = cli(*verify_args(issuer, issuer.issue(), "--verbose"))

    assert quiet.err == ""
    assert f"keys_fetched issuer={issuer.url}" in verbose.err


def test_help_lists_the_commands_and_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert all(command in out for command in ("verify", "keys", "decode", "demo"))
    assert "Exit status: 0 valid, 1 refused, 2 could not check" in out


def run_with_closed_stdout(*argv: str, stdin: str = "") -> tuple[int, str]:
    """Run the command line with its stdout a pipe whose reader is already gone (`| head -0`)."""
    process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "jwks_middleware", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, err = process.communicate(stdin, timeout=60)
    return process.returncode, err


@pytest.mark.parametrize(
    ("command", "status"),
    [
        pytest.param(lambda issuer: verify_args(issuer, issuer.issue()), 0, id="verify-valid"),
        pytest.param(lambda issuer: verify_args(issuer, issuer.expired_token()), 1, id="verify-refused"),
        pytest.param(lambda issuer: ["keys", "--issuer", issuer.url], 0, id="keys"),
        pytest.param(lambda issuer: ["decode", issuer.issue()], 0, id="decode"),
        pytest.param(lambda issuer: ["decode", "--json", issuer.issue()], 0, id="decode-json"),
    ],
)
def test_a_closed_pipe_ends_quietly_with_the_verdicts_status(
    issuer: LocalIssuer, command: Callable[[LocalIssuer], list[str]], status: int
) -> None:
    assert run_with_closed_stdout(*command(issuer)) == (status, "")


def test_a_closed_pipe_after_the_first_line_ends_quietly(issuer: LocalIssuer) -> None:
    # `jwks-middleware decode TOKEN | head -1` with an output larger than the pipe's buffer.
    token = issuer.issue(groups=[f"group-{number}" for number in range(8000)])
    process = subprocess.Popen(
        [sys.executable, "-m", "jwks_middleware", "decode", "--json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    process.stdin.write(token.encode())
    process.stdin.close()
    assert process.stdout.readline() == b"{\n"
    process.stdout.close()
    assert process.wait(timeout=60) == 0
    assert process.stderr.read() == b""
    process.stderr.close()


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        pytest.param("", "no token given", id="empty"),
        pytest.param("x" * (1024 * 1024 + 1), "more than 1048576 characters", id="huge"),
    ],
)
def test_garbage_on_stdin_gives_one_clear_line(stdin: str, message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "jwks_middleware", "decode", "-"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr.count("\n") == 1
    assert message in completed.stderr


def test_binary_input_is_refused_without_a_traceback() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "jwks_middleware", "decode", "-"],
        input=bytes(range(256)) * 4,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode in (1, 2)
    assert b"Traceback" not in completed.stderr + completed.stdout


def test_an_unexpected_failure_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli_module, "_issuer", broken)
    assert main(["keys", "--issuer", "https://issuer.example"]) == 2
    assert capsys.readouterr().err == "jwks-middleware: unexpected RuntimeError: disk on fire\n"


def test_an_interrupt_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_module, "_issuer", interrupted)
    assert main(["keys", "--issuer", "https://issuer.example"]) == 130
    assert capsys.readouterr().err == "jwks-middleware: interrupted\n"
