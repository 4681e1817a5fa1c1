"""Speed figures of the platform kernel. Prints one line per figure; run with
``.venv/bin/python benchmarks/kernel.py`` (add ``--postgres URL`` to measure PostgreSQL).

What it measures and why:
- app creation: paid by every worker process at start and by every test;
- hook collection: menus, permissions and row filters are collected on every request;
- requests through the Flask test client (no network): the floor under every page and call;
- domain events: emit + commit + dispatch, the cost every business write pays.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), max(samples)


def report(name: str, repeat: int, fn: Callable[[], object]) -> None:
    median, worst = timed(fn, repeat)
    print(f"{name:<44} median {median * 1000:8.3f} ms   max {worst * 1000:8.3f} ms   n={repeat}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is wiped)")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from carebiz import create_app, migrate
    from carebiz.demo import load_demo
    from carebiz.events import emit
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user
    from carebiz.signals import core as signals

    tmp = Path(tempfile.mkdtemp(prefix="carebiz-bench-"))
    url = args.postgres or f"sqlite:///{tmp / 'bench.db'}"
    if args.postgres:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    config = {"CAREBIZ_INSTANCE_PATH": str(tmp), "CAREBIZ_DATABASE_URL": url,
              "CAREBIZ_JOB_QUEUE": "inline", "WTF_CSRF_ENABLED": False}
    print(f"database: {url.split('@')[-1]}")

    report("create_app (installed plugins)", 10, lambda: create_app(config))
    app = create_app(config)
    start = time.perf_counter()
    migrate.upgrade(app)
    print(f"{'db upgrade on an empty database':<44} {1000 * (time.perf_counter() - start):8.1f} ms")
    load_demo(app)
    host = app.extensions["carebiz"].host

    with app.test_request_context():
        from carebiz import db
        from carebiz.models import User

        admin = db.session().query(User).filter_by(username="admin").one()
        report("collect menu_items (per request)", 2000,
               lambda: host.collect("menu_items", user=admin))
        report("collect permissions", 2000, lambda: host.collect("permissions"))

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        _t, token = create_token(sess, get_user(sess, "admin"), "bench")
        sess.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    report("GET /healthz", 300, lambda: client.get("/healthz"))
    report("GET /api/v1/me (bearer token)", 300, lambda: client.get("/api/v1/me",
                                                                     headers=headers))
    report("GET /api/v1/branches (paged list)", 300,
           lambda: client.get("/api/v1/branches", headers=headers))
    browser = app.test_client()
    browser.post("/login", data={"username": "admin", "password": "carebiz-demo"})
    report("GET / (home page, logged in)", 300, lambda: browser.get("/"))

    def event_round() -> None:
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            emit(sess, signals.setting_changed, key="x", value=1, old=0)
            sess.commit()

    report("emit + commit + dispatch one event", 500, event_round)


if __name__ == "__main__":
    main()
