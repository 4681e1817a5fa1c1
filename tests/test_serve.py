"""``carebiz serve`` starts gunicorn with several worker processes that answer requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_runs_several_workers(tmp_path):
    port = free_port()
    env = dict(os.environ, CAREBIZ_INSTANCE_PATH=str(tmp_path), CAREBIZ_PLUGINS="none")
    proc = subprocess.Popen(
        [sys.executable, "-m", "carebiz.cli", "serve", "--bind", f"127.0.0.1:{port}",
         "--workers", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.2)
        assert body == b'{"database":"ok","status":"ok"}\n'
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert output.count("Booting worker") == 2, output
