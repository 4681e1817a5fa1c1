"""GT06 ingest load: N simulated trackers on loopback against the TCP server.

Run ``.venv/bin/python benchmarks/gps_load.py --serve`` to start the server in a second
process (in-memory sink by default: the speed of the protocol server alone, no database) and
drive it from this one, or ``--host/--port`` to drive a server that is already running.
``--sink module:factory`` picks the server's sink (a zero-argument callable returning an
:class:`~carebiz_plugins.gps.fixes.IngestSink`, sync or async), e.g. the DB store sink.

Each tracker logs in, then sends 0x12 GPS+cell frames: with ``--rate 0`` (default) as fast
as acks come back, ``--window`` frames in flight each; with ``--rate R`` at R frames/s each.
Printed on one line each:

- ``acked``: GPS frames acknowledged by the server per second (acks are written only after
  the sink took the fixes), over the measuring period after all logins;
- ``decode``: the raw limit — the same frames through ``FrameSplitter.feed`` + ``decode`` in
  this process, one core, no sockets;
- the server's own counters at the end (frames, fixes, malformed, crc_mismatch).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import os
import signal
import struct
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from carebiz_plugins.gps.protocol import gt06

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def login_frame(imei: str, serial: int = 1) -> bytes:
    body = struct.pack(">BB", 0x0D, 0x01) + bytes.fromhex("0" + imei) + struct.pack(">H", serial)
    return b"\x78\x78" + body + struct.pack(">H", gt06.crc16_x25(body)) + b"\r\n"


def gps_frame(k: int, i: int) -> bytes:
    """Tracker ``k``'s ``i``-th fix: 10 s apart (distinct fix times: idempotent sinks keep all)."""
    t = T0 + timedelta(seconds=10 * i)
    lat = 23.0 + k * 1e-3 + i * 1e-5
    body = struct.pack(">BB6BBIIBH", 0x1F, 0x12, t.year - 2000, t.month, t.day, t.hour,
                       t.minute, t.second, 0xC9, int(lat * 1800000), int(114.0 * 1800000), 40,
                       0x1400 | 0xC000 | 90)
    body += bytes.fromhex("01cc00287d001f71") + struct.pack(">H", (i + 2) & 0xFFFF)
    return b"\x78\x78" + body + struct.pack(">H", gt06.crc16_x25(body)) + b"\r\n"


def imei_of(k: int) -> str:
    return f"86{k:013d}"


# --- server process --------------------------------------------------------------------------

def load_sink(spec: str) -> Any:
    module, _, name = spec.partition(":")
    obj = getattr(importlib.import_module(module), name or "factory")
    return obj


async def run_server(host: str, port: int, spec: str) -> None:
    from carebiz_plugins.gps.ingest.tcp import Gt06Server

    made = load_sink(spec)()
    sink = await made if inspect.isawaitable(made) else made
    server = Gt06Server(sink, idle_timeout=600.0)
    await server.start(host, port, backlog=8192)
    print(f"READY {server.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    await server.close()
    print("STATS " + json.dumps(server.stats.as_dict()), flush=True)


# --- load generator -----------------------------------------------------------------------------

class Tracker(asyncio.Protocol):
    __slots__ = ("k", "gen", "transport", "pending", "logged_in", "sent", "acked", "window",
                 "rate_mode", "buf_len", "done")

    def __init__(self, gen: Generator, k: int) -> None:
        self.gen = gen
        self.k = k
        self.transport: asyncio.Transport | None = None
        self.logged_in = False
        self.sent = 0
        self.acked = 0
        self.buf_len = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(login_frame(imei_of(self.k)))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf_len += len(data)
        n = self.buf_len // 10
        self.buf_len -= n * 10
        if not self.logged_in:
            self.logged_in = True
            n -= 1
            self.gen.logged_in += 1
            if not self.done.done():
                self.done.set_result(None)
        self.acked += n
        self.gen.acked += n
        if self.gen.rate == 0 and self.gen.running:
            self.send(n if self.sent else self.gen.window)

    def send(self, count: int) -> None:
        if count <= 0 or self.transport is None or self.transport.is_closing():
            return
        frames = self.gen.frames_for(self.k, self.sent, count)
        self.sent += count
        self.transport.write(frames)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)
        self.gen.lost += 1


class Generator:
    def __init__(self, trackers: int, rate: float, window: int, cycle: int = 64) -> None:
        self.trackers = trackers
        self.rate = rate
        self.window = window
        self.acked = 0
        self.logged_in = 0
        self.lost = 0
        self.running = False
        self._cycle = cycle                    # frames per tracker pre-built, reused cyclically
        self._frames: list[list[bytes]] = []

    def build(self) -> None:
        self._frames = [[gps_frame(k, i) for i in range(self._cycle)] for k in range(self.trackers)]

    def frames_for(self, k: int, start: int, count: int) -> bytes:
        cyc = self._frames[k]
        n = self._cycle
        return b"".join(cyc[(start + j) % n] for j in range(count))


async def drive(args: argparse.Namespace, host: str, port: int) -> dict[str, float]:
    gen = Generator(args.trackers, args.rate, args.window, args.cycle)
    gen.build()
    loop = asyncio.get_running_loop()
    conns: list[Tracker] = []
    t_login = time.perf_counter()
    sem = asyncio.Semaphore(200)

    async def open_one(k: int) -> None:
        async with sem:
            _, proto = await loop.create_connection(lambda: Tracker(gen, k), host, port)
            conns.append(proto)
            await asyncio.wait_for(proto.done, 30)

    await asyncio.gather(*(open_one(k) for k in range(args.trackers)))
    login_s = time.perf_counter() - t_login
    gen.running = True
    start_acked = gen.acked
    t0 = time.perf_counter()
    if args.rate == 0:
        for c in conns:
            c.send(gen.window)
        await asyncio.sleep(args.duration)
    else:
        # due frames from the clock, not from tick counts: a slow tick does not lower the rate
        end = t0 + args.duration
        done = 0
        while (now := time.perf_counter()) < end:
            due = int((now - t0) * args.rate) + 1
            if due > done:
                for c in conns:
                    c.send(due - done)
                done = due
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    acked = gen.acked - start_acked
    sent = sum(c.sent for c in conns)
    gen.running = False
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    await asyncio.sleep(0.2)
    return {"trackers": args.trackers, "logged_in": gen.logged_in, "login_s": login_s,
            "elapsed_s": elapsed, "sent": sent, "acked": acked, "acked_per_s": acked / elapsed,
            "lost": gen.lost}


def decode_rate(trackers: int, frames: int = 100_000) -> float:
    """The raw limit: split + decode of the same kind of frames, one core, no sockets."""
    per = max(1, frames // max(1, min(trackers, 1000)))
    data = [gps_frame(k, i) for k in range(min(trackers, 1000)) for i in range(per)]
    reads = data                                    # one frame per read, as trackers send
    splitter = gt06.FrameSplitter()
    t0 = time.perf_counter()
    n = 0
    for chunk in reads:
        for frame in splitter.feed(chunk):
            gt06.decode(frame, "860000000000001")
            n += 1
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trackers", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=0.0, help="frames/s per tracker; 0 = max")
    ap.add_argument("--window", type=int, default=4, help="frames in flight per tracker at max")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help="start the server in a second process")
    ap.add_argument("--sink", default="carebiz_plugins.gps.ingest.memory:factory")
    ap.add_argument("--cycle", type=int, default=64,
                    help="distinct fix times per tracker before they repeat (an idempotent "
                         "store keeps each once: make it larger than the frames sent)")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead")
    ap.add_argument("--server-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.server_only:
        asyncio.run(run_server(args.host, args.port, args.sink))
        return

    server: subprocess.Popen[str] | None = None
    port = args.port
    if args.serve:
        server = subprocess.Popen(
            [sys.executable, __file__, "--server-only", "--host", args.host,
             "--port", str(args.port), "--sink", args.sink],
            stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("READY"):
            raise SystemExit(f"server did not start: {line!r}")
        port = int(line.split()[1])
    elif not port:
        raise SystemExit("give --port of a running server, or --serve")
    try:
        result = asyncio.run(drive(args, args.host, port))
    finally:
        stats = None
        if server is not None:
            server.send_signal(signal.SIGTERM)
            out, _ = server.communicate(timeout=30)
            for line in out.splitlines():
                if line.startswith("STATS "):
                    stats = json.loads(line[6:])
    if args.json:
        print(json.dumps({**result, "server": stats}))
        return
    raw = decode_rate(args.trackers)
    print(f"trackers {result['trackers']} (logged in {result['logged_in']} in "
          f"{result['login_s']:.2f} s), sink {args.sink if args.serve else 'external'}, "
          f"rate {'max, window ' + str(args.window) if args.rate == 0 else args.rate}")
    print(f"acked: {result['acked_per_s']:,.0f} GPS frames/s over {result['elapsed_s']:.1f} s "
          f"({result['acked']:,} acked of {result['sent']:,} sent, "
          f"{result['lost']} connections closed at the end)")
    print(f"decode (raw limit, same frames, one core, no sockets): {raw:,.0f} frames/s")
    if stats:
        print("server: " + ", ".join(f"{k} {v}" for k, v in stats.items()))


if __name__ == "__main__":
    main()
