"""`jwks-middleware demo`: the API and the local issuer on 127.0.0.1, its banner, --smoke, Ctrl-C."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from jwks_middleware._cli import demo as _demo
from jwks_middleware._cli import main
from jwks_middleware._cli.demo import DEMO_REQUESTS, DemoRequest
from jwks_middleware._cli.demo_app import create_demo_app
from jwks_middleware.testing import LocalIssuer


def test_smoke_sends_every_request_and_exits_0_when_all_answers_are_right(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["demo", "--smoke"])

    out = capsys.readouterr().out
    assert status == 0
    assert f"{len(DEMO_REQUESTS)} of {len(DEMO_REQUESTS)} answers were right." in out
    assert "  ok   6. POST /items   A token lacking write:items: 403 insufficient_scope" in out
    assert "  ok   2. GET  /items   No token: 401" in out
    assert "FAIL" not in out


def test_smoke_exits_1_and_says_what_was_wrong(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = (
        DemoRequest("right", "GET", "/public", None, 200),
        DemoRequest("expects 200", "GET", "/items", None, 200),
        DemoRequest("expects a bare challenge", "GET", "/items", "EXPIRED_TOKEN", 401),
        DemoRequest("expects another error", "GET", "/items", "EXPIRED_TOKEN", 401, "insufficient_scope"),
    )
    monkeypatch.setattr(_demo, "DEMO_REQUESTS", wrong)

    status = main(["demo", "--smoke"])

    out = capsys.readouterr().out
    assert status == 1
    assert "1 of 4 answers were right." in out
    assert "FAIL 2. GET  /items   expects 200: 401  (expected 200)" in out
    assert "FAIL 3. GET  /items   expects a bare challenge: 401 invalid_token  (expected a bare Bearer" in out
    assert (
        "FAIL 4. GET  /items   expects another error: 401 invalid_token  (expected 401 insufficient_scope"
        in out
    )


def test_demo_without_uvicorn_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError

    status = main(["demo"])

    assert status == 2
    assert "pip install 'jwks-middleware[demo]'" in capsys.readouterr().err


def test_demo_on_a_busy_port_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()

        status = main(["demo", "--port", str(busy.getsockname()[1])])

    assert status == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err


def test_ctrl_c_stops_the_demo_cleanly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    banner = _demo._banner

    def banner_then_ctrl_c(*args: Any) -> str:
        os.kill(os.getpid(), signal.SIGINT)  # handled by the server, which then shuts down
        return banner(*args)

    monkeypatch.setattr(_demo, "_banner", banner_then_ctrl_c)

    status = main(["demo"])

    out = capsys.readouterr().out
    assert status == 0
    assert "Press Ctrl-C to stop." in out
    assert out.endswith("\nStopped.\n")


# -- the real program ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def running_demo() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m jwks_middleware demo` in a subprocess, and its banner once it is ready."""
    demo = subprocess.Popen(
        [sys.executable, "-m", "jwks_middleware", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    lines = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    try:
        yield demo, "".join(lines)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=10)


def test_the_printed_commands_get_the_printed_answers(
    running_demo: tuple[subprocess.Popen[str], str],
) -> None:
    _, banner = running_demo
    tokens = dict(re.findall(r"^export (\w+)=(\S+)$", banner, re.MULTILINE))
    commands = re.findall(r"^# \d+\. (.+): (\d{3}).*\n(curl .+)$", banner, re.MULTILINE)

    assert set(tokens) == {"VALID_TOKEN", "READ_ONLY_TOKEN", "EXPIRED_TOKEN", "OTHER_API_TOKEN"}
    assert len(commands) == len(DEMO_REQUESTS)
    for _title, status, command in commands:
        assert send_curl_command(command, tokens).status_code == int(status), command


def test_the_printed_command_lines_work_as_printed(running_demo: tuple[subprocess.Popen[str], str]) -> None:
    _, banner = running_demo
    exports = "\n".join(re.findall(r"^export \w+=\S+$", banner, re.MULTILINE))
    lines = banner.splitlines()
    asked = lines.index("Why was a token refused? Ask the command line:")
    verify, keys = lines[asked + 1], lines[asked + 2]

    def shell(command: str) -> subprocess.CompletedProcess[str]:
        # As a reader runs them: pasted into a shell after the exports, with the shell's own PATH.
        return subprocess.run(  # noqa: S603 - our shell line, printed by the demo
            ["bash", "-c", f"{exports}\n{command}"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    verified = shell(verify)
    assert verified.returncode == 1, verified.stderr
    assert "REFUSED (expired)" in verified.stdout
    listed = shell(keys)
    assert listed.returncode == 0, listed.stderr
    assert "ES256" in listed.stdout


def test_ctrl_c_stops_the_program_without_a_traceback(
    running_demo: tuple[subprocess.Popen[str], str],
) -> None:
    demo, banner = running_demo
    assert "Press Ctrl-C to stop." in banner

    demo.send_signal(signal.SIGINT)
    out, err = demo.communicate(timeout=20)

    assert demo.returncode == 0
    assert out.strip() == "Stopped."
    assert "Traceback" not in err


def send_curl_command(command: str, tokens: dict[str, str]) -> httpx.Response:
    """Send what a printed `curl` command would send (after the printed `export` lines)."""
    for name, token in tokens.items():
        command = command.replace(f"${name}", token)
    words = shlex.split(command)
    url, method, headers, body = words[-1], "GET", {}, None
    options = iter(words[2:-1])  # after "curl -i"
    for option in options:
        value = next(options)
        if option == "-X":
            method = value
        elif option == "-H":
            name, _, header = value.partition(": ")
            headers[name] = header
        else:
            assert option == "-d"
            body = value.encode()
    return httpx.request(method, url, headers=headers, content=body, timeout=10)


# -- the demo app --------------------------------------------------------------------------


@pytest.fixture
def demo_client() -> Iterator[tuple[TestClient, LocalIssuer]]:
    with (
        LocalIssuer.serve(algorithm="ES256") as issuer,
        TestClient(create_demo_app([issuer.config()])) as client,
    ):
        yield client, issuer


def test_demo_app_websocket_takes_a_query_token_and_needs_read_items(
    demo_client: tuple[TestClient, LocalIssuer],
) -> None:
    client, issuer = demo_client
    token = issuer.issue(sub="alice", scopes=["read:items"])

    with client.websocket_connect(f"/ws?access_token={token}") as websocket:
        hello = websocket.receive_json()
        websocket.send_text("ping")
        echo = websocket.receive_json()
    with pytest.raises(WebSocketDenialResponse) as refused:
        client.websocket_connect("/ws", headers={"Authorization": f"Bearer {issuer.issue()}"}).__enter__()

    assert hello["hello"] == "alice"
    assert echo == {"echo": "ping"}
    assert refused.value.status_code == 403


@pytest.mark.parametrize("body", [b"{", b'{"name": ""}', b"[]"])
def test_demo_app_answers_422_to_a_bad_item(demo_client: tuple[TestClient, LocalIssuer], body: bytes) -> None:
    client, issuer = demo_client

    response = client.post(
        "/items", content=body, headers={"Authorization": f"Bearer {issuer.issue(scopes=['write:items'])}"}
    )

    assert response.status_code == 422
