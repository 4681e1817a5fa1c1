"""What one request costs the platform, beside a bare Flask JSON endpoint in the same run.

    python benchmarks/request_cost.py                       # SQLite
    python benchmarks/request_cost.py --postgres postgresql+psycopg://postgres@127.0.0.1/bench

Target (issue "Production-safe core"): an authenticated ``GET /api/v1/customers/<id>`` reaches
at least 0.30x the requests/s of a bare Flask JSON endpoint on SQLite and 0.20x on PostgreSQL;
the customers list page and the 360° page cost under 5 ms of worker CPU each.

How: a demo database is prepared in a temporary folder (``carebiz db upgrade`` and the demo
data: 300 customers, one admin token). Two servers start as separate processes on 127.0.0.1
with the same gunicorn settings (``--workers`` sync workers, the access log on, start-up
objects frozen out of the collector as ``carebiz serve`` does):

- *bare*: a Flask app with one JSON endpoint answering a customer-shaped dict, no database;
- *carebiz*: ``carebiz serve`` on the prepared database.

Load comes from ``--clients`` separate processes, each sending one request at a time over a
raw socket (the sync workers close the connection after each answer; a raw socket keeps the
client's own cost small and the same for both servers). For each probe the bare server and
carebiz are driven in turn, ``--rounds`` times, for ``--seconds`` each, so background load on
the machine falls on both alike; the ratio is carebiz's requests/s over bare Flask's, summed
over the rounds. Worker CPU per request is the workers' utime+stime from ``/proc/<pid>/stat``
over the measured window divided by the requests answered (each answer's status is checked).
Statements per request are counted in this process on an app built from the same settings,
with a listener on the engine, through the Flask test client (same user, same request).

Probes: the customer by bearer token (admin), the customers list page and the customer's 360°
page with a logged-in session cookie (admin). ``--user`` picks another demo user (the
branch-limited ``sales`` exercises the row filters). ``--json FILE`` saves the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEMO_PASSWORD = "carebiz-demo"


# --- the bare Flask server -------------------------------------------------------------------


def bare_app() -> Any:
    """A Flask app answering a customer-shaped JSON dict: the framework's floor."""
    from flask import Flask, jsonify

    app = Flask("bare")

    @app.get("/api/v1/customers/<int:party_id>")
    def customer(party_id: int) -> Any:
        return jsonify(id=party_id, kind="person", name="王伟", phones=["+8613800138000"],
                       emails=[], roles=["customer"], tags=[], branch_id=1, city="北京",
                       active=True, merged_into_id=None)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    return app


def serve_bare(bind: str, workers: int, timeout: int) -> None:
    """gunicorn with the settings ``carebiz serve`` uses (see ``carebiz.cli.serve``)."""
    import gc

    from gunicorn.app.base import BaseApplication

    app = bare_app()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", bind)
            self.cfg.set("workers", workers)
            self.cfg.set("timeout", timeout)
            self.cfg.set("accesslog", "-")

        def load(self) -> Any:
            return app

    gc.collect()
    gc.freeze()
    Server().run()


# --- the load generator (runs in its own processes) ------------------------------------------


def drive(port: int, request: bytes, start_at: float, end_at: float) -> dict[str, Any]:
    """Send ``request`` one at a time from ``start_at`` to ``end_at`` (wall clock); count the
    answers by status and keep each latency."""
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)
    while time.time() < end_at:
        began = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request)
            first = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                if not first:
                    first = chunk
        latencies.append(time.perf_counter() - began)
        status = first[9:12].decode() if first.startswith(b"HTTP/") else "none"
        statuses[status] = statuses.get(status, 0) + 1
    return {"statuses": statuses, "latencies": latencies}


def build_request(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: */*",
             *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def run_clients(port: int, path: str, headers: dict[str, str], clients: int,
                seconds: float, worker_pids: list[int]) -> dict[str, Any]:
    """``clients`` driver processes for ``seconds``; the workers' CPU over the same window."""
    request = build_request(port, path, headers).decode("latin-1")
    start_at = time.time() + 0.4  # the drivers' interpreters start meanwhile
    end_at = start_at + seconds
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import request_cost as rc; "
            "r = rc.drive(int(sys.argv[2]), sys.argv[3].encode('latin-1'), float(sys.argv[4]), "
            "float(sys.argv[5])); print(json.dumps(r))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(Path(__file__).parent),
                               str(port), request, repr(start_at), repr(end_at)],
                              stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    time.sleep(max(0.0, start_at - time.time()))
    cpu_before = cpu_ticks(worker_pids)
    time.sleep(max(0.0, end_at - time.time()))
    cpu_after = cpu_ticks(worker_pids)
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    for proc in procs:
        out, _err = proc.communicate(timeout=seconds + 60)
        result = json.loads(out)
        for status, count in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
        latencies += result["latencies"]
    return {"statuses": statuses, "ok": statuses.get("200", 0), "seconds": seconds,
            "cpu_s": (cpu_after - cpu_before) / CLOCK_TICKS, "latencies": latencies}


# --- processes -------------------------------------------------------------------------------


def cpu_ticks(pids: list[int]) -> int:
    """utime + stime of the processes, in clock ticks."""
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return sorted(found)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(port: int, method: str, path: str, headers: dict[str, str] | None = None,
         body: str | None = None) -> tuple[int, dict[str, str], str]:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        cookies = [v for k, v in resp.getheaders() if k.lower() == "set-cookie"]
        return resp.status, {"set-cookie": "; ".join(c.split(";")[0] for c in cookies)}, \
            resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Server:
    """A server process group on 127.0.0.1, stopped (with its workers) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int,
                 log: Path, workers: int) -> None:
        self.name, self.port, self.workers = name, port, workers
        self.log = log.open("w")
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} server exited; see {self.log.name}")
            with contextlib.suppress(OSError):
                if http(self.port, "GET", "/healthz")[0] == 200 and \
                        len(children(self.proc.pid)) >= self.workers:
                    return
            time.sleep(0.2)
        raise SystemExit(f"{self.name} server did not answer within {timeout} s")

    @property
    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own process group only
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --- the database ----------------------------------------------------------------------------


def reset_database(url: str, folder: Path) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return
    if parsed.database in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to wipe the database {parsed.database!r}")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def prepare(url: str, folder: Path, username: str) -> dict[str, Any]:
    """Migrate, load the demo data, issue a token; pick the customer with the most history."""
    from sqlalchemy import func, select

    from carebiz import create_app, migrate
    from carebiz.crm.models import Party, TimelineEntry, Vehicle
    from carebiz.demo import load_demo
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user

    reset_database(url, folder)
    app = create_app({"CAREBIZ_INSTANCE_PATH": str(folder), "CAREBIZ_DATABASE_URL": url,
                      "CAREBIZ_JOB_QUEUE": "inline"})
    migrate.upgrade(app)
    load_demo(app)
    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        user = get_user(sess, username)
        _t, token = create_token(sess, user, "bench")
        sess.commit()
        stmt = (select(Party.id).join(TimelineEntry, TimelineEntry.party_id == Party.id)
                .where(Party.active.is_(True), Party.id.in_(select(Vehicle.owner_id)))
                .group_by(Party.id).order_by(func.count(TimelineEntry.id).desc(), Party.id))
        if not (user.all_branches or user.is_superuser):
            stmt = stmt.where(Party.branch_id.in_(sorted(user.branch_ids)))
        party_id = sess.scalar(stmt.limit(1))
    ext.engine.dispose()
    return {"token": token, "party_id": party_id}


# --- statements per request, in this process -------------------------------------------------


def statements_per_request(url: str, folder: Path, username: str,
                           probes: list[dict[str, Any]], repeat: int = 20) -> dict[str, Any]:
    """Statements and in-process CPU per request through the test client (after warm-up)."""
    from sqlalchemy import event

    from carebiz import create_app

    app = create_app({"CAREBIZ_INSTANCE_PATH": str(folder), "CAREBIZ_DATABASE_URL": url,
                      "CAREBIZ_JOB_QUEUE": "inline", "WTF_CSRF_ENABLED": False})
    engine = app.extensions["carebiz"].engine
    counter = {"n": 0}

    def count(*_args: Any) -> None:
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    browser = app.test_client()
    resp = browser.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert resp.status_code == 302, resp.status_code
    api = app.test_client()
    out = {}
    for probe in probes:
        client = api if probe["auth"] == "token" else browser
        for _ in range(3):
            resp = client.get(probe["path"], headers=probe["headers"])
            assert resp.status_code == 200, (probe["path"], resp.status_code)
        counter["n"] = 0
        start = time.process_time()
        for _ in range(repeat):
            client.get(probe["path"], headers=probe["headers"])
        cpu = (time.process_time() - start) / repeat
        out[probe["name"]] = {"statements": counter["n"] / repeat, "inproc_cpu_ms": cpu * 1000}
    engine.dispose()
    return out


# --- one database ----------------------------------------------------------------------------


def login_cookie(port: int, username: str) -> str:
    status, headers, page = http(port, "GET", "/login")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    if status != 200 or match is None:
        raise SystemExit(f"login page answered {status} without a CSRF token")
    from urllib.parse import urlencode

    body = urlencode({"csrf_token": match.group(1), "username": username,
                      "password": DEMO_PASSWORD})
    status, answer, _page = http(port, "POST", "/login", {
        "Cookie": headers["set-cookie"], "Content-Type": "application/x-www-form-urlencoded"},
        body)
    if status != 302:
        raise SystemExit(f"login answered {status}")
    return answer["set-cookie"]


def measure(label: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="carebiz-cost-"))
    db_url = url if url != "sqlite" else f"sqlite:///{folder / 'carebiz.db'}"
    print(f"\n== {label}: {db_url.split('@')[-1]}  (folder {folder})", flush=True)
    print(HEADER, flush=True)
    prepared = prepare(db_url, folder, args.user)
    party = prepared["party_id"]
    probes = [
        {"name": "GET /api/v1/customers/<id> (token)", "auth": "token",
         "path": f"/api/v1/customers/{party}",
         "headers": {"Authorization": f"Bearer {prepared['token']}"}},
        {"name": "GET /customers (list page)", "auth": "cookie", "path": "/customers",
         "headers": {}},
        {"name": "GET /customers/<id> (360° page)", "auth": "cookie",
         "path": f"/customers/{party}", "headers": {}},
    ]
    if args.only:
        probes = [p for p in probes if any(p["name"].startswith(o) for o in args.only)]
    inproc = statements_per_request(db_url, folder, args.user, probes)

    env = {**os.environ, "CAREBIZ_INSTANCE_PATH": str(folder), "CAREBIZ_DATABASE_URL": db_url,
           "CAREBIZ_SECRET_KEY": "request-cost-bench", "CAREBIZ_JOB_QUEUE": "thread"}
    bare_port, app_port = free_port(), free_port()
    timeout = "60"
    bare = Server("bare", [sys.executable, __file__, "--serve-bare", f"127.0.0.1:{bare_port}",
                           "--workers", str(args.workers)], env, bare_port,
                  folder / "bare.log", args.workers)
    cbz = Server("carebiz", [str(VENV_BIN / "carebiz"), "serve", "--bind",
                             f"127.0.0.1:{app_port}", "--workers", str(args.workers),
                             "--timeout", timeout], env, app_port, folder / "carebiz.log",
                 args.workers)
    results: dict[str, Any] = {}
    try:
        bare.wait_ready()
        cbz.wait_ready()
        cookie = login_cookie(app_port, args.user)
        bare_path = f"/api/v1/customers/{party}"
        for probe in probes:
            headers = dict(probe["headers"])
            if probe["auth"] == "cookie":
                headers["Cookie"] = cookie
            # warm both (every worker compiles templates, fills its caches)
            run_clients(app_port, probe["path"], headers, args.clients, 1.0, cbz.worker_pids)
            run_clients(bare_port, bare_path, {}, args.clients, 1.0, bare.worker_pids)
            rounds = []
            for _ in range(args.rounds):
                b = run_clients(bare_port, bare_path, {}, args.clients, args.seconds,
                                bare.worker_pids)
                a = run_clients(app_port, probe["path"], headers, args.clients, args.seconds,
                                cbz.worker_pids)
                rounds.append((b, a))
            results[probe["name"]] = summarise(rounds, inproc[probe["name"]])
            print_row(probe["name"], results[probe["name"]])
    finally:
        cbz.stop()
        bare.stop()
    return {"database": label, "url": db_url.split("@")[-1], "probes": results}


def summarise(rounds: list[tuple[dict[str, Any], dict[str, Any]]],
              inproc: dict[str, Any]) -> dict[str, Any]:
    def total(side: int, key: str) -> float:
        return sum(r[side][key] for r in rounds)

    bare_ok, app_ok = total(0, "ok"), total(1, "ok")
    seconds = total(1, "seconds")
    errors: dict[str, int] = {}
    for _b, a in rounds:
        for status, count in a["statuses"].items():
            if status != "200":
                errors[status] = errors.get(status, 0) + count
    lat = sorted(x for _b, a in rounds for x in a["latencies"])
    return {
        "rps": app_ok / seconds, "bare_rps": bare_ok / total(0, "seconds"),
        "ratio": (app_ok / seconds) / (bare_ok / total(0, "seconds")) if bare_ok else 0.0,
        "round_ratios": [a["ok"] / b["ok"] if b["ok"] else 0.0 for b, a in rounds],
        "cpu_ms": 1000 * total(1, "cpu_s") / app_ok if app_ok else 0.0,
        "bare_cpu_ms": 1000 * total(0, "cpu_s") / bare_ok if bare_ok else 0.0,
        "p50_ms": 1000 * statistics.median(lat) if lat else 0.0,
        "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else 0.0,
        "errors": errors, **inproc,
    }


HEADER = (f"{'probe':<38} {'req/s':>8} {'bare':>8} {'ratio':>6} {'SQL':>5} "
          f"{'CPU ms':>7} {'bare CPU':>8} {'in-proc':>7} {'p50':>6} {'p99':>6}")


def print_row(name: str, r: dict[str, Any]) -> None:
    print(f"{name:<38} {r['rps']:8.0f} {r['bare_rps']:8.0f} {r['ratio']:6.3f} "
          f"{r['statements']:5.1f} {r['cpu_ms']:7.2f} {r['bare_cpu_ms']:8.3f} "
          f"{r['inproc_cpu_ms']:7.2f} {r['p50_ms']:6.1f} {r['p99_ms']:6.1f}"
          + (f"  errors {r['errors']}" if r["errors"] else ""), flush=True)
    print(f"{'':<38} rounds: " + " ".join(f"{x:.3f}" for x in r["round_ratios"]), flush=True)


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    import logging

    logging.getLogger("carebiz").setLevel(logging.WARNING)
    yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="also measure this PostgreSQL database (its public "
                                           "schema is wiped)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--workers", type=int, default=2, help="sync workers (2)")
    parser.add_argument("--clients", type=int, default=3, help="client processes (3)")
    parser.add_argument("--seconds", type=float, default=4.0, help="per run (4)")
    parser.add_argument("--rounds", type=int, default=3, help="bare/carebiz runs per probe (3)")
    parser.add_argument("--user", default="admin", help="demo user (admin)")
    parser.add_argument("--only", type=lambda v: [x.strip() for x in v.split(",")],
                        help='probes whose names start so, e.g. "GET /api,GET /customers (l"')
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--serve-bare", metavar="BIND", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare, args.workers, 60)
        return
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    print(f"workers {args.workers} (sync), clients {args.clients}, {args.rounds} rounds x "
          f"{args.seconds:g} s per server and probe; load average {os.getloadavg()[0]:.1f}")
    print("ratio = carebiz req/s / bare Flask req/s in the same rounds; CPU ms = worker CPU "
          "per answered request; SQL = statements per request; in-proc = CPU ms per request "
          "through the test client")
    out = []
    with quiet_logs():
        targets = ([] if args.no_sqlite else [("SQLite", "sqlite")]) + (
            [("PostgreSQL", args.postgres)] if args.postgres else [])
        for label, url in targets:
            out.append(measure(label, url, args))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
