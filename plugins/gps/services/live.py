"""Live bus: latest positions and alarms shared between ingest servers and web workers.

WHY a bus and not just the ``gps_device_state`` table: the map wants changes pushed (SSE)
without each web worker polling the database every second. The table stays the truth (the
cheap polling endpoint reads it); the bus only carries news. Backends:

- ``memory`` (default, embedded SQLite, one process): a list of subscriber queues.
- ``redis``: pub/sub on channel ``carebiz.gps.live`` at ``CAREBIZ_REDIS_URL``.
- ``postgres``: ``NOTIFY carebiz_gps_live`` / ``LISTEN`` on the application database.

``CAREBIZ_REDIS_URL`` always has a default in the core, so the backend is chosen explicitly
with ``CAREBIZ_GPS_LIVE_BUS`` (``memory`` | ``redis`` | ``postgres``) rather than guessed.
A failing publish is logged and swallowed: ingest must never stop because the map is deaf.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

log = logging.getLogger(__name__)

CHANNEL = "carebiz.gps.live"
PG_CHANNEL = "carebiz_gps_live"

Message = dict[str, Any]


class MemoryBus:
    """Fan-out to subscriber queues of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: list[queue.Queue[Message]] = []

    def publish(self, message: Message) -> None:
        with self._lock:
            targets = list(self._queues)
        for q in targets:
            q.put(message)

    def subscribe(self, timeout: float | None = None) -> Iterator[Message]:
        q: queue.Queue[Message] = queue.Queue()
        with self._lock:
            self._queues.append(q)
        return self._drain(q, timeout)

    def _drain(self, q: queue.Queue[Message], timeout: float | None) -> Iterator[Message]:
        try:
            while True:
                try:
                    yield q.get(timeout=timeout)
                except queue.Empty:
                    return
        finally:
            with self._lock:
                self._queues.remove(q)


class RedisBus:
    """Redis pub/sub: every process subscribed to the channel sees every message."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url)

    def publish(self, message: Message) -> None:
        self._client.publish(CHANNEL, json.dumps(message, default=str))

    def subscribe(self, timeout: float | None = None) -> Iterator[Message]:
        pubsub = self._client.pubsub()
        pubsub.subscribe(CHANNEL)
        # Wait for the server's confirmation here, not on the first next(): a message
        # published after subscribe() returns is then never missed.
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            item = pubsub.get_message(timeout=0.5)
            if item is not None and item["type"] == "subscribe":
                break
        return self._listen(pubsub, timeout)

    @staticmethod
    def _listen(pubsub: Any, timeout: float | None) -> Iterator[Message]:
        wait = timeout if timeout is not None else 3600.0
        idle_since = time.monotonic()
        try:
            while True:
                item = pubsub.get_message(timeout=wait)
                if item is None or item["type"] != "message":
                    if timeout is not None and time.monotonic() - idle_since >= timeout:
                        return
                    continue
                idle_since = time.monotonic()
                yield json.loads(item["data"])
        finally:
            pubsub.close()


class PostgresBus:
    """PostgreSQL LISTEN/NOTIFY over a dedicated psycopg connection (payload < 8000 bytes)."""

    def __init__(self, url: str) -> None:
        self._url = url.replace("postgresql+psycopg://", "postgresql://")

    def publish(self, message: Message) -> None:
        import psycopg

        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (PG_CHANNEL, json.dumps(message, default=str)))

    def subscribe(self, timeout: float | None = None) -> Iterator[Message]:
        import psycopg

        conn = psycopg.connect(self._url, autocommit=True)
        conn.execute(f"LISTEN {PG_CHANNEL}")  # before returning: nothing sent after is missed
        return self._listen(conn, timeout)

    @staticmethod
    def _listen(conn: Any, timeout: float | None) -> Iterator[Message]:
        try:
            while True:
                got = False
                for note in conn.notifies(timeout=timeout if timeout is not None else 3600.0):
                    got = True
                    yield json.loads(note.payload)
                if not got and timeout is not None:
                    return
        finally:
            conn.close()


Bus = MemoryBus | RedisBus | PostgresBus
_bus: Bus | None = None


def configure(kind: str | None = None, url: str | None = None) -> Bus:
    """Pick the backend (defaults from the environment); returns it. Tests call this."""
    global _bus
    kind = kind or os.environ.get("CAREBIZ_GPS_LIVE_BUS", "memory")
    if kind == "redis":
        _bus = RedisBus(url or os.environ.get("CAREBIZ_REDIS_URL", "redis://127.0.0.1:6379/0"))
    elif kind == "postgres":
        _bus = PostgresBus(url or os.environ["CAREBIZ_DATABASE_URL"])
    else:
        _bus = MemoryBus()
    return _bus


def bus() -> Bus:
    """The configured bus (memory unless configured otherwise)."""
    return _bus or configure()


def _publish(message: Message) -> None:
    try:
        bus().publish(message)
    except Exception:  # the map being deaf must never stop ingest
        log.exception("gps live bus publish failed")


def publish_positions(states: Iterable[Message]) -> None:
    """Publish live dicts (device, vehicle_id, latitude, longitude, speed_kmh, course,
    fix_time, status) — called by the store sink after commit."""
    for state in states:
        _publish({"kind": "position", **state})


def publish_alarm(alarm: Message) -> None:
    """Publish one raised alarm (after commit)."""
    _publish({"kind": "alarm", **alarm})


def subscribe(timeout: float | None = None) -> Iterator[Message]:
    """Iterate messages for an SSE endpoint; with ``timeout`` stop after that many idle seconds."""
    return bus().subscribe(timeout=timeout)
