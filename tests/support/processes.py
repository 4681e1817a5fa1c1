"""Real ``carebiz`` processes for tests: the environment, a free port, HTTP calls, and a
context manager that always stops what it started (even when the test fails)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def need_posix_processes() -> None:
    """Skip with a reason when the machine cannot run the servers these tests start."""
    if os.name != "posix":
        pytest.skip("gunicorn and the worker tests need a POSIX system (fork, signals)")
    pytest.importorskip("gunicorn", reason="gunicorn is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def carebiz_env(instance: Path, *paths: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``carebiz`` process: this checkout (and ``paths``, e.g. a fake
    site folder with test plugins) importable, and CAREBIZ_* settings of its own; the
    caller's CAREBIZ_* variables are left out so the process sees only what the test says."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBIZ_")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(ROOT),
                                         env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["CAREBIZ_INSTANCE_PATH"] = str(instance)
    env.setdefault("CAREBIZ_PLUGINS", "none")
    env.update(settings)
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``carebiz ARGS`` to its end; fail the test with its output when it fails."""
    done = subprocess.run([sys.executable, "-m", "carebiz.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"carebiz {' '.join(args)} failed:\n{done.stdout}{done.stderr}"
    return done.stdout


@contextmanager
def running(env: dict[str, str], *args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``carebiz ARGS`` in its own process group with its output in ``log`` (a file,
    not a pipe: a full pipe would block a chatty server), and stop it on the way out: SIGTERM,
    then SIGKILL of the whole group if it has not stopped within 20 s."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "carebiz.cli", *args], env=env,
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


def call(url: str, method: str = "GET", token: str | None = None,
         body: Any = None, timeout: float = 10) -> tuple[int, Any]:
    """One HTTP call on a new connection: (status, JSON body or None)."""
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path,
                  timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server stopped with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"the server did not answer {url} within {timeout} s:\n{log.read_text()}")
