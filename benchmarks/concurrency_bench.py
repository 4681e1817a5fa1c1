"""Data integrity under concurrency: reproductions of issue 8, with figures.

Run with ``.venv/bin/python benchmarks/concurrency_bench.py`` (SQLite file) or add
``--postgres URL`` (its public schema is wiped). Every figure is printed on one line:

- parallel merges: ``rounds`` times, A→B and B→A posted at the same moment from two threads
  (separate clients, sessions and connections); a round is *corrupt* when the end state is
  not exactly one active customer holding both vehicles and one inactive pointer to it;
- identical merges: the same A→B twice at once; a round is *doubled* when both answer 200
  or two "merged" audit entries are written;
- lost update: two people open the same customer's edit page, the first changes the city,
  the second (stale form) the name; *lost* when the city is reverted;
- import under load: a ``--rows`` import runs as a background job while another writer
  changes a customer every half second; prints the writer's worst wait and failures, and
  whether the import completed.
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PASSWORD = "correct-horse-1"


def make_app(url: str, tmp: Path, queue: str = "inline") -> Any:
    from carebiz import create_app
    from carebiz.db import Base

    app = create_app({"CAREBIZ_INSTANCE_PATH": str(tmp), "CAREBIZ_DATABASE_URL": url,
                      "CAREBIZ_JOB_QUEUE": queue, "WTF_CSRF_ENABLED": False,
                      "TESTING": True, "SECRET_KEY": "bench", "CAREBIZ_PLUGINS": "none"})
    ext = app.extensions["carebiz"]
    Base.metadata.create_all(ext.engine, tables=[t for t in Base.metadata.sorted_tables
                                                 if t.name in ext.table_owner])
    return app


def seed(app: Any) -> dict[str, Any]:
    from carebiz.services.branches import save_branch
    from carebiz.services.roles import sync_roles
    from carebiz.services.tokens import create_token
    from carebiz.services.users import create_user

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        branch = save_branch(sess, None, code="A", name="Branch A")
        users = [create_user(sess, name, PASSWORD, roles=["admin"], all_branches=True)
                 for name in ("admin", "other")]
        sess.commit()
        tokens = [create_token(sess, u, "bench")[1] for u in users]
        sess.commit()
        return {"branch": branch.id, "tokens": tokens}


def vin(serial: int) -> str:
    from carebiz.crm.validation import vin_check_digit

    raw = f"LSVAB2180N{serial:07d}"[:17]
    return raw[:8] + vin_check_digit(raw) + raw[9:]


class Client:
    def __init__(self, app: Any, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, url: str, body: Any) -> Any:
        return self.client.post(url, json=body, headers=self.headers)

    def patch(self, url: str, body: Any, **headers: str) -> Any:
        return self.client.patch(url, json=body, headers={**self.headers, **headers})

    def get(self, url: str) -> Any:
        return self.client.get(url, headers=self.headers)


def at_once(*calls: Any) -> list[Any]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Any) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # an escaped error is a 500 to the user
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def status(resp: Any) -> Any:
    return resp.status_code if hasattr(resp, "status_code") else type(resp).__name__


def pair(client: Client, serial: int, branch: int) -> tuple[int, int]:
    ids = []
    for k in (0, 1):
        made = client.post("/api/v1/customers", {"name": f"Merge {serial}-{k}",
                                                 "branch_id": branch}).get_json()
        client.post("/api/v1/vehicles", {"vin": vin(serial * 2 + k), "owner_id": made["id"],
                                         "branch_id": branch})
        ids.append(made["id"])
    return ids[0], ids[1]


def merge_state(app: Any, a: int, b: int) -> tuple[bool, int]:
    """(consistent, merged audit entries) for the pair after a race."""
    from sqlalchemy import func, select

    from carebiz.crm.models import Party, Vehicle
    from carebiz.models import AuditEntry

    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        rows = {p.id: p for p in sess.scalars(select(Party).where(Party.id.in_([a, b])))}
        active = [p for p in rows.values() if p.active]
        gone = [p for p in rows.values() if not p.active]
        owners = set(sess.scalars(select(Vehicle.owner_id).where(Vehicle.owner_id.in_([a, b]))))
        audits = sess.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.event == "customer.merged",
            AuditEntry.entity_id.in_([str(a), str(b)])))
        ok = (len(active) == 1 and len(gone) == 1 and gone[0].merged_into_id == active[0].id
              and owners == {active[0].id})
        return ok, audits


def bench_merges(app: Any, clients: list[Client], rounds: int, branch: int) -> None:
    corrupt = errors = 0
    statuses: list[Any] = []
    for r in range(rounds):
        a, b = pair(clients[0], 1000 + r, branch)
        res = at_once(lambda a=a, b=b: clients[0].post("/api/v1/customers/merge",
                                                       {"keep_id": a, "remove_id": b}),
                      lambda a=a, b=b: clients[1].post("/api/v1/customers/merge",
                                                       {"keep_id": b, "remove_id": a}))
        codes = sorted(str(status(x)) for x in res)
        statuses.append("/".join(codes))
        errors += sum(1 for x in res if not hasattr(x, "status_code") or x.status_code >= 500)
        ok, _audits = merge_state(app, a, b)
        corrupt += not ok
    print(f"parallel merges A→B vs B→A: {corrupt}/{rounds} corrupt, {errors} answers 5xx; "
          f"statuses {sorted(set(statuses))}")

    doubled = errors = 0
    statuses = []
    for r in range(rounds):
        a, b = pair(clients[0], 5000 + r, branch)
        body = {"keep_id": a, "remove_id": b}
        res = at_once(lambda body=body: clients[0].post("/api/v1/customers/merge", body),
                      lambda body=body: clients[1].post("/api/v1/customers/merge", body))
        statuses.append("/".join(sorted(str(status(x)) for x in res)))
        errors += sum(1 for x in res if not hasattr(x, "status_code") or x.status_code >= 500)
        ok, audits = merge_state(app, a, b)
        doubled += (sum(1 for x in res if status(x) == 200) > 1) or audits != 1 or not ok
    print(f"identical merges at once:    {doubled}/{rounds} doubled or corrupt, {errors} "
          f"answers 5xx; statuses {sorted(set(statuses))}")


def bench_lost_update(app: Any, rounds: int, branch: int) -> None:
    from carebiz.crm.models import Party

    lost = 0
    admin = app.test_client()
    admin.post("/login", data={"username": "admin", "password": PASSWORD})
    other = app.test_client()
    other.post("/login", data={"username": "other", "password": PASSWORD})
    for r in range(rounds):
        resp = admin.post("/customers/new", data={"kind": "person", "name": f"Edit {r}",
                                                  "roles": ["customer"], "city": "Beijing",
                                                  "branch_id": str(branch)})
        party_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
        forms = []
        for client in (admin, other):  # both open the edit page
            page = client.get(f"/customers/{party_id}/edit").get_data(as_text=True)
            forms.append(_form_values(page))
        first = {**forms[0], "city": "Shanghai"}
        admin.post(f"/customers/{party_id}/edit", data=first)
        second = {**forms[1], "name": f"Edit {r} renamed"}
        other.post(f"/customers/{party_id}/edit", data=second)
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            lost += sess.get(Party, party_id).city != "Shanghai"
    print(f"lost updates (stale edit form): {lost}/{rounds} rounds reverted the other "
          f"person's change")


def _form_values(html: str) -> dict[str, Any]:
    """The fields of the edit form as the browser would send them back."""
    from html.parser import HTMLParser

    values: dict[str, Any] = {}

    class Parser(HTMLParser):
        textarea: str | None = None
        select: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            name = a.get("name")
            if tag == "input" and name and name != "csrf_token":
                kind = a.get("type", "text")
                if kind in ("checkbox", "radio"):
                    if "checked" in a:
                        values.setdefault(name, []).append(a.get("value", "y"))
                else:
                    values[name] = a.get("value") or ""
            elif tag == "textarea" and name:
                self.textarea = name
                values[name] = ""
            elif tag == "select" and name:
                self.select = name
            elif tag == "option" and self.select and "selected" in a:
                values[self.select] = a.get("value") or ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "textarea":
                self.textarea = None
            if tag == "select":
                self.select = None

        def handle_data(self, data: str) -> None:
            if self.textarea:
                values[self.textarea] += data

    Parser().feed(html)
    return values


def bench_import(app: Any, clients: list[Client], seeded: dict[str, Any], rows: int,
                 writer_delay: float = 0.0) -> None:
    from carebiz.models import Job

    lines = ["name,phone,vin,branch"] + [f"Import {i},139{i:08d},{vin(100_000 + i)},A"
                                  for i in range(rows)]
    data = ("\n".join(lines) + "\n").encode()
    target = clients[1].post("/api/v1/customers", {"name": "Busy writer",
                                                   "branch_id": seeded["branch"]}).get_json()["id"]
    start = time.perf_counter()
    resp = clients[0].client.post(
        "/api/v1/import/customers", headers=clients[0].headers,
        data={"file": (io.BytesIO(data), "big.csv"), "dry_run": "false"},
        content_type="multipart/form-data")
    job_id = resp.get_json()["id"]
    waits: list[float] = []
    failures: list[Any] = []
    finished = None
    n = 0
    time.sleep(writer_delay)  # let the import take the lock first (or not: 0)
    while finished is None:
        time.sleep(0.5)
        n += 1
        t0 = time.perf_counter()
        try:
            answer = clients[1].patch(f"/api/v1/customers/{target}", {"city": f"C{n}"})
            code = answer.status_code
        except Exception as exc:  # a 500 page
            code = type(exc).__name__
        waits.append(time.perf_counter() - t0)
        if code != 200:
            failures.append(code)
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            job = sess.get(Job, job_id)
            if job.status in ("finished", "failed"):
                finished = (job.status, (job.result or {}).get("counts"), job.error)
    took = time.perf_counter() - start
    print(f"import of {rows} rows while another writer writes: import {finished[0]} in "
          f"{took:.1f} s; writer {len(waits)} writes, worst wait {max(waits):.2f} s, median "
          f"{statistics.median(waits) * 1000:.0f} ms, failures {len(failures)} "
          f"{sorted(set(map(str, failures)))}")
    if finished[0] != "finished":
        print("  import error:", (finished[2] or "")[:300].replace("\n", " | "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is wiped)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the import (0: skip)")
    parser.add_argument("--only", choices=["merge", "edit", "import"])
    parser.add_argument("--writer-delay", type=float, default=0.0,
                        help="seconds the other writer waits before its first write")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    tmp = Path(tempfile.mkdtemp(prefix="carebiz-conc-"))
    url = args.postgres or f"sqlite:///{tmp / 'bench.db'}"
    if args.postgres:
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    print(f"database: {url.split('@')[-1]}")
    logging.getLogger("carebiz").setLevel(logging.CRITICAL)  # row failures are counted
    app = make_app(url, tmp, queue="thread")
    seeded = seed(app)
    clients = [Client(app, t) for t in seeded["tokens"]]
    if args.only in (None, "merge"):
        bench_merges(app, clients, args.rounds, seeded["branch"])
    if args.only in (None, "edit"):
        bench_lost_update(app, args.rounds, seeded["branch"])
    if args.rows and args.only in (None, "import"):
        bench_import(app, clients, seeded, args.rows, args.writer_delay)
    app.extensions["carebiz"].engine.dispose()


if __name__ == "__main__":
    main()
