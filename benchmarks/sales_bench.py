"""Sales at scale: today's dashboard and registering a prospect through the API.

Target (issue 11): with 200,000 prospects and 2,000,000 return visits, the today dashboard
answers in under 300 ms and registering a prospect (API) takes under 50 ms at the 95th
percentile, on SQLite and on PostgreSQL. Also timed: the conversion funnel page (this month
by source, 90 days by month) as the manager reads it.

    .venv/bin/python benchmarks/sales_bench.py --url sqlite:////tmp/carebiz-bench/sales.db --reset
    createdb -h 127.0.0.1 -U postgres sales_bench
    .venv/bin/python benchmarks/sales_bench.py --reset \\
        --url postgresql+psycopg://postgres@127.0.0.1:5432/sales_bench

The schema comes from the migrations (core and sales); branches A and B and the users of
``carebiz.testing.seed`` are made through the services; the bulk rows (customers with a
phone and the prospect role, prospects with two points and one model of interest each,
return visits over two years around today) are written with executemany in batches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from crm_data import reset_database  # noqa: E402

POINTS = ["price", "fuel_economy", "safety", "space", "comfort", "brand"]
MODELS = ["Camry", "RAV4", "Corolla", "Highlander", "bZ4X", "Sienna", "Crown"]
SOURCES = ["walk_in", "phone", "website", "referral", "autohome", "dongchedi"]


def make_app(url: str) -> Any:
    from carebiz import create_app

    return create_app({"CAREBIZ_DATABASE_URL": url, "CAREBIZ_PLUGINS": "sales",
                       "CAREBIZ_INSTANCE_PATH": tempfile.mkdtemp(prefix="carebiz-sales-"),
                       "WTF_CSRF_ENABLED": False})


def generate(app: Any, prospects: int, visits: int, batch: int, seed: int) -> dict[str, Any]:
    from carebiz import migrate
    from carebiz.crm.models import Party, PartyPhone, PartyRole
    from carebiz.testing import seed as seed_users
    from carebiz_plugins.sales.models import (
        SalesProspect,
        SalesProspectInterest,
        SalesProspectModel,
        SalesReturnVisit,
    )

    migrate.upgrade(app)
    ids = seed_users(app)
    branches = list(ids["branches"].values())
    people = [ids["users"]["sales"], ids["users"]["manager"]]
    rng = random.Random(seed)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ext = app.extensions["carebiz"]
    started = time.perf_counter()
    def w(model: Any, rows: list[dict[str, Any]]) -> None:
        # Core inserts of the table, one executemany a batch (the ORM's per-row work and
        # the flush-time text guards are for people typing, not for generated rows)
        with ext.engine.begin() as conn:
            conn.execute(model.__table__.insert(), rows)

    with app.app_context(), ext.session_factory() as s:
        for first in range(0, prospects, batch):
            n = min(batch, prospects - first)
            parties, phones, roles, rows, points, models = [], [], [], [], [], []
            for k in range(first, first + n):
                pid = k + 1
                branch = branches[k % len(branches)]
                registered = now - dt.timedelta(seconds=rng.randint(0, 365 * 86400))
                status = rng.choices(("consulting", "won", "lost"), (75, 10, 15))[0]
                closed = (registered + dt.timedelta(hours=rng.randint(1, 24 * 60))
                          if status != "consulting" else None)
                if closed is not None and closed > now:
                    closed = now - dt.timedelta(minutes=rng.randint(1, 600))
                parties.append({"id": pid, "kind": "person", "name": f"Bench {pid}",
                                "name_key": f"bench{pid}", "branch_id": branch,
                                "created_at": registered, "updated_at": registered})
                phones.append({"party_id": pid, "e164": f"+86137{pid:08d}", "position": 0})
                roles.append({"party_id": pid, "role": "prospect"})
                rows.append({"id": pid, "customer_id": pid, "branch_id": branch,
                             "salesperson_id": people[k % 2], "source": rng.choice(SOURCES),
                             "status": status, "registered_at": registered,
                             "closed_at": closed, "lost_reason": "price" if status == "lost"
                             else "", "created_at": registered, "updated_at": registered})
                for point in rng.sample(POINTS, 2):
                    points.append({"prospect_id": pid, "point": point, "branch_id": branch})
                models.append({"prospect_id": pid, "model": rng.choice(MODELS),
                               "branch_id": branch})
            w(Party, parties)
            w(PartyPhone, phones)
            w(PartyRole, roles)
            w(SalesProspect, rows)
            w(SalesProspectInterest, points)
            w(SalesProspectModel, models)
            s.commit()
        print(f"  {prospects:,} prospects: {time.perf_counter() - started:.1f} s", flush=True)
        for first in range(0, visits, batch):
            n = min(batch, visits - first)
            rows = []
            for _k in range(n):
                pid = rng.randint(1, prospects)
                due = now + dt.timedelta(seconds=rng.randint(-365 * 86400, 365 * 86400))
                done = due < now - dt.timedelta(days=2) and rng.random() < 0.95
                rows.append({"prospect_id": pid, "customer_id": pid,
                             "branch_id": branches[(pid - 1) % len(branches)],
                             "assignee_id": people[(pid - 1) % 2], "channel": "phone",
                             "due_at": due, "done_at": due if done else None,
                             "status": "done" if done else "open",
                             "outcome": "interested" if done else "",
                             "created_at": due, "updated_at": due})
            w(SalesReturnVisit, rows)
            s.commit()
        print(f"  {visits:,} return visits: {time.perf_counter() - started:.1f} s", flush=True)
        if s.bind.dialect.name == "postgresql":
            s.commit()
            with ext.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
            # the bulk rows took explicit ids: move the sequences past them
            with ext.engine.begin() as c:
                for table in ("party", "sales_prospect"):
                    c.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                                      f" (SELECT max(id) FROM {table}))")
        else:
            with ext.engine.begin() as c:
                c.exec_driver_sql("ANALYZE")
    return ids


def timed(fn: Any, runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def report(label: str, times: list[float]) -> None:
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(f"  {label:<44} median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms"
          f"   max {times[-1]:7.1f} ms", flush=True)


def measure(app: Any, runs: int) -> None:
    from carebiz.testing import token_for

    client = app.test_client()
    day = dt.date.today().isoformat()
    for who in ("manager", "sales"):
        headers = {"Authorization": f"Bearer {token_for(app, who)}"}

        def dash(headers: dict[str, str] = headers) -> None:
            answer = client.get(f"/api/v1/sales/dashboard?date={day}", headers=headers)
            assert answer.status_code == 200, answer.get_json()

        report(f"dashboard API ({who})", timed(dash, runs, 3))
    headers = {"Authorization": f"Bearer {token_for(app, 'sales')}"}
    # phones not used by an earlier run on the same database
    start = int(time.time() * 10) % 50_000_000
    counter = iter(range(start, start + 10_000_000))

    def register() -> None:
        k = next(counter)
        answer = client.post("/api/v1/sales/prospects", headers=headers, json={
            "name": f"New {k}", "phone": f"+86135{k:08d}", "source": "walk_in",
            "models_of_interest": ["Camry"], "points_of_interest": ["price", "safety"]})
        assert answer.status_code == 201, answer.get_json()

    report("register a prospect, API (sales)", timed(register, max(runs, 100), 5))
    measure_funnel(app, runs)


def measure_funnel(app: Any, runs: int) -> None:
    """The conversion funnel (``/sales/funnel``, issue 11) as the manager reads it: this
    month by source, and the last 90 days by month — the page, CSV being the same query."""
    from carebiz.testing import login

    client = app.test_client()
    login(client, "manager")
    today = dt.date.today()
    month = today.replace(day=1).isoformat()
    quarter = (today - dt.timedelta(days=89)).isoformat()
    for label, query in (("this month by source", f"from={month}&to={today}&by=source"),
                         ("90 days by month", f"from={quarter}&to={today}&by=month")):
        def page(query: str = query) -> None:
            answer = client.get(f"/sales/funnel?{query}")
            assert answer.status_code == 200, answer.status_code

        report(f"funnel page, {label} (manager)", timed(page, runs, 2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--prospects", type=int, default=200_000)
    parser.add_argument("--visits", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--reset", action="store_true",
                        help="empty the database first and generate the data")
    args = parser.parse_args(argv)
    if args.reset:
        reset_database(args.url)
    app = make_app(args.url)
    if args.reset:
        print(f"generating on {app.extensions['carebiz'].engine.dialect.name}", flush=True)
        generate(app, args.prospects, args.visits, args.batch, args.seed)
    print("measuring", flush=True)
    measure(app, args.runs)


if __name__ == "__main__":
    main()
