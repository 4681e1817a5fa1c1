"""Live bus: the same publish/subscribe contract on memory, Redis and PostgreSQL."""

from __future__ import annotations

import os
import random
import threading

import pytest

from carebiz_plugins.gps.services import live

STATE = {"device": "123456789012345", "vehicle_id": 1, "latitude": 22.5, "longitude": 114.0,
         "speed_kmh": 40.0, "course": 90, "fix_time": "2026-12-02T10:00:00Z", "status": "moving"}


def _roundtrip(bus: live.Bus) -> list[dict]:
    got: list[dict] = []
    device = str(random.randrange(10**14, 10**15))  # this run's messages, not a parallel run's
    # subscribe() returns once subscribed: no sleep, nothing published after it is missed.
    messages = bus.subscribe(timeout=5.0)

    def reader() -> None:
        for msg in messages:
            if msg.get("device") != device:
                continue  # another run sharing the broker
            got.append(msg)
            if len(got) == 2:
                return

    t = threading.Thread(target=reader)
    t.start()
    live.publish_positions([{**STATE, "device": device}])
    live.publish_alarm({"id": 7, "type": "sos", "device": device})
    t.join(5)
    return got


def _check(got: list[dict]) -> None:
    assert [m["kind"] for m in got] == ["position", "alarm"]
    assert got[0]["latitude"] == 22.5 and got[1]["type"] == "sos"


def test_memory_bus() -> None:
    _check(_roundtrip(live.configure("memory")))


def test_publish_failure_is_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    bus = live.configure("memory")

    def boom(message: dict) -> None:
        raise RuntimeError("down")

    monkeypatch.setattr(bus, "publish", boom)
    live.publish_positions([STATE])  # no exception reaches the caller


def test_redis_bus() -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except Exception:
        pytest.skip("no Redis on 127.0.0.1:6379")
    _check(_roundtrip(live.configure("redis", "redis://127.0.0.1:6379/0")))


def test_postgres_bus() -> None:
    url = os.environ.get("CAREBIZ_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("set CAREBIZ_TEST_DATABASE_URL to a PostgreSQL database")
    _check(_roundtrip(live.configure("postgres", url)))


def teardown_module() -> None:
    live.configure("memory")
