"""Instructions per page request, counted by callgrind: a figure that other work on the
machine does not move (worker CPU in ``request_cost.py`` doubles when seven people share two
cores, instruction counts stay within 1 %).

    python benchmarks/page_instructions.py             # list, 360, layout, healthz, api, bare
    python benchmarks/page_instructions.py list 360 --requests 10

How: the demo database of ``request_cost.py`` is prepared once in a folder under /tmp; then,
for each probe, this script starts itself under ``valgrind --tool=callgrind`` with
instrumentation off, logs in as admin through the Flask test client (the ``api`` probe sends
the admin's bearer token instead; ``bare`` asks ``request_cost.bare_app``, the framework's floor,
the same path), warms the page up (4 requests), switches instrumentation on
(``callgrind_control -i on``), sends ``--requests`` requests and switches it off. Instructions
(Ir) collected / requests = instructions per request, the whole request in-process: routing,
login, SQL (SQLite), rendering. Expect about a minute per probe.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDER = Path(os.environ.get("CAREBIZ_PAGE_FOLDER", "/tmp/carebiz-page-instructions"))
PROBES = {"list": "/customers", "360": "/customers/{party}", "layout": "/account/password",
          "healthz": "/healthz", "api": "/api/v1/customers/{party}",
          "bare": "/api/v1/customers/{party}"}
#: probes sent with the admin's bearer token instead of a logged-in session
TOKEN_PROBES = frozenset({"api"})
#: probes answered by ``request_cost.bare_app`` (the framework's floor), not by carebiz
BARE_PROBES = frozenset({"bare"})


def prepare() -> int:
    """The demo database (once), the customer with the most history and an admin token."""
    sys.path.insert(0, str(HERE))
    import request_cost

    marker, token = FOLDER / "party", FOLDER / "token"
    if not (marker.exists() and token.exists()):
        FOLDER.mkdir(parents=True, exist_ok=True)
        info = request_cost.prepare(f"sqlite:///{FOLDER}/bench.db", FOLDER, "admin")
        marker.write_text(str(info["party_id"]))
        token.write_text(info["token"])
    return int(marker.read_text())


def run_probe(path: str, requests: int, mode: str = "session") -> None:
    """Inside callgrind: log in (or send the token, or start the bare app), warm up, count
    ``requests`` requests of ``path``."""
    import logging

    sys.path.insert(0, str(HERE))
    from request_cost import DEMO_PASSWORD, bare_app

    from carebiz import create_app

    logging.disable(logging.WARNING)
    app = bare_app() if mode == "bare" else create_app({"CAREBIZ_INSTANCE_PATH": str(FOLDER),
                      "CAREBIZ_DATABASE_URL": f"sqlite:///{FOLDER}/bench.db",
                      "CAREBIZ_JOB_QUEUE": "inline", "WTF_CSRF_ENABLED": False,
                      # the server's PDF warm-up thread would render beside the requests
                      "CAREBIZ_PDF_WARM_UP": False})
    client = app.test_client()
    headers = {}
    if mode == "bearer":
        headers["Authorization"] = f"Bearer {(FOLDER / 'token').read_text()}"
    elif mode == "session":
        assert client.post("/login", data={"username": "admin",
                                           "password": DEMO_PASSWORD}).status_code == 302
    import gc

    gc.freeze()  # as `carebiz serve` does after start-up
    for _ in range(4):
        assert client.get(path, headers=headers).status_code == 200, path
    instrument("on")
    for _ in range(requests):
        client.get(path, headers=headers)
    instrument("off")


def instrument(state: str) -> None:
    """Switch callgrind's instrumentation of this process on or off. Valgrind takes the
    command while this process runs code, so spin (not block in ``wait``) until it answers."""
    proc = subprocess.Popen(["callgrind_control", "-i", state, str(os.getpid())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    spins = 0
    while proc.poll() is None:
        spins += 1
    if state == "on":
        time.sleep(0.2)


def mode_of(probe: str) -> str:
    """How the probe's requests are sent: ``session``, ``bearer`` or ``bare``."""
    return "bare" if probe in BARE_PROBES else "bearer" if probe in TOKEN_PROBES else "session"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("probes", nargs="*", help=f"some of {', '.join(PROBES)} (all)")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--run", help=argparse.SUPPRESS)  # the child under callgrind
    parser.add_argument("--mode", default="session", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_probe(args.run, args.requests, args.mode)
        return
    unknown = set(args.probes) - set(PROBES)
    if unknown:
        parser.error(f"unknown probes {', '.join(sorted(unknown))}; known: {', '.join(PROBES)}")
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is needed (apt-get install valgrind)")
    party = prepare()
    for name in args.probes or list(PROBES):
        path = PROBES[name].format(party=party)
        out = FOLDER / f"callgrind.{name}.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, __file__, "--run", path,
             "--requests", str(args.requests), "--mode", mode_of(name)],
            capture_output=True, text=True, check=False)
        found = re.search(r"Collected : ([\d,]+)", done.stderr)
        if done.returncode or not found:
            print(f"{name:8s} {path}: failed\n{done.stderr[-2000:]}")
            continue
        count = int(found.group(1).replace(",", "")) / args.requests
        print(f"{name:8s} {path:28s} {count / 1e6:8.2f} M instructions per request")


if __name__ == "__main__":
    main()
