"""GT06 (Concox GT02/GT06 family) binary protocol: framing, CRC, decoding, acks, commands.

Pure functions and one small stateful splitter; no I/O, no database, so the TCP server and
the tests share exactly the same code path.

Frame (big-endian)::

    78 78 | LEN (1) | PROTO | CONTENT | SERIAL (2) | CRC (2) | 0D 0A    LEN = PROTO..CRC
    79 79 | LEN (2) | PROTO | CONTENT | SERIAL (2) | CRC (2) | 0D 0A    extended frame

Framing (:class:`FrameSplitter`): bytes are fed as they arrive; complete frames come out.
Several frames per read and one frame across reads are both normal. When the declared length
does not end in ``0D 0A`` (seen in the field: length byte 0, frames without serial/CRC) the
frame is cut at the next ``0D 0A`` instead, as the reference server does. Bytes before a
start marker are skipped (resync after garbage) and the buffer is bounded
(:data:`MAX_FRAME`): a start marker with no end within that many bytes is dropped.

CRC policy: CRC-16/X-25 over LEN..SERIAL. Real devices send bad CRCs now and then and the
reference server never checks them, so a frame with a bad CRC is **accepted and decoded**;
:attr:`Frame.crc_ok` is false, the server counts it (``crc_mismatch``) and logs it at debug
level. Rejecting would make such devices resend forever and lose their data; a corrupted
frame that does not decode is caught as malformed anyway. A frame too short to carry
serial+CRC (``len_ok`` false) is decoded from what it has but not acknowledged (there is no
serial to echo).

Times: the GPS block's date-time is UTC unless the login carried a timezone word; then the
device's local time minus that offset is UTC (:func:`decode` takes ``tz_offset_min``).

Alarm mapping (:data:`ALARM_BYTE`): the alarm byte of 0x16/0x26/0x13 wins when it is set;
otherwise bits 3–5 of the terminal-info byte (1 vibration, 2 power cut, 3 low battery, 4 SOS).
Anything else becomes ``other:<hex>`` (the alarm byte, or ``other:ti<n>`` for terminal-info
values 5–7) so it is stored and visible rather than lost. A heartbeat (0x13) whose alarm
byte is set yields a :class:`DeviceAlarm` without a fix.
"""

from __future__ import annotations

import struct
from binascii import crc_hqx
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from carebiz_plugins.gps.fixes import DeviceAlarm, DeviceStatus, Fix

MAX_FRAME: Final = 1024          #: longest frame accepted; longer declared lengths are junk
MAX_BUFFER: Final = 4 * MAX_FRAME

PROTO_LOGIN: Final = 0x01
PROTO_GPS: Final = 0x10
PROTO_GPS_LBS_4: Final = 0x11
PROTO_GPS_LBS: Final = 0x12
PROTO_STATUS: Final = 0x13
PROTO_STRING: Final = 0x15
PROTO_ALARM: Final = 0x16
PROTO_STRING_INFO: Final = 0x21
PROTO_GPS_LBS_2: Final = 0x22
PROTO_ALARM_2: Final = 0x26
PROTO_COMMAND: Final = 0x80

#: messages acknowledged with ``78 78 05 PROTO SERIAL CRC 0D 0A`` (never 0x21)
ACKED: Final = frozenset({PROTO_LOGIN, PROTO_GPS, PROTO_GPS_LBS_4, PROTO_GPS_LBS, PROTO_STATUS,
                          PROTO_STRING, PROTO_ALARM, PROTO_GPS_LBS_2, PROTO_ALARM_2})

#: alarm byte → :data:`carebiz_plugins.gps.fixes.ALARM_TYPES` name
ALARM_BYTE: Final[dict[int, str]] = {
    0x01: "sos", 0x02: "power_cut", 0x03: "vibration", 0x04: "geofence_enter",
    0x05: "geofence_exit", 0x06: "overspeed", 0x09: "vibration", 0x0E: "low_battery",
    0x0F: "low_battery", 0x19: "low_battery", 0xC9: "idle",
}
#: terminal-info bits 3–5 → alarm name
TERMINAL_ALARM: Final[dict[int, str]] = {1: "vibration", 2: "power_cut", 3: "low_battery", 4: "sos"}


def _make_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE: Final = _make_table()


def crc16_x25_slow(data: bytes | bytearray | memoryview) -> int:
    """Table-driven CRC-16/X-25, byte by byte: the reference :func:`crc16_x25` is tested against."""
    crc = 0xFFFF
    table = _TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


_REV8: Final = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X-25 (reflected 0x1021, init and xor-out 0xFFFF); ``b"123456789"`` → 0x906E.

    Computed in C: X-25 is the bit-reflected form of CRC-CCITT, so it is ``binascii.crc_hqx``
    (CRC-CCITT, init 0xFFFF, a symmetric value) over the bit-reversed bytes, reversed back.
    About 10× the pure-Python loop, which was most of the decode time.
    """
    crc = crc_hqx(bytes(data).translate(_REV8), 0xFFFF)
    rev = _REV8
    return ((rev[crc & 0xFF] << 8) | rev[crc >> 8]) ^ 0xFFFF


class FrameSplitter:
    """Turns a TCP byte stream into complete GT06 frames (see the module docstring)."""

    __slots__ = ("_buf", "dropped")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.dropped = 0            #: garbage bytes skipped so far

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        n = len(buf)
        while True:
            if n - pos < 2:
                break
            b0 = buf[pos]
            if not ((b0 == 0x78 or b0 == 0x79) and buf[pos + 1] == b0):
                # resync: next start marker of either kind
                nxt = _next_start(buf, pos + 1)
                skip = (nxt if nxt >= 0 else n - 1) - pos
                self.dropped += skip
                pos += skip
                continue
            if b0 == 0x78:
                if n - pos < 3:
                    break
                total = buf[pos + 2] + 5
            else:
                if n - pos < 4:
                    break
                total = ((buf[pos + 2] << 8) | buf[pos + 3]) + 6
            if total <= MAX_FRAME:
                if n - pos < total:
                    break
                end = pos + total
                if buf[end - 2] == 0x0D and buf[end - 1] == 0x0A:
                    frames.append(bytes(buf[pos:end]))
                    pos = end
                    continue
            # declared length does not end in 0D0A: cut at the next 0D0A
            crlf = buf.find(b"\r\n", pos + 3)
            if crlf >= 0 and crlf + 2 - pos <= MAX_FRAME:
                frames.append(bytes(buf[pos:crlf + 2]))
                pos = crlf + 2
                continue
            if crlf < 0 and n - pos < MAX_FRAME:
                break               # wait for more bytes
            self.dropped += 2       # junk start marker: skip it and resync
            pos += 2
        if pos:
            del buf[:pos]
        if len(buf) > MAX_BUFFER:   # cannot happen with the rules above; belt and braces
            self.dropped += len(buf)
            buf.clear()
        return frames


def _next_start(buf: bytearray, start: int) -> int:
    a = buf.find(b"\x78\x78", start)
    b = buf.find(b"\x79\x79", start)
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


# --- decoding -----------------------------------------------------------------------------

class MalformedFrame(ValueError):
    """The frame cannot be decoded (too short for its message, bad BCD …)."""


@dataclass(frozen=True, slots=True)
class Login:
    imei: str
    type_id: int | None = None
    tz_offset_min: int | None = None    #: minutes east of UTC, when the login carried it


@dataclass(frozen=True, slots=True)
class CommandReply:
    text: str


@dataclass(slots=True)
class Frame:
    """One decoded frame: header facts plus the message values it carried."""

    proto: int
    serial: int | None
    crc_ok: bool
    len_ok: bool
    login: Login | None = None
    fix: Fix | None = None
    status: DeviceStatus | None = None
    alarm: DeviceAlarm | None = None
    reply: CommandReply | None = None

    @property
    def ack(self) -> bytes | None:
        """The acknowledgement to write back, or ``None`` (0x21, unknown types, no serial)."""
        if self.serial is None or self.proto not in ACKED:
            return None
        return ack(self.proto, self.serial)


_ACK_CACHE: dict[tuple[int, int], bytes] = {}


def ack(proto: int, serial: int) -> bytes:
    """``78 78 05 PROTO SERIAL CRC 0D 0A``."""
    key = (proto, serial)
    out = _ACK_CACHE.get(key)
    if out is None:
        body = struct.pack(">BBH", 5, proto, serial)
        out = b"\x78\x78" + body + struct.pack(">H", crc16_x25(body)) + b"\r\n"
        if len(_ACK_CACHE) < 65536:
            _ACK_CACHE[key] = out
    return out


def encode_command(text: str, serial: int = 0, server_flag: int = 0, *,
                   language: int | None = None) -> bytes:
    """A 0x80 command frame: ``78 78 LEN 80 cmdlen flag(4) ASCII [lang(2)] serial CRC 0D 0A``."""
    payload = text.encode("ascii")
    content = struct.pack(">BI", 4 + len(payload), server_flag) + payload
    if language is not None:
        content += struct.pack(">H", language)
    length = 1 + len(content) + 4
    if length > 0xFF:
        raise ValueError("command too long for a GT06 frame")
    body = struct.pack(">BB", length, PROTO_COMMAND) + content + struct.pack(">H", serial & 0xFFFF)
    return b"\x78\x78" + body + struct.pack(">H", crc16_x25(body)) + b"\r\n"


def cut_off_command(password: str | None = None) -> str:
    """Fuel/power cut text: ``Relay,1#``, or ``DYD,<pw>#`` for older units with a password."""
    return f"DYD,{password}#" if password else "Relay,1#"


def restore_command(password: str | None = None) -> str:
    return f"HFYD,{password}#" if password else "Relay,0#"


_GPS: Final = struct.Struct(">6BBIIBH")
_U16: Final = struct.Struct(">H")
_EPOCH_CACHE: dict[bytes, datetime] = {}


def _imei(bcd: bytes) -> str:
    digits = bcd.hex()
    if not digits.isdigit():
        raise MalformedFrame("IMEI is not BCD")
    return digits[1:] if len(digits) == 16 else digits


def _gps(data: bytes, off: int, device: str, tz: int, raw: bytes | None) -> list[Any]:
    """The 18-byte GPS block as Fix's positional fields (a list: decoders adjust ignition,
    reupload, odometer before building the frozen Fix once)."""
    if len(data) < off + 18:
        raise MalformedFrame("GPS block too short")
    yy, mo, dd, hh, mi, ss, sats, lat_raw, lon_raw, speed, flags = _GPS.unpack_from(data, off)
    try:
        t = datetime(2000 + yy, mo, dd, hh, mi, ss, tzinfo=UTC)
    except ValueError:
        if mo == 0 and dd == 0:          # no date yet (cold start): a fixed, obviously old time
            t = datetime(2000, 1, 1, tzinfo=UTC)
        else:
            raise MalformedFrame("bad GPS date") from None
    if tz:
        t -= timedelta(minutes=tz)
    lat = lat_raw / 1800000.0
    lon = lon_raw / 1800000.0
    if not flags & 0x0400:
        lat = -lat
    if flags & 0x0800:
        lon = -lon
    ignition = bool(flags & 0x8000) if flags & 0x4000 else None
    # device, fix_time, lat, lon, speed, course, valid, satellites, ignition, reupload,
    # odometer_m, fuel_l, attributes, raw
    return [device, t, lat, lon, float(speed), flags & 0x03FF, bool(flags & 0x1000), sats & 0x0F,
            ignition, False, None, None, None, raw]


_IGN, _REUP, _ODO, _ATTRS = 8, 9, 10, 12


def _cell(data: bytes, off: int, end: int, cell4: bool) -> tuple[list[int], int]:
    if end - off < 8:
        raise MalformedFrame("cell block too short")
    mcc = (data[off] << 8) | data[off + 1]
    off += 2
    if mcc & 0x8000:
        mcc &= 0x7FFF
        mnc = (data[off] << 8) | data[off + 1]
        off += 2
    else:
        mnc = data[off]
        off += 1
    lac = (data[off] << 8) | data[off + 1]
    off += 2
    if cell4:
        cid = int.from_bytes(data[off:off + 4], "big")
        off += 4
    else:
        cid = (data[off] << 16) | (data[off + 1] << 8) | data[off + 2]
        off += 3
    return [mcc, mnc, lac, cid], off


def _terminal_alarm(info: int) -> str | None:
    bits = (info >> 3) & 0x07
    if not bits:
        return None
    return TERMINAL_ALARM.get(bits, f"other:ti{bits}")


def alarm_name(alarm_byte: int, terminal_info: int | None = None) -> str | None:
    """The alarm a frame reports (see the module docstring), ``None`` when none."""
    if alarm_byte:
        return ALARM_BYTE.get(alarm_byte, f"other:{alarm_byte:02x}")
    if terminal_info is not None:
        return _terminal_alarm(terminal_info)
    return None


def decode(frame: bytes, device: str = "", tz_offset_min: int = 0,
           received_at: datetime | None = None, *, keep_raw: bool = True) -> Frame:
    """Decode one complete frame from :class:`FrameSplitter`.

    ``device`` and ``tz_offset_min`` come from the connection's login. Unknown message types
    decode to a :class:`Frame` with no values (and no ack). Raises :class:`MalformedFrame`,
    and only that, whatever the bytes (a device's junk must never kill its connection).
    """
    try:
        return _decode(frame, device, tz_offset_min, received_at, keep_raw)
    except MalformedFrame:
        raise
    except (IndexError, ValueError, struct.error, TypeError) as exc:
        raise MalformedFrame(f"{type(exc).__name__}: {exc}") from None


def _decode(frame: bytes, device: str, tz_offset_min: int, received_at: datetime | None,
            keep_raw: bool) -> Frame:
    n = len(frame)
    if n < 7 or frame[n - 2:] != b"\r\n":
        raise MalformedFrame("frame too short")
    if frame[0] == 0x78:
        declared = frame[2]
        hdr = 3
        extra = 5
    elif frame[0] == 0x79:
        if n < 8:
            raise MalformedFrame("frame too short")
        declared = (frame[2] << 8) | frame[3]
        hdr = 4
        extra = 6
    else:
        raise MalformedFrame("no start marker")
    proto = frame[hdr]
    len_ok = declared + extra == n and declared >= 5
    if len_ok:
        end = n - 6                      # content ends before SERIAL CRC 0D0A
        serial: int | None = _U16.unpack_from(frame, end)[0]
        crc_ok = crc16_x25(memoryview(frame)[2:n - 4]) == _U16.unpack_from(frame, n - 4)[0]
    else:
        end = n - 2                      # no trustworthy serial/CRC: content up to 0D0A
        serial = None
        crc_ok = False
    off = hdr + 1
    out = Frame(proto, serial, crc_ok, len_ok)
    raw = frame if keep_raw else None
    if proto == PROTO_LOGIN:
        if end - off < 8:
            raise MalformedFrame("login too short")
        imei = _imei(frame[off:off + 8])
        type_id = tz = None
        if end - off >= 12:
            type_id = _U16.unpack_from(frame, off + 8)[0]
            word = _U16.unpack_from(frame, off + 10)[0]
            val = word >> 4
            tz = (val // 100) * 60 + val % 100
            if word & 0x08:
                tz = -tz
        out.login = Login(imei, type_id, tz)
    elif proto in (PROTO_GPS, PROTO_GPS_LBS, PROTO_GPS_LBS_4, PROTO_GPS_LBS_2):
        f = _gps(frame, off, device, tz_offset_min, raw)
        off += 18
        attrs: dict[str, object] = {}
        if proto != PROTO_GPS and end - off >= 8:
            attrs["cell"], off = _cell(frame, off, end, proto == PROTO_GPS_LBS_4)
            rest = end - off
            if proto == PROTO_GPS_LBS_2:
                if rest >= 1:
                    acc = bool(frame[off])
                    attrs["acc"] = acc
                    f[_IGN] = acc
                if rest >= 2:
                    attrs["upload_mode"] = frame[off + 1]
                if rest >= 3:
                    f[_REUP] = bool(frame[off + 2])
            elif rest == 4:
                f[_ODO] = int.from_bytes(frame[off:off + 4], "big")
            elif rest >= 5:        # VXT01 variant: status, power (V/100), rssi, alarm-ext
                info = frame[off]
                f[_IGN] = bool(info & 0x02)
                attrs["status"] = info
                attrs["power_v"] = _U16.unpack_from(frame, off + 1)[0] / 100.0
                attrs["gsm_signal"] = frame[off + 3]
        f[_ATTRS] = attrs
        out.fix = Fix(*f)
    elif proto == PROTO_STATUS:
        if end - off < 3:
            raise MalformedFrame("heartbeat too short")
        info = frame[off]
        volt = frame[off + 1]
        gsm = frame[off + 2]
        alarm_b = frame[off + 3] if end - off >= 4 else 0
        now = received_at or datetime.now(UTC)
        out.status = DeviceStatus(
            device=device, received_at=now, ignition=bool(info & 0x02),
            charging=bool(info & 0x04), voltage_level=volt, gsm_signal=gsm,
            cut_off=bool(info & 0x80), attributes={"status": info},
        )
        name = ALARM_BYTE.get(alarm_b, f"other:{alarm_b:02x}") if alarm_b else None
        if name:
            out.alarm = DeviceAlarm(device, name, now)
    elif proto in (PROTO_ALARM, PROTO_ALARM_2):
        f = _gps(frame, off, device, tz_offset_min, raw)
        off += 18
        attrs = {}
        if end - off < 1:
            raise MalformedFrame("alarm without cell block")
        # the length byte counts itself + the cell bytes, but devices send 8 and still carry
        # a full cell block (as the reference server reads it): read the block, skip extras
        cell_len = frame[off]
        off += 1
        if cell_len:
            cell, after = _cell(frame, off, end, False)
            if any(cell):
                attrs["cell"] = cell
            off = after + max(0, cell_len - 9)
        if end - off < 4:
            raise MalformedFrame("alarm too short")
        info, volt, gsm, alarm_b = frame[off], frame[off + 1], frame[off + 2], frame[off + 3]
        attrs.update(status=info, voltage_level=volt, gsm_signal=gsm)
        f[_IGN] = bool(info & 0x02)
        f[_ATTRS] = attrs
        fix = Fix(*f)
        out.fix = fix
        name = alarm_name(alarm_b, info)
        if name:
            out.alarm = DeviceAlarm(device, name, fix.fix_time, fix)
    elif proto == PROTO_STRING:
        # cmd length(1) server flag(4) text; trailing language(2) when the length says so
        if end - off < 5:
            raise MalformedFrame("reply too short")
        cmd_len = frame[off]
        start = off + 5
        stop = min(off + 1 + cmd_len, end) if cmd_len >= 4 else end
        out.reply = CommandReply(frame[start:stop].decode("ascii", "replace"))
    elif proto == PROTO_STRING_INFO:
        # server flag(4) encoding(1) text
        if end - off < 5:
            raise MalformedFrame("reply too short")
        enc = frame[off + 4]
        body = frame[off + 5:end]
        text = body.decode("ascii", "replace") if enc == 1 else body.decode("utf-16-be", "replace")
        out.reply = CommandReply(text)
    return out
