"""The README's code: every Python block compiles, and the two app snippets run as shown."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{index}" for index in range(len(BLOCKS))])
def test_every_python_block_compiles(block: str) -> None:
    compile(block, str(README), "exec")


@pytest.mark.parametrize(
    "marker", ["from starlette.applications import Starlette", "from fastapi import FastAPI"]
)
def test_the_quick_start_apps_refuse_a_request_without_a_token(marker: str) -> None:
    block = next(block for block in BLOCKS if block.startswith(marker))
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102 - our own README
    # No lifespan (no `with`): nothing is fetched, and no token is refused before keys are needed.
    response = TestClient(namespace["app"]).get("/items")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
