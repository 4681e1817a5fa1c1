"""Speed of the query service (composite queries, analyses, charts) on a database made by
crm_data.py (migrated to the current schema: ``carebiz.migrate.upgrade``).

    python benchmarks/query_bench.py --url sqlite:////tmp/carebiz-bench/crm.db
    python benchmarks/query_bench.py --url postgresql+psycopg://postgres@127.0.0.1/carebiz_bench

Each probe calls the service the query screen and ``/api/query`` call -- ``query.service.run``
(first page of 50 rows, sorted, with the total count), ``query.service.aggregate`` and, for
charts, ``query.charts.render`` of its result -- as ``bench_admin`` (all branches) and
``bench_sales`` (first branch: the row filter adds ``branch_id IN (...)``), each call in a fresh
session. Printed per probe: rows, total, p50/p95/max in ms over ``--probes`` calls after one
warm-up call, statements per call, and the share of the time spent in the ``COUNT`` over the
filtered set (``count ms``, median) against the page itself (``page ms``). Then each
statement's plan (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) for the slowest call.

Targets (issue): first page of a three-condition query within 200 ms, group-by chart within 2 s.

``--prototype-index NAME=DDL`` (repeatable) creates an index before measuring and DROPS it
afterwards, to prove what an index on a registered field would gain without changing the
schema.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_lookup import Bench, _one_line, explain, percentile, summarise  # noqa: E402

TARGET_PAGE_MS = 200.0
TARGET_CHART_MS = 2000.0

CITIES = ["上海市", "深圳市"]

#: (label, source, body): three conditions each, sorted, first page of 50
QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    ("cust person+365d+name 王", "customers", {
        "where": {"and": [{"field": "kind", "op": "eq", "value": "person"},
                          {"field": "created_at", "op": "last_days", "value": 365},
                          {"field": "name", "op": "starts_with", "value": "王"}]},
        "sort": ["-created_at"], "per_page": 50}),
    ("cust city+segment+value", "customers", {
        "where": {"and": [{"field": "city", "op": "in", "value": CITIES},
                          {"field": "segment", "op": "eq", "value": "champions"},
                          {"field": "lifetime_value", "op": "gt", "value": 20000}]},
        "sort": ["-lifetime_value"], "per_page": 50}),
    ("cust (source|dnc)+org+2025", "customers", {
        "where": {"and": [{"or": [{"field": "source", "op": "eq", "value": "referral"},
                                  {"field": "do_not_contact", "op": "eq", "value": True}]},
                          {"field": "kind", "op": "eq", "value": "organization"},
                          {"field": "created_at", "op": "ge", "value": "2025-01-01"}]},
        "sort": ["name"], "per_page": 50}),
    ("cust city+person+name 李 (wide)", "customers", {
        "where": {"and": [{"field": "city", "op": "eq", "value": "北京市"},
                          {"field": "kind", "op": "eq", "value": "person"},
                          {"field": "name", "op": "starts_with", "value": "李"}]},
        "sort": ["name"], "per_page": 50}),
    ("veh make+year+bev", "vehicles", {
        "where": {"and": [{"field": "make", "op": "in",
                           "value": ["比亚迪 BYD", "特斯拉 Tesla", "吉利 Geely"]},
                          {"field": "year", "op": "between", "value": [2020, 2024]},
                          {"field": "fuel_type", "op": "eq", "value": "bev"}]},
        "sort": ["-year", "make"], "per_page": 50}),
]

#: (label, source, body, chart kind)
ANALYSES: list[tuple[str, str, dict[str, Any], str]] = [
    ("cust created_at by month", "customers",
     {"group_by": [{"field": "created_at", "by": "month"}]}, "line"),
    ("veh make x fuel_type", "vehicles", {"group_by": ["make", "fuel_type"]}, "stacked"),
]


class Viewer:
    """The bench user as the query service sees it, granted the view permissions a manager
    role holds (crm_data.py's users have no roles; granting them through roles would write to
    the database). Branch fields are the stored user's, so the row filter is the real one."""

    is_authenticated = True
    roles: list[Any] = []

    def __init__(self, user: Any) -> None:
        self.id = user.id
        self.is_superuser = user.is_superuser
        self.all_branches = user.all_branches
        self.branch_ids = set(user.branch_ids)
        self.permission_names = {"crm.customers.view", "crm.vehicles.view",
                                 "crm.segments.view"}


class Timer:
    """Per-statement durations (before/after cursor execute) of the current call."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.times: list[tuple[str, float]] = []
        self._start = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.times.append((statement, (time.perf_counter() - self._start) * 1000))


def measure(bench: Bench, timer: Timer, user: str, label: str, fn: Any, probes: int,
            target: float, rows: list[dict[str, Any]]) -> None:
    with bench.ext.session_factory() as s:  # warm-up
        fn(s, bench.users[user])
    samples, statements, counts, pages = [], [], [], []
    info = ""
    for _ in range(probes):
        with bench.ext.session_factory() as s:
            timer.times = []
            before = bench.counter.count
            start = time.perf_counter()
            result = fn(s, bench.users[user])
            ms = (time.perf_counter() - start) * 1000
            statements.append(bench.counter.count - before)
        samples.append(ms)
        heavy = [t for sql, t in timer.times if "SELECT" in sql.upper()]
        count_ms = [t for sql, t in timer.times if sql.lstrip().upper().startswith(
            "SELECT COUNT(*)")]
        counts.append(sum(count_ms))
        pages.append(sum(heavy) - sum(count_ms))
        info = result
    samples.sort()
    row = {"user": user, "probe": label, "n": len(samples),
           "p50": percentile(samples, .5), "p95": percentile(samples, .95), "max": samples[-1],
           "sql": statistics.mean(statements), "count_ms": statistics.median(counts),
           "page_ms": statistics.median(pages), "target": target, "info": info}
    rows.append(row)
    verdict = "ok" if row["p95"] < target else "MISSED"
    print(f"{user:<6} {label:<34} {info:<22} {row['p50']:>9.1f} {row['p95']:>9.1f} "
          f"{row['max']:>9.1f} {row['sql']:>4.0f} {row['count_ms']:>9.1f} {row['page_ms']:>9.1f}"
          f"  <{target:.0f} {verdict}", flush=True)


def query_call(source: str, body: dict[str, Any], now: dt.datetime) -> Any:
    def call(s: Any, user: Any) -> str:
        from carebiz.query import service

        result = service.run(s, user, source, body, now=now)
        return f"{len(result['items'])} rows, total {result['total']}"
    return call


def capped_count_call(source_name: str, body: dict[str, Any], cap: int,
                      now: dt.datetime) -> Any:
    """Prototype of a service change (not in the platform): the first page as ``run`` builds
    it, and the total counted only up to ``cap`` (``SELECT count(*) FROM (... LIMIT cap+1)``,
    answered as "more than cap" when it reaches cap+1)."""
    def call(s: Any, user: Any) -> str:
        from sqlalchemy import func, select

        from carebiz.query import compiler as c
        from carebiz.query import service

        source = service.get_source(user, source_name)
        ctx = service.context(s, source, now)
        condition = service._conditions(ctx, body)
        order = c.compile_sort(source, body.get("sort"))
        columns = [c.column_of(source, f).label(f.name) for f in source.fields]
        stmt = service.base_select(source, user, columns).where(condition)
        with service.time_limit(s):
            total = s.scalar(select(func.count()).select_from(
                stmt.with_only_columns(source.model.id).limit(cap + 1).subquery()))
            items = s.execute(stmt.order_by(*order).limit(body.get("per_page", 50))).all()
        shown = f"> {cap}" if total > cap else str(total)
        return f"{len(items)} rows, total {shown}"
    return call


def chart_call(source: str, body: dict[str, Any], kind: str, now: dt.datetime) -> Any:
    def call(s: Any, user: Any) -> str:
        from carebiz.query import charts, service

        result = service.aggregate(s, user, source, body, now=now)
        svg = charts.render(result, kind, "bench")
        return f"{len(result['rows'])} groups, {len(svg) // 1024} KiB"
    return call


def plans(bench: Bench, fn: Any, user: str, title: str) -> None:
    dialect = bench.engine.dialect.name
    bench.counter.capture = []
    with bench.ext.session_factory() as s:
        fn(s, bench.users[user])
    captured, bench.counter.capture = bench.counter.capture, None
    print(f"\n[{user}] {title}")
    for statement, params in captured:
        if "SELECT" not in statement.upper() or "statement_timeout" in statement:
            continue
        ms, plan = explain(bench.engine, dialect, statement, params)
        print(f"  {ms:8.1f} ms  {_one_line(statement)[:400]}")
        print(f"              uses: {summarise(plan, dialect)}")
        for line in plan:
            print(f"                | {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--probes", type=int, default=7)
    parser.add_argument("--users", default="admin,branch")
    parser.add_argument("--only", help="comma-separated probe label prefixes")
    parser.add_argument("--plans", choices=("all", "none"), default="all")
    parser.add_argument("--timeout-ms", type=int, default=60000,
                        help="CAREBIZ_QUERY_TIMEOUT_MS for the run (the default 5 s would "
                             "cut the slow cases short instead of measuring them)")
    parser.add_argument("--count-cap", type=int, default=0, metavar="N",
                        help="also measure each query with the total capped at N "
                             "(prototype of a service change)")
    parser.add_argument("--prototype-index", action="append", default=[], metavar="NAME=DDL",
                        help="CREATE INDEX before measuring, DROP INDEX NAME afterwards")
    args = parser.parse_args(argv)

    bench = Bench(args.url, probes=1, warmup=0, seed=7)
    bench.app.config["CAREBIZ_QUERY_TIMEOUT_MS"] = args.timeout_ms
    bench.users = {name: Viewer(user) for name, user in bench.users.items()}
    timer = Timer(bench.engine)
    dialect = bench.engine.dialect.name
    now = dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC)  # fixed: the same rows every run
    created = []
    try:
        for spec in args.prototype_index:
            name, ddl = spec.split("=", 1)
            start = time.perf_counter()
            with bench.engine.begin() as conn:
                conn.exec_driver_sql(ddl)
                conn.exec_driver_sql("ANALYZE" if dialect == "sqlite" else
                                     f"ANALYZE {ddl.split(' ON ')[1].split('(')[0].strip()}")
            created.append(name)
            print(f"prototype index {name}: {ddl} ({time.perf_counter() - start:.1f} s)")
        with bench.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT sqlite_version()" if dialect == "sqlite"
                                           else "SHOW server_version").scalar()
        print(f"database: {dialect} {version}; {bench.info['rows']}")
        print(f"{'user':<6} {'probe':<34} {'result':<22} {'p50 ms':>9} {'p95 ms':>9} "
              f"{'max ms':>9} {'SQL':>4} {'count ms':>9} {'page ms':>9}  target")
        only = [o.strip() for o in args.only.split(",")] if args.only else None
        todo = []
        for label, source, body in QUERIES:
            todo.append((label, query_call(source, body, now), TARGET_PAGE_MS))
            if args.count_cap:
                todo.append((f"{label} cap{args.count_cap}",
                             capped_count_call(source, body, args.count_cap, now),
                             TARGET_PAGE_MS))
        for label, source, body, kind in ANALYSES:
            todo.append((f"chart {label}", chart_call(source, body, kind, now),
                         TARGET_CHART_MS))
        todo = [t for t in todo if not only or any(t[0].startswith(o) for o in only)]
        rows: list[dict[str, Any]] = []
        for user in args.users.split(","):
            for label, fn, target in todo:
                measure(bench, timer, user, label, fn, args.probes, target, rows)
        if args.plans == "all":
            print("\nplans (statement's own time, median of 5)")
            for user in args.users.split(","):
                for label, fn, _target in todo:
                    plans(bench, fn, user, label)
    finally:
        for name in created:
            with bench.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
            print(f"dropped prototype index {name}")
        bench.close()


if __name__ == "__main__":
    main()
