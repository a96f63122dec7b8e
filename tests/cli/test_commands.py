"""The `jwks-middleware` command line against a local issuer served on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tokens import public_jwk, rsa_key, self_signed_certificate, short_rsa_jwk

from jwks_middleware._cli import commands as cli_module
from jwks_middleware._cli import main
from jwks_middleware.testing import WRONG_AUDIENCE, LocalIssuer

AUDIENCE = "https://api.example.test"
AUTH0_SAMPLE = Path(__file__).parent / "fixtures" / "providers" / "auth0-sample-jwks.json"


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


# -- verify --------------------------------------------------------------------------------


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


# -- keys ----------------------------------------------------------------------------------


def test_keys_lists_each_key_and_the_skipped_ones(cli: Any, issuer: LocalIssuer) -> None:
    auth0 = json.loads(AUTH0_SAMPLE.read_text())["keys"][0]
    expired_certificate = public_jwk(rsa_key(), kid="old-cert", x5c=[self_signed_certificate(rsa_key())])
    issuer.serve_jwks(
        {
            "keys": [
                *issuer.jwks()["keys"],
                auth0,
                expired_certificate,
                {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},
                short_rsa_jwk(kid="short"),
                {**issuer.jwks()["keys"][0], "kid": "encryption", "use": "enc"},
            ]
        }
    )

    run = cli("keys", "--issuer", issuer.url)

    assert run.status == 0
    assert f"JWKS    {issuer.jwks_uri}\n        (from {issuer.discovery_url})" in run.out
    assert "3 usable keys:" in run.out
    assert (
        f"  kid          '{issuer.kid}'\n  type         EC P-256\n  alg          ES256 (the key's own alg)"
        in run.out
    )
    assert f"  kid          '{auth0['kid']}'\n  type         RSA 2048 bits" in run.out
    assert "  certificate  x5c, expires 2030-08-01 22:22:05 UTC\n" in run.out
    assert "alg          none given; fits PS256, PS384, PS512, RS256, RS384, RS512" in run.out
    assert "expires 2024-12-31 00:00:00 UTC (expired: not enforced, the key still verifies)" in run.out
    assert "use          (not given: signing)" in run.out
    assert "3 skipped (the library ignores them):" in run.out
    assert "  kid 'shared': symmetric keys are never accepted from a key set" in run.out
    assert "  kid 'short': RSA key of 1024 bits is shorter than 2048" in run.out
    assert "  kid 'encryption': key use is 'enc', not 'sig'" in run.out


def test_keys_json_is_for_machines(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("keys", "--issuer", issuer.url, "--jwks-uri", issuer.jwks_uri, "--json")
    result = run.json()

    assert run.status == 0
    assert result["discovery_url"] is None
    assert result["max_age"] == 900
    assert result["skipped"] == []
    assert result["keys"] == [
        {
            "kid": issuer.kid,
            "kty": "EC",
            "alg": "ES256",
            "algorithms": ["ES256"],
            "use": "sig",
            "size": None,
            "crv": "P-256",
            "thumbprint": issuer.kid,  # the local issuer's kids are thumbprints
            "certificate_expires": None,
            "certificate_expired": None,
        }
    ]
    assert issuer.requests[issuer.discovery_url] == 0


def test_keys_with_a_jwks_uri_skip_discovery(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("keys", "--issuer", issuer.url, "--jwks-uri", issuer.jwks_uri)

    assert run.status == 0
    assert f"JWKS    {issuer.jwks_uri}\nCache   900 s" in run.out
    assert "1 usable key:" in run.out
    assert "skipped" not in run.out
    assert issuer.requests[issuer.discovery_url] == 0


def test_keys_beyond_the_hundredth_are_skipped(cli: Any, issuer: LocalIssuer) -> None:
    issuer.serve_jwks(issuer.oversized_jwks(min_bytes=25_000))

    result = cli("keys", "--issuer", issuer.url, "--json").json()

    assert len(result["keys"]) == 100
    assert result["skipped"][0] == {"kid": "padding-0000099", "reason": "more than 100 keys in the set"}


def test_keys_exit_1_when_no_key_is_usable(cli: Any, issuer: LocalIssuer) -> None:
    issuer.serve_jwks({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})

    run = cli("keys", "--issuer", issuer.url)

    assert run.status == 1
    assert "0 usable keys\n" in run.out
    assert "  kid (none): symmetric keys are never accepted from a key set" in run.out
    assert "No usable signing key: every token of this issuer would be refused." in run.out


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("stopped", "openid-configuration could not be fetched (ConnectError); "),
        ("other issuer", "names issuer 'https://evil.example.test', not "),
        ("no jwks_uri", "openid-configuration has no jwks_uri"),
        ("metadata not an object", "openid-configuration is not a metadata object"),
        ("not a jwks", "jwks.json is not a JWKS: expected an object with a 'keys' array"),
    ],
)
def test_keys_exit_2_when_they_cannot_be_fetched(
    cli: Any, issuer: LocalIssuer, fault: str, message: str
) -> None:
    metadata = issuer.metadata()
    if fault == "stopped":
        issuer.stop()
    elif fault == "other issuer":
        issuer.serve_metadata({**metadata, "issuer": "https://evil.example.test"})
    elif fault == "no jwks_uri":
        issuer.serve_metadata({**metadata, "jwks_uri": None})
    elif fault == "metadata not an object":
        issuer.serve_metadata(b"[]")
    else:
        issuer.serve_jwks({"not": "a key set"})

    run = cli("keys", "--issuer", issuer.url)
    as_json = cli("keys", "--issuer", issuer.url, "--json")

    assert (run.status, as_json.status) == (2, 2)
    assert run.err.startswith("jwks-middleware: could not fetch the keys: ")
    assert message in run.err
    assert message in as_json.json()["error"]


# -- decode --------------------------------------------------------------------------------


def test_decode_marks_the_result_as_not_verified(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="alice")

    run = cli("decode", token)

    assert run.status == 0
    assert "NOT VERIFIED: decoded only." in run.out
    assert '"sub": "alice"' in run.out
    assert '"alg": "ES256"' in run.out
    assert re.search(r"exp       .* UTC \(in 4 min\)", run.out)
    assert "refuses this token" not in run.out
    assert_not_echoed(token, run)


def test_decode_shows_tokens_the_library_would_refuse_and_why(cli: Any, issuer: LocalIssuer) -> None:
    run = cli("decode", issuer.issue(headers={"jku": "https://evil.example.test/keys"}))

    assert run.status == 0
    assert '"jku": "https://evil.example.test/keys"' in run.out
    assert "jwks-middleware refuses this token before looking at any key (unsupported token):" in run.out
    assert "header parameter 'jku' is never followed or trusted" in run.out


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("not-a-token", "a signed JWT has 3 parts separated by '.', this one has 1"),
        ("e30.!!!.sig", "the payload is not base64url-encoded JSON"),
        ("W10.e30.sig", "the header is not a JSON object"),
        (
            "e30.e30.e30.e30.e30",
            "an encrypted token (JWE, 5 parts): its claims cannot be read without the key",
        ),
    ],
)
def test_decode_exit_1_when_the_token_cannot_be_decoded(cli: Any, token: str, problem: str) -> None:
    run = cli("decode", token)
    as_json = cli("decode", token, "--json")

    assert (run.status, as_json.status) == (1, 1)
    assert f"Cannot decode: {problem}" in run.out
    assert problem in as_json.json()["problems"]


def test_decode_json_from_stdin(cli: Any, issuer: LocalIssuer) -> None:
    token = issuer.issue(sub="alice", iat=1_700_000_000, exp=1_700_000_600)

    run = cli("decode", "-", "--json", stdin=token)
    result = run.json()

    assert run.status == 0
    assert result["verified"] is False
    assert result["claims"]["sub"] == "alice"
    assert result["times"]["exp"]["utc"] == "2023-11-14 22:23:20 UTC"
    assert result["refused_before_keys"] is None
    assert_not_echoed(token, run)


def test_decode_shows_times_in_hours_and_days_and_skips_impossible_ones(
    cli: Any, issuer: LocalIssuer
) -> None:
    token = issuer.issue(expires_in=10 * 86400 + 60, iat=int(time.time()) - 3 * 3600 - 60, nbf=10**20)

    times = cli("decode", token, "--json").json()["times"]

    assert (times["iat"]["relative"], times["exp"]["relative"]) == ("3 h ago", "in 10 days")
    assert "nbf" not in times


# -- the program ---------------------------------------------------------------------------


def test_python_m_runs_the_command_line_and_exits_with_its_status(issuer: LocalIssuer) -> None:
    completed = subprocess.run(  # noqa: S603 - our interpreter, our arguments
        [sys.executable, "-m", "jwks_middleware", "verify", "-", "--issuer", issuer.url, "--json"],
        input=issuer.expired_token(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 1, completed.stderr
    assert json.loads(completed.stdout)["reason"] == "expired"


def test_help_lists_the_commands_and_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    out = capsys.readouterr().out
    assert exited.value.code == 0
    assert all(command in out for command in ("verify", "keys", "decode", "demo"))
    assert "Exit status: 0 valid, 1 refused, 2 could not check" in out


# -- never a traceback ---------------------------------------------------------------------


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


# -- provider presets and shared secrets ------------------------------------------------------

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
