"""Every request under ``carebiz serve`` is its caller's, whichever worker answers it.

The CLI used to push an app context before forking gunicorn; each worker then reused that
one context (and its ``g``: the logged-in user, the DB session, the CSRF token) for every
request, so the first caller's identity stuck to the worker: a bogus token could create an
admin after an admin's call. These tests start the real server."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from carebiz import create_app
from tests.support.processes import (
    call,
    carebiz_env,
    free_port,
    need_posix_processes,
    run_cli,
    running,
    wait_until_up,
)

PASSWORD = "long-enough-1"


def prepare(instance: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A migrated SQLite file with an admin and a viewer; returns (env, tokens)."""
    from carebiz.services.tokens import create_token
    from carebiz.services.users import create_user

    url = f"sqlite:///{instance / 'carebiz.db'}"
    env = carebiz_env(instance, CAREBIZ_DATABASE_URL=url, CAREBIZ_JOB_QUEUE="thread")
    run_cli(env, "db", "upgrade")
    app = create_app({"CAREBIZ_INSTANCE_PATH": str(instance), "CAREBIZ_DATABASE_URL": url,
                      "CAREBIZ_PLUGINS": "none", "CAREBIZ_JOB_QUEUE": "inline"})
    tokens = {}
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for name, role in (("admin", "admin"), ("viewer", "read_only")):
            user = create_user(sess, name, PASSWORD, roles=[role], all_branches=True)
            tokens[name] = create_token(sess, user, "test", by_operator=True)[1]
        sess.commit()
    app.extensions["carebiz"].engine.dispose()
    return env, tokens


def usernames(instance: Path) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{instance / 'carebiz.db'}")
    with engine.connect() as conn:
        names = list(conn.scalars(text("SELECT username FROM user_account ORDER BY username")))
    engine.dispose()
    return names


def test_each_request_has_its_own_identity_across_workers(tmp_path: Path) -> None:
    need_posix_processes()
    instance = tmp_path / "instance"
    env, tokens = prepare(instance)
    base = f"http://127.0.0.1:{free_port()}"
    log = tmp_path / "serve.log"
    evil = {"username": "evil", "password": "evil-pass-123", "roles": ["admin"]}
    calls: dict[str, tuple[str, str, str | None, Any, set[int], str | None]] = {
        # name: method, path, token, body, expected statuses, expected username
        "admin": ("GET", "/api/v1/me", tokens["admin"], None, {200}, "admin"),
        "viewer": ("GET", "/api/v1/me", tokens["viewer"], None, {200}, "viewer"),
        "anonymous": ("GET", "/api/v1/me", None, None, {401}, None),
        "bogus-token": ("GET", "/api/v1/me", "not-a-token", None, {401}, None),
        "bogus-create": ("POST", "/api/v1/users", "not-a-token", evil, {401}, None),
        "viewer-create": ("POST", "/api/v1/users", tokens["viewer"], evil, {403}, None),
        # no token and no CSRF token: refused by the CSRF check (400) or as anonymous (401)
        "anonymous-create": ("POST", "/api/v1/users", None, evil, {400, 401}, None),
    }
    # the order first (an admin's calls, then the bogus token), then many interleaved
    order = ["admin"] * 6 + ["bogus-create", "viewer"] * 3 + ["anonymous"] * 3
    rng = random.Random(8)
    order += [rng.choice(list(calls)) for _ in range(80)]
    with running(env, "serve", "--bind", base.removeprefix("http://"), "--workers", "2",
                 log=log) as proc:
        wait_until_up(f"{base}/healthz", proc, log)
        wrong = []
        for number, name in enumerate(order):
            method, path, token, body, statuses, username = calls[name]
            got, data = call(base + path, method, token, body)
            who = data.get("username") if isinstance(data, dict) else None
            if got not in statuses or (username is not None and who != username):
                wrong.append(f"#{number} {name}: {got} as {who!r}, expected {sorted(statuses)}"
                             + (f" as {username!r}" if username else ""))
        assert proc.poll() is None, log.read_text()
    assert not wrong, "\n".join(wrong)
    assert usernames(instance) == ["admin", "viewer"]  # nobody was created
    assert log.read_text().count("Booting worker") == 2


def test_serve_refuses_to_fork_inside_an_app_context(tmp_path: Path, monkeypatch: Any) -> None:
    """The guard behind the fix: a worker that finds an app context already pushed (so
    requests would share its ``g``) stops at boot instead of serving."""
    from flask import Flask

    from carebiz.cli import check_no_app_context

    check_no_app_context(None)  # none pushed here: fine
    with Flask(__name__).app_context(), pytest.raises(RuntimeError, match="app context"):
        check_no_app_context(None)
