"""Speed of document PDFs: a one-page customer statement and a ~100-page one (≈3,000 lines),
rendered through ``carebiz.documents.service`` (build + HTML + WeasyPrint) on a throw-away
SQLite database.

    python benchmarks/documents_bench.py [--lines 3000] [--runs 3]

Targets (issue): a one-page document PDF under 0.5 s; a 100-page list under 15 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "platform"))

from carebiz import create_app  # noqa: E402
from carebiz.db import Base  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="carebiz-docbench-")
    app = create_app({"CAREBIZ_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                      "CAREBIZ_INSTANCE_PATH": f"{tmp}/instance", "SECRET_KEY": "bench",
                      "CAREBIZ_JOB_QUEUE": "inline", "CAREBIZ_PLUGINS": "all"})
    ext = app.extensions["carebiz"]
    tables = [t for t in Base.metadata.sorted_tables if t.name in ext.table_owner]
    Base.metadata.create_all(ext.engine, tables=tables)

    from carebiz.crm.models import Party, RevenueEvent
    from carebiz.documents import service
    from carebiz.services.branches import save_branch
    from carebiz.services.roles import sync_roles
    from carebiz.services.users import create_user

    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        branch = save_branch(sess, None, code="A", name="总店")
        create_user(sess, "bench", "bench-password-1", roles=["admin"], all_branches=True)
        ids = []
        for name, count in (("张伟", 8), ("李娜", args.lines)):
            party = Party(name=name, name_key=name, branch_id=branch.id)
            sess.add(party)
            sess.flush()
            ids.append(party.id)
            start = dt.date(2020, 1, 1)
            sess.add_all(RevenueEvent(
                party_id=party.id, branch_id=branch.id, amount=Decimal(1000 + i) / 7,
                currency="CNY", base_amount=Decimal(1000 + i) / 7,
                occurred_on=start + dt.timedelta(days=i % 1500), source="维修工单",
                ref=f"RO-{party.id}-{i:05d}") for i in range(count))
        sess.commit()

    for label, party_id in (("one-page statement", ids[0]),
                            (f"{args.lines}-line statement", ids[1])):
        times, pages = [], 0
        runs = args.runs if label.startswith("one") else max(1, args.runs - 1)
        for _ in range(runs + 1):  # the first run warms fonts and templates up
            with app.test_request_context(), ext.session_factory() as sess:
                from carebiz.services.users import get_user

                user = get_user(sess, "bench")
                started = time.perf_counter()
                doc_type = service.get_type("customer_statement")
                data = service.build(sess, doc_type, party_id, user, "zh_CN")
                html = service.render_html(doc_type, data, "A4", for_print=True)
                doc = service.render_documents([html])
                pdf = doc.write_pdf()
                times.append(time.perf_counter() - started)
                pages = len(doc.pages)
        measured = times[1:]
        print(f"{label}: {pages} pages, {len(pdf) / 1024:.0f} KiB, "
              f"median {statistics.median(measured):.2f} s, max {max(measured):.2f} s "
              f"(warm-up {times[0]:.2f} s)")


if __name__ == "__main__":
    main()
