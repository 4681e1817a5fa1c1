"""Speed of document PDFs (the customer statement), measured on the path the numbers are for.

    python benchmarks/documents_bench.py [--path inprocess|http-run|http-serve|all]
        [--lines 3000] [--runs 3] [--requests 3] [--no-subset-lib] [--no-warm-up]

Paths (each line of output names the one it measured):

* ``inprocess``: warm, in-process: ``carebiz.documents.service`` (build + HTML + WeasyPrint)
  called repeatedly in one process after a warm-up run; a one-page and a ``--lines``-line
  statement. What a second and later PDF of a running server costs, without HTTP.
* ``http-run`` / ``http-serve``: cold, over HTTP, as a user gets it: a fresh server process
  (``carebiz run``, the development server ``make run`` starts, or ``carebiz serve``,
  gunicorn with one worker) on a throw-away SQLite database; the time until it answers
  ``/healthz``, then the one-page statement PDF asked for (a) as the very first request and
  (b) on a second fresh server, after a page load and a two-second pause (a person logging
  in), then ``--requests - 1`` more times.

``--no-subset-lib`` makes WeasyPrint believe HarfBuzz's subsetting library is missing (as on
a fresh Debian machine without ``libharfbuzz-subset0``): it subsets fonts with fontTools.
``--no-warm-up`` switches the server's PDF warm-up off (``CAREBIZ_PDF_WARM_UP=false``, the
behaviour before it existed).

Every figure is given as wall time and as CPU time (the server's, read from /proc): on a
shared machine wall time grows with the others' load, CPU time much less.

Targets (issue 10): a one-page document PDF under 0.5 s as a user gets it; a 100-page
document under 15 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "platform"))

from carebiz import create_app  # noqa: E402
from carebiz.db import Base  # noqa: E402

#: a ``sitecustomize`` that hides libharfbuzz-subset from WeasyPrint (``--no-subset-lib``)
NO_SUBSET_LIB = """
import weasyprint.text.ffi as _ffi
_ffi.harfbuzz_subset = None
import weasyprint.pdf.fonts as _fonts
_fonts.harfbuzz_subset = None
"""


def config(tmp: str) -> dict[str, str]:
    return {"CAREBIZ_DATABASE_URL": f"sqlite:///{tmp}/bench.db",
            "CAREBIZ_INSTANCE_PATH": f"{tmp}/instance", "CAREBIZ_SECRET_KEY": "bench",
            "CAREBIZ_JOB_QUEUE": "inline", "CAREBIZ_PLUGINS": "all"}


def seed(tmp: str, lines: int) -> tuple[object, list[int], str]:
    """The database: a branch, an admin, a customer with 8 revenue lines (one page) and one
    with ``lines``; returns the app, the customers' ids and an API token."""
    app = create_app(dict(config(tmp)))
    ext = app.extensions["carebiz"]
    tables = [t for t in Base.metadata.sorted_tables if t.name in ext.table_owner]
    Base.metadata.create_all(ext.engine, tables=tables)

    from carebiz.crm.models import Party, RevenueEvent
    from carebiz.services.branches import save_branch
    from carebiz.services.roles import sync_roles
    from carebiz.services.tokens import create_token
    from carebiz.services.users import create_user

    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        branch = save_branch(sess, None, code="A", name="总店")
        user = create_user(sess, "bench", "Statement-print-42", roles=["admin"],
                           all_branches=True)
        ids = []
        for name, count in (("张伟", 8), ("李娜", lines)):
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
        _token, secret = create_token(sess, user, "bench")
        sess.commit()
    return app, ids, secret


def in_process(app: object, ids: list[int], lines: int, runs: int) -> None:
    from carebiz.documents import service
    from carebiz.services.users import get_user

    ext = app.extensions["carebiz"]  # type: ignore[attr-defined]
    for label, party_id in (("one-page statement", ids[0]), (f"{lines}-line statement", ids[1])):
        times, cpu, pages, size = [], [], 0, 0
        count = runs if label.startswith("one") else max(1, runs - 1)
        for _ in range(count + 1):  # the first run warms fonts and templates up
            with app.test_request_context(), ext.session_factory() as sess:  # type: ignore[attr-defined]
                user = get_user(sess, "bench")
                started, cpu_started = time.perf_counter(), time.process_time()
                doc_type = service.get_type("customer_statement")
                data = service.build(sess, doc_type, party_id, user, "zh_CN")
                html = service.render_html(doc_type, data, "A4", for_print=True)
                doc = service.render_documents([html])
                pdf = doc.write_pdf()
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                pages, size = len(doc.pages), len(pdf)
        measured = times[1:]
        print(f"[warm in-process] {label}: {pages} pages, {size / 1024:.0f} KiB, "
              f"min {min(measured):.2f} s, median {statistics.median(measured):.2f} s, "
              f"max {max(measured):.2f} s; CPU median {statistics.median(cpu[1:]):.2f} s "
              f"(this process's first: {times[0]:.2f} s wall, {cpu[0]:.2f} s CPU; {load()})")


def load() -> str:
    """The machine's load when a figure was taken: on a shared machine wall times grow with
    it, so the minimum of several runs is the figure to compare."""
    try:
        return f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return "load unknown"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by process ``pid`` and its children (gunicorn's
    worker), from /proc: unlike wall time it does not grow with other processes' load."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, token: str | None = None) -> tuple[float, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as resp:
        body = resp.read()
    return time.perf_counter() - started, body


def server(kind: str, tmp: str, port: int, *, subset_lib: bool, warm_up: bool) -> tuple[
        subprocess.Popen[bytes], float]:
    """Start a fresh server process; answer it and the seconds until ``/healthz`` answered."""
    env = {**os.environ, **config(tmp), "CAREBIZ_PDF_WARM_UP": "true" if warm_up else "false"}
    if not subset_lib:
        site = Path(tmp) / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(NO_SUBSET_LIB)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    exe = str(Path(sys.executable).with_name("carebiz"))
    argv = ([exe, "run", "--host", "127.0.0.1", "--port", str(port)] if kind == "run" else
            [exe, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"])
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            get(f"http://127.0.0.1:{port}/healthz")
            return proc, time.perf_counter() - started
        except OSError:
            if proc.poll() is not None or time.perf_counter() - started > 120:
                proc.kill()
                raise SystemExit(f"the {kind} server did not start") from None
            time.sleep(0.05)


def over_http(kind: str, tmp: str, ids: list[int], token: str, requests: int, *,
              subset_lib: bool, warm_up: bool) -> None:
    what = (f"[cold HTTP, carebiz {kind}{'' if subset_lib else ', no harfbuzz-subset'}"
            f"{'' if warm_up else ', no warm-up'}]")
    for scenario in ("PDF first", "page first"):
        port = free_port()
        proc, ready = server(kind, tmp, port, subset_lib=subset_lib, warm_up=warm_up)
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/api/v1/documents/customer_statement/{ids[0]}?format=pdf"
        try:
            if scenario == "page first":
                get(f"{base}/login")
                time.sleep(2.0)
            times, cpu = [], []
            for _ in range(requests):
                before = cpu_seconds(proc.pid)
                seconds, body = get(url, token)
                cpu.append(cpu_seconds(proc.pid) - before)
                assert body.startswith(b"%PDF"), body[:200]
                times.append(seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        rest, rest_cpu = times[1:] or [float("nan")], cpu[1:] or [float("nan")]
        print(f"{what} one-page statement, {scenario}: server ready in {ready:.1f} s; "
              f"PDF #1 {times[0]:.2f} s wall, {cpu[0]:.2f} s CPU; later ones wall min "
              f"{min(rest):.2f} s, median {statistics.median(rest):.2f} s, CPU median "
              f"{statistics.median(rest_cpu):.2f} s ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="all",
                        choices=["inprocess", "http-run", "http-serve", "all"])
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3)
    parser.add_argument("--no-subset-lib", action="store_true")
    parser.add_argument("--no-warm-up", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="carebiz-docbench-")
    app, ids, token = seed(tmp, args.lines)
    if args.no_subset_lib:
        exec(NO_SUBSET_LIB, {})  # noqa: S102 - the fixed text above
    if args.path in ("inprocess", "all"):
        in_process(app, ids, args.lines, args.runs)
    for kind in ("run", "serve"):
        if args.path in (f"http-{kind}", "all"):
            over_http(kind, tmp, ids, token, args.requests,
                      subset_lib=not args.no_subset_lib, warm_up=not args.no_warm_up)


if __name__ == "__main__":
    main()
