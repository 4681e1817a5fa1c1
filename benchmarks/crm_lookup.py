"""Speed of the CRM lookups and of the 360° overview on a database made by crm_data.py.

    python benchmarks/crm_lookup.py --url sqlite:////tmp/carebiz-bench/crm.db
    python benchmarks/crm_lookup.py --url postgresql+psycopg://postgres@127.0.0.1/carebiz_bench

Each probe calls the service the screens call, as two users: ``bench_admin`` (all branches: no
row filter) and ``bench_sales`` (first branch only: the core's row filter adds
``branch_id IN (...)``). Every call gets a fresh session, as a request does; the time is the
service call alone (no HTTP, no template), measured over ``--probes`` random values after a
few warm-up calls with other values:

- ``crm.services.lookup.lookup()`` (the search box) by a phone typed the way people type it
  (``138 0013 8000``, ``138-0013-8000``, ``13800138000``, ``+86 138 0013 8000``), by a number
  nobody has, by plate (as stored, with a middle dot ``粤B·12345``, lower case), by VIN (as
  stored, lower case), and by name prefix: 1 and 2 Chinese characters, 3 English letters;
- the same search box by what people remember (issue 10, target p95 < 50 ms): a phone's
  last 4 digits, 7 digits from inside it, a plate without its province character (half of
  them with O for 0 and I for 1, in lower case), a Chinese given name, an English family
  name, the pinyin initials of a Chinese name, a VIN's last 6 characters; with ``--bare``,
  each lookup/search probe is followed by its raw limit: the statements one call sends,
  captured and run again bare through the driver on one open connection;
- ``crm.services.lookup.by_phone()`` (the call-centre screen-pop), known and unknown numbers;
- ``get_party()`` + ``crm.services.overview.overview()`` of the customers with 20 vehicles
  and 2,000 timeline entries (and of the heaviest customers, for information).

Printed per probe: share of calls that found something, mean number of results, p50/p95/p99/
max in milliseconds, and SQL statements per call (counted by a listener on the engine). Then
the query plan of every statement of the slowest call of each probe (EXPLAIN QUERY PLAN on
SQLite, EXPLAIN ANALYZE on PostgreSQL), with the index each uses and the statement's own time.
Targets: lookups p95 < 20 ms, overview p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crm_data import make_app, read_info  # noqa: E402

TARGETS = {"lookup": 20.0, "by_phone": 20.0, "overview": 100.0, "search": 50.0}


class StatementCounter:
    """Counts (and on request records) every statement sent to the database."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        self.capture: list[tuple[str, Any]] | None = None
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        self.count += 1
        if self.capture is not None:
            self.capture.append((statement, parameters))


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# --- probe values ----------------------------------------------------------------------------


def typed_phone(e164: str, k: int) -> str:
    """A stored +86 mobile number the way a person types it."""
    n = e164[3:]
    return (f"{n[:3]} {n[3:7]} {n[7:]}", f"{n[:3]}-{n[3:7]}-{n[7:]}", n,
            f"+86 {n[:3]} {n[3:7]} {n[7:]}")[k % 4]


def probe_values(session: Any, n: int, seed: int) -> dict[str, list[Any]]:
    from sqlalchemy import func, select

    from carebiz.crm.models import Party, PartyPhone, Vehicle

    rng = random.Random(seed)

    def sample(model: Any, column: Any, k: int, *where: Any) -> list[Any]:
        top = session.scalar(select(func.max(model.id))) or 0
        ids = rng.sample(range(1, top + 1), min(top, k))
        found = dict(session.execute(select(model.id, column).where(model.id.in_(ids), *where))
                     .all())
        return [found[i] for i in ids if i in found]

    phones = sample(PartyPhone, PartyPhone.e164, n)
    unknown = [f"199 {rng.randrange(10**4):04d} {rng.randrange(10**4):04d}" for _ in range(n)]
    plates = sample(Vehicle, Vehicle.plate, n + n // 10, Vehicle.plate.is_not(None))[:n]
    vins = sample(Vehicle, Vehicle.vin, n)
    names = sample(Party, Party.name, 20 * n, Party.kind == "person")
    chinese = [x for x in names if "\u4e00" <= x[0] <= "\u9fff"]
    english = [x for x in names if x[0].isascii()]
    from carebiz.crm.search_keys import name_initials

    # issue 10: what people remember of a number, a plate, a name, a VIN
    no_province = [p[1:] for p in plates]
    confused = [p.replace("0", "O", 1).replace("1", "I", 1) for p in no_province]
    return {
        "phone_tail": [p[-4:] for p in phones],
        "phone_run": [p[5:12] for p in phones],  # 7 digits inside the national number
        "plate_no_province": [(p, c.lower())[k % 2] for k, (p, c) in
                              enumerate(zip(no_province, confused, strict=True))],
        "name_part": [x[1:] for x in chinese[:n]],  # the given name
        "name_part_en": [x.split()[-1] for x in english[:n]],
        "pinyin": [name_initials(x) for x in chinese[:n]],
        "vin6": [v[-6:] for v in vins],
        "phone": [typed_phone(p, k) for k, p in enumerate(phones)],
        "phone_unknown": unknown,
        "plate": [(p, p[:2] + "·" + p[2:], p.lower())[k % 3] for k, p in enumerate(plates)],
        "vin": [v if k % 2 else v.lower() for k, v in enumerate(vins)],
        "name_zh1": [x[0] for x in chinese[:n]],
        "name_zh2": [x[:2] for x in chinese[:n]],
        "name_en3": [x[:3] for x in english[:n]],
        # names nobody has: the index finds nothing at once, a scan would read everything
        "name_none": [("诸葛", "皇甫", "上官", "澹台", "公孙")[k % 5] if k % 2 else
                      "q" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=2))
                      for k in range(n)],
    }


# --- measuring -------------------------------------------------------------------------------


class Bench:
    def __init__(self, url: str, probes: int, warmup: int, seed: int,
                 instance: str | None = None, cold: int = 0) -> None:
        from sqlalchemy import select

        from carebiz.models import User

        self._tmp = tempfile.TemporaryDirectory(prefix="carebiz-bench-")
        self.app = make_app(url, instance or self._tmp.name)
        self.ext = self.app.extensions["carebiz"]
        self.engine = self.ext.engine
        self.counter = StatementCounter(self.engine)
        self.probes, self.warmup, self.seed = probes, warmup, seed
        with self.engine.connect() as conn:
            self.info = read_info(conn)
        self.ctx = self.app.app_context()
        self.ctx.push()
        with self.ext.session_factory() as s:
            self.users = {
                "admin": s.scalars(select(User).where(User.id == self.info["admin_id"])).one(),
                "branch": s.scalars(select(User).where(User.id == self.info["sales_id"])).one(),
            }
            for user in self.users.values():  # load what the row filter reads, then detach
                _ = (user.all_branches, user.is_superuser, user.branch_ids)
            s.expunge_all()
            self.values = probe_values(s, probes + warmup + cold, seed)
        self.cold = cold
        self.results: list[dict[str, Any]] = []
        self._files = self.database_files() if cold else []
        self.slowest: dict[tuple[str, str], tuple[Callable[..., Any], Any]] = {}

    def close(self) -> None:
        self.ctx.pop()
        self.engine.dispose()
        self._tmp.cleanup()

    def database_files(self) -> list[Path]:
        """The files holding the database (PostgreSQL: this database's directory, when this
        process may read it, e.g. on the database server as root or postgres)."""
        url = self.engine.url
        if self.engine.dialect.name == "sqlite":
            return [p for p in (Path(url.database), Path(url.database + "-wal")) if p.exists()]
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "SELECT current_setting('data_directory'), oid FROM pg_database "
                "WHERE datname = current_database()").one()
        folder = Path(row[0]) / "base" / str(row[1])
        try:
            return [p for p in folder.iterdir() if p.is_file()]
        except OSError:
            return []

    def evict(self) -> None:
        """Drop the database's files from the OS page cache (posix_fadvise DONTNEED: only
        these files, nothing else on the machine). PostgreSQL's own shared buffers keep
        what they hold."""
        for path in self._files:
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)

    def run(self, user_name: str, label: str, fn: Callable[[Any, Any, Any], Any],
            values: list[Any], cold: bool = False) -> None:
        user = self.users[user_name]
        if cold:  # the last values, not used warm; the files leave the OS cache each time
            warm, measured = [], values[-self.cold:]
        else:
            warm = values[: self.warmup]
            measured = values[self.warmup: self.warmup + self.probes]
        if len(measured) < 10 and not cold:  # too few distinct values: repeat them
            measured = [values[k % len(values)] for k in range(self.probes)]
        for value in warm:
            with self.ext.session_factory() as s:
                fn(s, user, value)
        samples, statements, found, sizes = [], [], 0, []
        worst = (-1.0, None)
        for value in measured:
            if cold:
                self.evict()
            with self.ext.session_factory() as s:
                before = self.counter.count
                start = time.perf_counter()
                result = fn(s, user, value)
                ms = (time.perf_counter() - start) * 1000
                statements.append(self.counter.count - before)
            samples.append(ms)
            size = _size(result)
            sizes.append(size)
            found += size > 0
            if ms > worst[0]:
                worst = (ms, value)
        samples.sort()
        row = {"user": user_name, "probe": ("cold " if cold else "") + label,
               "n": len(samples),
               "found": found / len(samples), "results": statistics.mean(sizes),
               "p50": percentile(samples, 0.50), "p95": percentile(samples, 0.95),
               "p99": percentile(samples, 0.99), "max": samples[-1],
               "sql_mean": statistics.mean(statements), "sql_max": max(statements)}
        kind = label.split(" ")[0]
        row["target"] = TARGETS.get(kind)
        self.results.append(row)
        self.slowest[(user_name, row["probe"])] = (fn, worst[1])
        print(_format_row(row), flush=True)

    def run_bare(self, user_name: str, label: str, fn: Callable[[Any, Any, Any], Any],
                 values: list[Any]) -> None:
        """The raw limit of a probe: the very statements one service call sends (captured),
        run again bare through the driver on one open connection, without the ORM, the
        session or Python's ranking — what the database alone costs."""
        user = self.users[user_name]
        measured = values[self.warmup: self.warmup + self.probes] or values
        samples: list[float] = []
        with self.engine.connect() as conn:
            for value in measured:
                self.counter.capture = []
                with self.ext.session_factory() as s:
                    fn(s, user, value)
                captured, self.counter.capture = self.counter.capture, None
                start = time.perf_counter()
                for statement, params in captured:
                    conn.exec_driver_sql(statement, params).fetchall()
                samples.append((time.perf_counter() - start) * 1000)
            conn.rollback()
        samples.sort()
        row = {"user": user_name, "probe": "bare " + label, "n": len(samples),
               "found": float("nan"), "results": float("nan"),
               "p50": percentile(samples, 0.50), "p95": percentile(samples, 0.95),
               "p99": percentile(samples, 0.99), "max": samples[-1],
               "sql_mean": float("nan"), "sql_max": 0, "target": None}
        self.results.append(row)
        print(_format_row(row), flush=True)

    def plans(self, only_slow: bool) -> None:
        print("\nquery plans of the slowest call of each probe"
              + (" (probes near or over target only)" if only_slow else ""))
        dialect = self.engine.dialect.name
        for row in self.results:
            if row["probe"].startswith(("cold ", "bare ")):
                continue
            if only_slow and row["target"] and row["p95"] < row["target"] / 4:
                continue
            fn, value = self.slowest[(row["user"], row["probe"])]
            self.counter.capture = []
            with self.ext.session_factory() as s:
                fn(s, self.users[row["user"]], value)
            captured, self.counter.capture = self.counter.capture, None
            print(f"\n[{row['user']}] {row['probe']}  value={value!r}  "
                  f"p95 {row['p95']:.2f} ms, max {row['max']:.2f} ms")
            for statement, params in captured:
                ms, plan = explain(self.engine, dialect, statement, params)
                print(f"  {ms:7.2f} ms  {_one_line(statement)[:150]}")
                print(f"             uses: {summarise(plan, dialect)}")
                for line in plan:
                    print(f"               | {line}")


def _size(result: Any) -> int:
    if isinstance(result, dict):  # an overview
        return len(result["vehicles"]) + len(result["timeline"])
    return len(result)


def _format_row(row: dict[str, Any]) -> str:
    target = row["target"]
    verdict = "" if target is None else ("ok" if row["p95"] < target else "MISSED")
    return (f"{row['user']:<6} {row['probe']:<32} {row['n']:>5} {row['found']:>6.0%} "
            f"{row['results']:>7.1f} {row['p50']:>8.2f} {row['p95']:>8.2f} {row['p99']:>8.2f} "
            f"{row['max']:>8.2f} {row['sql_mean']:>6.1f} {row['sql_max']:>4}  "
            f"{'' if target is None else f'<{target:.0f}'} {verdict}")


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def explain(engine: Any, dialect: str, statement: str, params: Any) -> tuple[float, list[str]]:
    """The statement's own time (median of 5 runs) and its plan."""
    with engine.connect() as conn:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            conn.exec_driver_sql(statement, params).fetchall()
            times.append((time.perf_counter() - start) * 1000)
        if dialect == "sqlite":
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).fetchall()
            plan = [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
        else:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement,
                                        params).fetchall()
            plan = [r[0] for r in rows]
    return statistics.median(times), plan


def _depth(rows: list[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth += 1
        parent = parents[parent]
    return depth


_SQLITE_USES = re.compile(r"(SEARCH|SCAN) (\w+)(?: AS \w+)?(?: USING (?:COVERING )?"
                          r"(INDEX \w+|INTEGER PRIMARY KEY|PRIMARY KEY))?")
_PG_USES = re.compile(r"(Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)"
                      r"(?: Backward)?(?: using (\w+))? on (\w+)")


def summarise(plan: list[str], dialect: str) -> str:
    """Which index (or scan) each table access of a plan uses."""
    found = []
    for line in plan:
        if dialect == "sqlite":
            m = _SQLITE_USES.search(line)
            if m:
                how = m.group(3) or ("full scan" if m.group(1) == "SCAN" else "?")
                found.append(f"{m.group(2)}: {how.replace('INDEX ', '')}")
            elif "TEMP B-TREE" in line:
                found.append(line.strip().lower())
        else:
            m = _PG_USES.search(line)
            if m and m.group(1) == "Seq Scan":
                found.append(f"{m.group(3)}: seq scan")
            elif m:  # "Index Scan using IX on T", "Bitmap Index Scan on IX"
                found.append(f"{m.group(1).lower()} {m.group(2) or m.group(3)}")
            elif line.strip().startswith(("Sort Key", "Presorted Key")):
                found.append(line.strip())
    return "; ".join(found) or "no table"


# --- the probes ------------------------------------------------------------------------------


def call_lookup(s: Any, user: Any, query: str) -> Any:
    from carebiz.crm.services.lookup import lookup

    return lookup(s, user, query)


def call_by_phone(s: Any, user: Any, raw: str) -> Any:
    from carebiz.crm.services.lookup import by_phone

    return by_phone(s, user, raw)


def call_overview(s: Any, user: Any, party_id: int) -> Any:
    from carebiz.crm.services.overview import overview
    from carebiz.crm.services.parties import get_party

    return overview(s, get_party(s, party_id), user)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--probes", type=int, default=500, help="measured calls per probe")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up calls per probe")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--users", default="admin,branch")
    parser.add_argument("--only", help="comma-separated probe name prefixes to run")
    parser.add_argument("--plans", choices=("all", "slow", "none"), default="all",
                        help="print plans of every probe, of those near their target, or none")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--cold", type=int, default=0, metavar="N",
                        help="then N calls per probe (admin user) with the database's files "
                             "dropped from the OS page cache before each call")
    parser.add_argument("--bare", action="store_true",
                        help="after each lookup/search probe, its raw limit: the statements "
                             "one call sends, run bare through the driver")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after start-up, as a tuned worker would (full "
                             "collections over the app's ~100k start-up objects otherwise "
                             "add 50-100 ms to the call they interrupt)")
    args = parser.parse_args(argv)

    bench = Bench(args.url, args.probes, args.warmup, args.seed, cold=args.cold)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    info, v = bench.info, bench.values
    dialect = bench.engine.dialect.name
    with bench.engine.connect() as conn:
        version = conn.exec_driver_sql(
            "SELECT sqlite_version()" if dialect == "sqlite" else "SHOW server_version").scalar()
    load_before = os.getloadavg()
    print(f"database: {bench.engine.url.render_as_string(hide_password=True)} "
          f"({dialect} {version}); generated {info['generated_on']}: {info['rows']}")
    print(f"gc.freeze: {'yes' if args.gc_freeze else 'no'}; load average before: "
          f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} "
          f"({os.cpu_count()} CPUs)")
    print(f"{'user':<6} {'probe':<32} {'n':>5} {'found':>6} {'results':>7} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'SQL':>6} {'max':>4}  target")

    probes: list[tuple[str, Callable[..., Any], str]] = [
        ("lookup phone (typed)", call_lookup, "phone"),
        ("lookup phone (unknown)", call_lookup, "phone_unknown"),
        ("lookup plate", call_lookup, "plate"),
        ("lookup VIN", call_lookup, "vin"),
        ("lookup name zh 1 char", call_lookup, "name_zh1"),
        ("lookup name zh 2 chars", call_lookup, "name_zh2"),
        ("lookup name en 3 letters", call_lookup, "name_en3"),
        ("lookup name (no match)", call_lookup, "name_none"),
        ("search phone tail 4", call_lookup, "phone_tail"),
        ("search phone run 7", call_lookup, "phone_run"),
        ("search plate w/o province", call_lookup, "plate_no_province"),
        ("search name part zh", call_lookup, "name_part"),
        ("search name part en", call_lookup, "name_part_en"),
        ("search pinyin initials", call_lookup, "pinyin"),
        ("search VIN last 6", call_lookup, "vin6"),
        ("by_phone (screen-pop)", call_by_phone, "phone"),
        ("by_phone (unknown number)", call_by_phone, "phone_unknown"),
    ]
    only = [p.strip() for p in args.only.split(",")] if args.only else None
    for user_name in args.users.split(","):
        for label, fn, key in probes:
            if only and not any(label.startswith(o) for o in only):
                continue
            bench.run(user_name, label, fn, v[key])
            if args.bare and label.startswith(("search", "lookup")):
                bench.run_bare(user_name, label, fn, v[key])
        if not only or any("overview".startswith(o) or o.startswith("overview") for o in only):
            ids = info["overview_party_ids"]
            if ids:
                bench.run(user_name, "overview 20 veh/2,000 entries", call_overview,
                          [ids[k % len(ids)] for k in range(args.warmup + args.probes)])
            heavy = _visible_ids(bench, user_name, info["heaviest_party_ids"])
            if heavy:
                bench.run(user_name, "overview (heaviest customers)", call_overview,
                          [heavy[k % len(heavy)] for k in range(args.warmup + args.probes)])
    if args.cold:
        if not bench._files:
            print("cold runs skipped: the database files are not readable from here")
        else:
            print(f"cold: {len(bench._files)} files dropped from the OS cache before each call")
            for label, fn, key in probes:
                if not only or any(label.startswith(o) for o in only):
                    bench.run("admin", label, fn, v[key], cold=True)
            ids = info["overview_party_ids"]
            if ids and (not only or any(o.startswith("overview") for o in only)):
                bench.run("admin", "overview 20 veh/2,000 entries", call_overview,
                          [ids[k % len(ids)] for k in range(args.cold)], cold=True)
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    if args.plans != "none":
        bench.plans(only_slow=args.plans == "slow")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "database": dialect, "version": version, "info": info,
            "gc_freeze": args.gc_freeze, "load_before": load_before, "load_after": load_after,
            "measured_on": time.strftime("%Y-%m-%d %H:%M"), "results": bench.results},
            indent=1))
    bench.close()
    if args.gc_freeze:
        gc.unfreeze()


def _visible_ids(bench: Bench, user_name: str, ids: list[int]) -> list[int]:
    from sqlalchemy import select

    from carebiz.crm.models import Party
    from carebiz.security.rows import visible

    with bench.ext.session_factory() as s:
        stmt = visible(select(Party.id).where(Party.id.in_(ids)), Party, bench.users[user_name])
        seen = set(s.scalars(stmt))
    return [i for i in ids if i in seen]


if __name__ == "__main__":
    main()
