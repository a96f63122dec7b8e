"""`jwks_middleware.redis` imports without redis-py and names the extra when it is missing."""

from __future__ import annotations

import sys

import pytest

from jwks_middleware.redis import RedisReplayStore


def test_a_missing_redis_py_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.exceptions", None)
    with pytest.raises(ImportError, match=r"jwks-middleware\[redis\]"):
        RedisReplayStore(object())  # type: ignore[arg-type]


def test_the_store_shows_its_prefix_and_nothing_else() -> None:
    pytest.importorskip("redis", reason="redis-py is not installed (pip install 'jwks-middleware[redis]')")
    assert repr(RedisReplayStore(object(), prefix="api:")) == "RedisReplayStore(prefix='api:')"  # type: ignore[arg-type]
