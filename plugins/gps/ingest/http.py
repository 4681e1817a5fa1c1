"""OsmAnd-style HTTP ingest: phone apps (OsmAnd, Traccar Client, GPSLogger) and any device
that can make an HTTP request, so the plugin is usable without a GT06 tracker.

One report per request, as the clients send it (Traccar's OsmAnd protocol):

- query parameters on ``GET``, or the same as a form body on ``POST``
  (``?id=…&lat=…&lon=…&timestamp=…&speed=…&bearing=…``), or a JSON body: the same keys flat
  (``{"id": …, "lat": …}``) or Traccar Client's own shape
  (``{"device_id": …, "location": {"timestamp", "coords": {…}, "battery": {"level"}}}``);
- ``id`` (or ``deviceid``, ``device_id``): the device identifier, an IMEI or any unique id
  (1–20 of ``A–Z a–z 0–9 . _ : -``), registered as a device;
- ``lat`` / ``lon`` (or ``location=lat,lon``) in degrees; both required;
- ``timestamp``: unix seconds, unix milliseconds (any number above 2^31 is read as ms, as
  Traccar does), ISO 8601 (``2026-03-01T08:00:00Z``; without a zone: UTC) or
  ``YYYY-MM-DD HH:MM:SS`` (UTC); missing: the time the report arrived. More than a day in
  the future or before 2000 is refused (a clock that is wrong would file the fix under a
  month that does not exist yet);
- ``speed``: **knots** in the query and form formats, as OsmAnd and Traccar define it
  (Traccar's decoder converts from ``kn``), **m/s** in Traccar Client's JSON ``coords``;
  stored as km/h (knots × 1.852, m/s × 3.6);
- ``bearing`` (or ``heading``) degrees 0–360; ``altitude`` m; ``accuracy`` m; ``hdop``;
  ``batt`` percent 0–100 (Traccar Client's JSON ``battery.level`` 0–1 is turned into percent);
  ``valid`` ``true/false/1/0`` (default true); ``ignition``/``charge`` ``true/false``.
  Other scalar parameters are kept in the fix's attributes (at most :data:`MAX_EXTRA`).

Answers: ``200 OK`` (stored, or stored before: duplicates are idempotent), ``400`` with the
reason for a bad value, ``403`` for an identifier that is not an active device (recorded as
a pending device an admin can assign, like an unknown GT06 login; the client keeps its
report and sends it again, so nothing is lost once the device is assigned), ``429`` with
``Retry-After`` past the per-device rate limit.

Served two ways, both storing through ``ingest.pipeline.store_batch`` (the TCP server's
path: positions and the alarm rules):

- :data:`bp`, ``/gps/osmand`` in the web app, without login or CSRF (a device has neither),
  answering 404 unless the setting ``gps.osmand_enabled`` is true; rate limited per id by
  ``gps.osmand_rate_limit`` in the login throttle's storage (``CAREBIZ_RATELIMIT_STORAGE_URL``:
  shared by every worker when it is Redis);
- :class:`OsmandServer`, a small asyncio HTTP/1.1 server for ``carebiz gps serve
  --osmand-port 5055`` beside the GT06 server, handing reports to the same
  :class:`~carebiz_plugins.gps.fixes.IngestSink` (so to the same batched writer thread).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from carebiz.security.sessions import csrf_exempt

from ..fixes import DeviceSession, Fix, IngestSink

log = logging.getLogger(__name__)

KNOT_KMH = 1.852
MS_KMH = 3.6
#: the identifier: what ``gps_device.imei`` holds (an IMEI or a phone app's id)
IDENT = re.compile(r"[A-Za-z0-9._:-]{1,20}")
#: other parameters kept in the fix's attributes, and their longest value
MAX_EXTRA = 16
MAX_EXTRA_LEN = 64
#: the longest request body either server reads (one report is a few hundred bytes)
MAX_BODY = 16 * 1024
#: a report's time may be this far ahead of the server's clock (phones drift a little)
FUTURE = timedelta(days=1)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_SPACED_OFFSET = re.compile(r"(T[0-9:.]+) ([0-9]{2}:?[0-9]{2})$")
DEFAULT_RATE = "60 per minute"
ENABLED = "gps.osmand_enabled"
RATE = "gps.osmand_rate_limit"

_KNOWN = {"id", "deviceid", "device_id", "lat", "lon", "location", "timestamp", "speed",
          "bearing", "heading", "altitude", "accuracy", "hdop", "batt", "valid", "ignition",
          "charge"}


#: who an identifier is: ``(identifier, peer) -> session`` or None (recorded as pending)
Identify = Callable[[str, str], Awaitable[DeviceSession | None]]


class OsmandError(ValueError):
    """A report that cannot be stored; ``str()`` is the reason the client is told."""


@dataclass(frozen=True, slots=True)
class Report:
    """One parsed OsmAnd report: the fix (``fix.device`` is the identifier)."""

    fix: Fix
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- parsing (pure: no Flask, no database) ---------------------------------------------------

def _number(params: Mapping[str, Any], name: str, low: float | None = None,
            high: float | None = None) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise OsmandError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise OsmandError(f"{name} must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise OsmandError(f"{name} must be a finite number")
    if (low is not None and number < low) or (high is not None and number > high):
        raise OsmandError(f"{name} {number:g} is out of range ({low:g} to {high:g})")
    return number


def _flag(params: Mapping[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise OsmandError(f"{name} must be true or false, not {text[:20]!r}")


def parse_time(value: Any, now: datetime) -> datetime:
    """Unix seconds or milliseconds, ISO 8601 or ``YYYY-MM-DD HH:MM:SS`` (UTC unless the
    text names a zone) → aware UTC; refused outside 2000 … now + 1 day."""
    if value is None or value == "":
        return now
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number):
            raise OsmandError("timestamp must be a finite number")
        seconds = number / 1000 if number > 2**31 - 1 else number  # Traccar's rule
        try:
            when = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise OsmandError(f"timestamp {text[:30]!r} is out of range") from None
    else:
        # an unencoded "+01:00" in a query string arrives as " 01:00"
        text = _SPACED_OFFSET.sub(r"\1+\2", text.replace("Z", "+00:00").replace("z", "+00:00"))
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise OsmandError(f"timestamp {text[:40]!r} is neither unix seconds, "
                              "milliseconds nor an ISO 8601 date and time") from None
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if when < EARLIEST or when > now + FUTURE:
        raise OsmandError(f"timestamp {when.isoformat()} is before 2000 or more than a day "
                          "ahead of the server's clock")
    return when


def parse_params(params: Mapping[str, Any], now: datetime, *, raw: bytes | None = None,
                 speed_factor: float = KNOT_KMH) -> Report:
    """Query / form / flat JSON parameters → a :class:`Report`; :class:`OsmandError` names
    the first bad value. ``speed_factor`` turns the ``speed`` unit into km/h (knots here)."""
    ident = params.get("id") or params.get("deviceid") or params.get("device_id")
    if ident is None or ident == "":
        raise OsmandError("id is missing (the device identifier)")
    ident = str(ident).strip()
    if not IDENT.fullmatch(ident):
        raise OsmandError("id must be 1 to 20 letters, digits or . _ : -")
    location = params.get("location")
    if location and (params.get("lat") in (None, "") or params.get("lon") in (None, "")):
        parts = str(location).split(",")
        if len(parts) < 2:
            raise OsmandError("location must be written lat,lon")
        params = {**params, "lat": parts[0], "lon": parts[1]}
    lat = _number(params, "lat", -90, 90)
    lon = _number(params, "lon", -180, 180)
    if lat is None or lon is None:
        raise OsmandError("lat and lon are required")
    speed = _number(params, "speed", 0, 1000 / speed_factor)
    bearing = _number(params, "bearing" if params.get("bearing") not in (None, "")
                      else "heading", 0, 360)
    altitude = _number(params, "altitude", -1000, 100_000)
    accuracy = _number(params, "accuracy", 0, 1_000_000)
    hdop = _number(params, "hdop", 0, 100)
    batt = _number(params, "batt", 0, 100)
    valid = _flag(params, "valid")
    ignition = _flag(params, "ignition")
    charge = _flag(params, "charge")
    attributes: dict[str, Any] = {"protocol": "osmand"}
    for key, value in (("altitude", altitude), ("accuracy", accuracy), ("hdop", hdop),
                       ("battery", batt), ("charging", charge)):
        if value is not None:
            attributes[key] = value
    extra: dict[str, Any] = {}
    for key, value in params.items():
        if key in _KNOWN or len(extra) >= MAX_EXTRA:
            continue
        if isinstance(value, bool | int | float) or (isinstance(value, str)
                                                     and len(value) <= MAX_EXTRA_LEN):
            if isinstance(value, float) and not math.isfinite(value):
                continue
            extra[str(key)[:32]] = value
    attributes.update({f"x_{k}": v for k, v in extra.items()})
    fix = Fix(device=ident, fix_time=parse_time(params.get("timestamp"), now),
              latitude=lat, longitude=lon,
              speed_kmh=round((speed or 0.0) * speed_factor, 2),
              course=int(round(bearing or 0.0)) % 360,
              valid=True if valid is None else valid, ignition=ignition,
              attributes=attributes, raw=raw[:2048] if raw else None)
    return Report(fix, extra)


def parse_json(body: Any, now: datetime, *, raw: bytes | None = None) -> Report:
    """A JSON body: the flat keys of the query format (speed in knots), or Traccar Client's
    ``{"device_id", "location": {"timestamp", "coords": {…}, "battery": {…}}}`` (speed m/s)."""
    if not isinstance(body, dict):
        raise OsmandError("the JSON body must be an object")
    location = body.get("location")
    if not isinstance(location, dict):
        return parse_params(body, now, raw=raw)
    coords = location.get("coords")
    if not isinstance(coords, dict):
        raise OsmandError("location.coords is missing")
    battery = location.get("battery") if isinstance(location.get("battery"), dict) else {}
    level = _number(battery, "level", -1, 1) if battery else None
    flat: dict[str, Any] = {
        "id": body.get("device_id") or body.get("id"),
        "timestamp": location.get("timestamp"),
        "lat": coords.get("latitude"), "lon": coords.get("longitude"),
        "speed": coords.get("speed") if (coords.get("speed") or 0) >= 0 else None,
        "heading": coords.get("heading") if (coords.get("heading") or 0) >= 0 else None,
        "altitude": coords.get("altitude"), "accuracy": coords.get("accuracy"),
        "batt": round(level * 100, 1) if level is not None and level >= 0 else None,
        "charge": battery.get("is_charging") if battery else None,
    }
    for key in ("is_moving", "odometer", "event"):
        if key in location:
            flat[key] = location[key]
    return parse_params(flat, now, raw=raw, speed_factor=MS_KMH)


def parse_request(query: str, body: bytes, content_type: str, now: datetime) -> Report:
    """A whole request: the query string, else the body (form or JSON)."""
    ctype = content_type.split(";")[0].strip().lower()
    if body and (ctype == "application/json" or (not query and body.lstrip()[:1] == b"{")):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise OsmandError("the body is not valid JSON") from None
        return parse_json(data, now, raw=body)
    text = query
    if not text and body:
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            raise OsmandError("the form body must be URL-encoded ASCII") from None
    params = dict(parse_qsl(text, keep_blank_values=True))
    return parse_params(params, now, raw=text.encode("ascii", "replace"))


# --- rate limit ------------------------------------------------------------------------------

def rate_item(text: str | None) -> RateLimitItem | None:
    """``"60 per minute"`` → a limit; empty → no limit; a typo falls back to the default
    (logged: a wrong setting must not switch the limit off)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        log.warning("gps.osmand_rate_limit %r is not a rate; using %s", text, DEFAULT_RATE)
        return parse(DEFAULT_RATE)


class RateLimiter:
    """Per-identifier moving window over a ``limits`` storage."""

    def __init__(self, storage: Storage | None = None) -> None:
        self.storage = storage or MemoryStorage()
        self.strategy = MovingWindowRateLimiter(self.storage)

    def allow(self, item: RateLimitItem | None, ident: str) -> int:
        """0 when the report may go on, else the seconds to wait."""
        if item is None:
            return 0
        try:
            if self.strategy.hit(item, "carebiz-gps-osmand", ident):
                return 0
            reset_at, _left = self.strategy.get_window_stats(item, "carebiz-gps-osmand", ident)
        except Exception:  # storage unreachable: ingest goes on (logged)
            log.exception("gps osmand rate-limit storage failed; not limiting")
            return 0
        return max(1, math.ceil(reset_at - time.time()))


# --- the web app's route ---------------------------------------------------------------------

bp = Blueprint("gps_osmand", __name__, url_prefix="/gps")
LIMITER = "gps.osmand_limiter"


def _text(status: int, text: str, **headers: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain", headers=headers)


def _limiter() -> RateLimiter:
    limiter = current_app.extensions.get(LIMITER)
    if limiter is None:
        from carebiz.security.throttle import storage_url

        limiter = RateLimiter(storage_from_string(storage_url(current_app.config)))
        current_app.extensions[LIMITER] = limiter
    return limiter  # type: ignore[no-any-return]


@bp.route("/osmand", methods=["GET", "POST"])
@csrf_exempt
def osmand() -> Response:
    """One OsmAnd report (see the module docstring for the format and the answers)."""
    from carebiz import db
    from carebiz.services import settings
    from carebiz.toolkit import host

    from ..services import osmand as service

    session = db.session()
    if not settings.get(session, host(), ENABLED):
        return _text(404, "OsmAnd ingest is switched off (setting gps.osmand_enabled)")
    now = datetime.now(UTC)
    try:
        report = parse_request(request.query_string.decode("latin-1"),
                               request.get_data(cache=False) if request.method == "POST"
                               else b"", request.content_type or "", now)
    except OsmandError as exc:
        return _text(400, str(exc))
    fix = report.fix
    wait = _limiter().allow(rate_item(settings.get(session, host(), RATE)), fix.device)
    if wait:
        return _text(429, f"too many reports from {fix.device}: wait {wait} s",
                     **{"Retry-After": str(wait)})
    peer = f"http:{request.remote_addr or '?'}"
    stored = service.store_report(session, fix, peer)
    session.commit()
    if stored.device_id is None:
        return _text(403, f"device {fix.device} is not registered: recorded as pending, "
                     "an administrator must assign it to a vehicle")
    if stored.result is not None:
        stored.result.publish()
    return _text(200, "OK")


# --- the standalone server -------------------------------------------------------------------

@dataclass(slots=True)
class OsmandStats:
    """Counters of :class:`OsmandServer`."""

    requests: int = 0
    stored: int = 0
    bad: int = 0
    unknown: int = 0
    limited: int = 0
    errors: int = 0


REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
           429: "Too Many Requests", 500: "Internal Server Error"}


class OsmandServer:
    """A minimal HTTP/1.1 server (asyncio streams, keep-alive, ``Content-Length`` bodies)
    for OsmAnd reports, beside the GT06 server and on the same sink. Any path is accepted
    (clients are configured with a bare ``http://host:5055``). ``login`` results are kept
    for ``session_ttl`` seconds (a phone reports every few seconds; asking the database who
    it is each time would cost a query per report); unknown identifiers for ``pending_ttl``
    seconds (a pending device is written once a while, not per report)."""

    def __init__(self, sink: IngestSink, *, identify: Identify | None = None,
                 rate: RateLimitItem | None = None,
                 session_ttl: float = 60.0, pending_ttl: float = 10.0,
                 idle_timeout: float = 60.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.sink = sink
        self.identify: Identify = identify or (lambda ident, peer: sink.login(ident, peer,
                                                                               None))
        self.rate = rate
        self.session_ttl = session_ttl
        self.pending_ttl = pending_ttl
        self.idle_timeout = idle_timeout
        self.clock = clock
        self.stats = OsmandStats()
        self.limiter = RateLimiter()
        self._sessions: dict[str, tuple[float, DeviceSession | None]] = {}
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> asyncio.Server:
        self._server = await asyncio.start_server(self._client, host, port, backlog=1024,
                                                  reuse_address=True)
        return self._server

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def _session(self, ident: str, peer: str) -> DeviceSession | None:
        now = time.monotonic()
        cached = self._sessions.get(ident)
        if cached is not None and cached[0] > now:
            return cached[1]
        session = await self.identify(ident, peer)
        ttl = self.session_ttl if session is not None else self.pending_ttl
        if len(self._sessions) > 100_000:  # identifiers are chosen by clients: bound it
            self._sessions.clear()
        self._sessions[ident] = (now + ttl, session)
        return session

    async def handle(self, method: str, target: str, body: bytes, content_type: str,
                     peer: str) -> tuple[int, str, dict[str, str]]:
        """One request → ``(status, text, headers)``."""
        self.stats.requests += 1
        if method not in ("GET", "POST"):
            return 405, "GET or POST", {"Allow": "GET, POST"}
        try:
            report = parse_request(urlsplit(target).query, body, content_type, self.clock())
        except OsmandError as exc:
            self.stats.bad += 1
            return 400, str(exc), {}
        fix = report.fix
        wait = self.limiter.allow(self.rate, fix.device)
        if wait:
            self.stats.limited += 1
            return 429, f"too many reports from {fix.device}: wait {wait} s", \
                {"Retry-After": str(wait)}
        session = await self._session(fix.device, peer)
        if session is None:
            self.stats.unknown += 1
            return 403, (f"device {fix.device} is not registered: recorded as pending, an "
                         "administrator must assign it to a vehicle"), {}
        await self.sink.positions(session, [fix])
        self.stats.stored += 1
        return 200, "OK", {}

    async def _client(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        addr = writer.get_extra_info("peername")
        peer = f"http:{addr[0]}:{addr[1]}" if isinstance(addr, tuple) else "http:?"
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                                  self.idle_timeout)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                        TimeoutError, ConnectionError):
                    return
                keep = await self._one(head, reader, writer, peer)
                if not keep:
                    return
        except Exception:
            self.stats.errors += 1
            log.exception("gps osmand %s: request failed", peer)
            self._answer(writer, 500, "the report could not be stored; send it again", {},
                         False)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _one(self, head: bytes, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter, peer: str) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._answer(writer, 400, "not an HTTP/1.x request", {}, False)
            return False
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close" if version == "HTTP/1.1" \
            else headers.get("connection", "").lower() == "keep-alive"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._answer(writer, 411, "send the body with a Content-Length", {}, False)
            return False
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._answer(writer, 413 if length > MAX_BODY else 400,
                         f"the body must be 0 to {MAX_BODY} bytes", {}, False)
            return False
        body = await reader.readexactly(length) if length else b""
        status, text, extra = await self.handle(method, target, body,
                                                headers.get("content-type", ""), peer)
        self._answer(writer, status, text, extra, keep)
        await writer.drain()
        return keep

    @staticmethod
    def _answer(writer: asyncio.StreamWriter, status: int, text: str,
                headers: dict[str, str], keep: bool) -> None:
        if writer.is_closing():
            return
        data = (text + "\n").encode("utf-8")
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
                "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(data)}",
                f"Connection: {'keep-alive' if keep else 'close'}",
                *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)


def db_identify(sink: Any) -> Identify:
    """For a :class:`~carebiz_plugins.gps.ingest.store.DbSink` shared with the GT06 server:
    who an OsmAnd identifier is, asked in the sink's one writer thread (so one writer for
    both servers); an unknown one becomes a pending device marked ``osmand``."""
    from ..services import osmand as service

    async def identify(ident: str, peer: str) -> DeviceSession | None:
        def work(db: Any) -> DeviceSession | None:
            known = service.identify(db, ident, peer)
            return DeviceSession(ident, known[0], known[1]) if known else None
        return await sink._db(work)  # type: ignore[no-any-return]

    return identify
