"""Every row of ``data/gt06_vectors.tsv`` (Traccar's GT06 test frames, Apache-2.0) as a test,
plus property tests of the frame splitter."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carebiz.testing import run_async
from carebiz_plugins.gps.fixes import ALARM_TYPES
from carebiz_plugins.gps.ingest.memory import MemorySink
from carebiz_plugins.gps.ingest.tcp import Gt06Connection
from carebiz_plugins.gps.protocol import gt06

VECTORS = Path(__file__).parent / "data" / "gt06_vectors.tsv"
TOL = 1e-5

#: the reference server's alarm names → ours (ALARM_TYPES); others must come out as other:<hex>
ALARM_NAMES = {"sos": "sos", "powerCut": "power_cut", "vibration": "vibration",
               "geofenceEnter": "geofence_enter", "geofenceExit": "geofence_exit",
               "overspeed": "overspeed", "lowBattery": "low_battery", "idle": "idle"}


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in VECTORS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        kind, frame, expect = line.split("\t")
        rows.append((kind, frame, expect))
    return rows


ROWS = _rows()


def _decoded(expect: str) -> dict[str, object]:
    if "decoded:" not in expect:
        return {}
    return json.loads(expect.split("decoded:", 1)[1].strip())


def _id(row: tuple[str, str, str]) -> str:
    return f"{row[0]}-{row[1][:10]}-{row[1][-12:-4]}"


def test_crc_check_value() -> None:
    assert gt06.crc16_x25(b"123456789") == 0x906E
    assert gt06.crc16_x25_slow(b"123456789") == 0x906E


@given(st.binary(max_size=200))
def test_fast_crc_equals_table_crc(data: bytes) -> None:
    assert gt06.crc16_x25(data) == gt06.crc16_x25_slow(data)


def test_every_row_is_covered() -> None:
    assert len(ROWS) == 53


def _check_decoded(frame: gt06.Frame, exp: dict[str, object]) -> None:
    fix = frame.fix
    for key, want in exp.items():
        if key == "imei":
            assert frame.login is not None and frame.login.imei == want
        elif key == "serial":
            assert frame.serial == want
        elif key == "ack":
            assert frame.ack is not None and frame.ack.hex() == want
        elif key == "tz_offset_min":
            assert frame.login is not None and frame.login.tz_offset_min == want
        elif key == "crc_ok":
            assert frame.crc_ok is want
        elif key == "len_ok":
            assert frame.len_ok is want
        elif key == "time":
            assert fix is not None
            assert fix.fix_time == datetime.fromisoformat(str(want).replace("Z", "+00:00"))
        elif key == "valid":
            assert fix is not None and fix.valid is want
        elif key == "lat":
            assert fix is not None and fix.latitude == pytest.approx(want, abs=TOL)
        elif key == "lon":
            assert fix is not None and fix.longitude == pytest.approx(want, abs=TOL)
        elif key == "speed_kph":
            assert fix is not None and fix.speed_kmh == pytest.approx(want, abs=TOL)
        elif key == "course":
            assert fix is not None and fix.course == want
        elif key == "sats":
            assert fix is not None and fix.satellites == want
        elif key == "cell":
            assert fix is not None and fix.attributes["cell"] == want
        elif key == "acc":
            assert fix is not None and fix.attributes["acc"] is want
        elif key == "upload_mode":
            assert fix is not None and fix.attributes["upload_mode"] == want
        elif key == "reupload":
            assert fix is not None and fix.reupload is want
        elif key == "ignition":
            got = frame.status.ignition if frame.status else fix.ignition if fix else None
            assert got is want
        elif key == "status":
            attrs = frame.status.attributes if frame.status else fix.attributes if fix else {}
            assert attrs["status"] == want
        elif key == "batteryLevel":
            if frame.status:
                level = frame.status.voltage_level
            else:
                assert fix is not None
                level = fix.attributes["voltage_level"]
            assert level is not None and level * 100 // 6 == want
        elif key == "rssi":
            if frame.status:
                gsm = frame.status.gsm_signal
            else:
                assert fix is not None
                gsm = fix.attributes["gsm_signal"]
            assert gsm == want
        elif key == "charge":
            assert frame.status is not None and frame.status.charging is want
        elif key == "blocked":
            assert frame.status is not None and frame.status.cut_off is want
        elif key == "alarm":
            assert frame.alarm is not None
            first = str(want).split(",")[0]
            if first in ALARM_NAMES:
                assert frame.alarm.type == ALARM_NAMES[first]
                assert frame.alarm.type in ALARM_TYPES
            else:   # tampering, removing …: not ours, kept as other:<hex>
                assert frame.alarm.type.startswith("other:")
        elif key == "result":
            assert frame.reply is not None and frame.reply.text == want
        else:  # pragma: no cover - a new column in the vectors must get a check
            raise AssertionError(f"no check for {key!r}")


#: the command rows: description → (text, language)
def _command_for(desc: str) -> tuple[str, int | None]:
    if "language" in desc:
        return gt06.cut_off_command(), 2
    if "G109" in desc:
        return ("DYD#" if "engineStop" in desc else "HFYD#"), None
    password = "123456" if "alternative" in desc else None
    if "engineStop" in desc:
        return gt06.cut_off_command(password), None
    return gt06.restore_command(password), None


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_vector(row: tuple[str, str, str]) -> None:
    kind, hexframe, expect = row
    data = bytes.fromhex(hexframe)
    if kind.startswith("cmd_"):
        text, language = _command_for(expect)
        assert gt06.encode_command(text, language=language).hex() == hexframe.lower()
        return
    if kind.startswith("frame_"):
        frames = gt06.FrameSplitter().feed(data)
        if kind == "frame_split":
            assert [len(f) for f in frames] == [18, 18, 18]
            assert b"".join(frames) == data
        else:   # 7979 extended, fallback at 0D0A, exact length: one frame, the whole buffer
            assert frames == [data]
        return
    if kind.startswith("gt02_"):
        # GT02 legacy framing (68 68) is a different protocol: the GT06 splitter must skip
        # it as garbage without raising or emitting a frame
        splitter = gt06.FrameSplitter()
        assert splitter.feed(data) == []
        return
    if kind == "pre_login_data":
        sink = MemorySink({"123456789012345"})
        conn = Gt06Connection(sink)
        written = run_async(_feed_connection(conn, data))
        assert written == b""
        assert sink.fixes == [] and sink.malformed_frames == []
        return
    assert gt06.FrameSplitter().feed(data) == [data]
    frame = gt06.decode(data, "123456789012345")
    exp = _decoded(expect)
    assert exp, "a decoding row without expectations"
    _check_decoded(frame, exp)
    if frame.proto == gt06.PROTO_STRING_INFO:
        assert frame.ack is None


class _Transport:
    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1) if name == "peername" else default


async def _feed_connection(conn: Gt06Connection, data: bytes) -> bytes:
    transport = _Transport()
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(data)
    await conn.drain_work()
    conn.connection_lost(None)
    return bytes(transport.out)


def test_login_timezone_applies_to_fix_times() -> None:
    gps = bytes.fromhex("787819100B031A0B1B31CC027AC7FD0C4657BF0115210001001CC6070D0A")
    frame = gt06.decode(gps, "x", tz_offset_min=-240)
    assert frame.fix is not None
    assert frame.fix.fix_time.isoformat() == "2011-03-26T15:27:49+00:00"


# --- splitter properties ------------------------------------------------------------------

VALID = [bytes.fromhex(f) for k, f, _ in ROWS
         if not k.startswith(("frame_fallback", "gt02", "lenient_nocrc", "frame_split"))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=12), st.data())
def test_any_chunking_yields_the_same_frames(frames: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    splitter = gt06.FrameSplitter()
    got: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        got += splitter.feed(stream[prev:cut])
        prev = cut
    assert got == frames


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=10))
def test_garbage_never_raises(chunks: list[bytes]) -> None:
    splitter = gt06.FrameSplitter()
    for chunk in chunks:
        for frame in splitter.feed(chunk):
            assert frame.endswith(b"\r\n")
            assert len(frame) <= gt06.MAX_FRAME
            with contextlib.suppress(gt06.MalformedFrame):
                gt06.decode(frame)
    assert len(splitter._buf) <= gt06.MAX_BUFFER


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=5), st.binary(max_size=50))
def test_garbage_prefix_then_frames_never_raises(frames: list[bytes], junk: bytes) -> None:
    splitter = gt06.FrameSplitter()
    out = splitter.feed(junk + b"".join(frames))
    for frame in out:
        with contextlib.suppress(gt06.MalformedFrame):
            gt06.decode(frame)
