"""Failed logins are throttled per account and per address; successes never count."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from carebiz.models import AuditEntry
from carebiz.security.throttle import login_throttle, storage_url
from tests.conftest import PASSWORD, login, seed

LOCKED = b"Too many failed attempts; try again in 15 minutes."


def _client(app: Flask, address: str = "127.0.0.1") -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _audit(app: Flask) -> list[AuditEntry]:
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        return list(sess.scalars(select(AuditEntry).where(
            AuditEntry.event == "login.throttled").order_by(AuditEntry.id)))


def test_forty_wrong_passwords_then_the_right_one_is_refused(app, seeded):
    client = _client(app)
    statuses = [login(client, "sales", f"wrong-password-{i}").status_code for i in range(40)]
    assert statuses[:4] == [422] * 4  # "wrong user name or password"
    assert set(statuses[4:]) == {429}  # the fifth failure starts the lock
    resp = login(client, "sales")  # the right password, too late
    assert resp.status_code == 429 and LOCKED in resp.data
    assert 0 < int(resp.headers["Retry-After"]) <= 15 * 60
    assert _client(app).get("/").status_code == 302  # not logged in
    entries = _audit(app)
    assert len(entries) == 1  # the lock is audited once, not every refused try
    entry = entries[0]
    assert (entry.entity_type, entry.entity_id) == ("user", str(seeded["users"]["sales"]))
    assert entry.summary_text == ("Logins as sales paused for 15 min after 5 failed "
                                  "attempts (last from 127.0.0.1)")
    # other accounts from the same address are not locked out by one account's lock
    assert login(_client(app), "viewer").status_code == 302


def test_the_account_lock_holds_from_every_address_and_any_spelling(app, seeded):
    for i in range(5):
        login(_client(app, f"203.0.113.{i + 1}"), "Sales", f"wrong-password-{i}")
    assert login(_client(app, "203.0.113.99"), "sales").status_code == 429


def test_unknown_names_lock_like_real_ones(app, seeded):
    """Otherwise the lock would tell which user names exist."""
    client = _client(app)
    statuses = [login(client, "nobody", f"guess-{i}").status_code for i in range(6)]
    assert statuses == [422] * 4 + [429] * 2
    assert [(e.entity_type, e.entity_id) for e in _audit(app)] == [("login", "nobody")]


def test_successes_do_not_count_and_clear_the_accounts_failures(app, seeded):
    client = _client(app)
    for _ in range(30):
        assert login(client, "sales").status_code == 302
        client.post("/logout")
    for _round in range(3):
        for i in range(4):
            assert login(client, "sales", f"wrong-{i}-xyz").status_code == 422
        assert login(client, "sales").status_code == 302
        client.post("/logout")


def test_one_address_spraying_many_accounts_is_stopped(app, seeded):
    sprayer = _client(app, "198.51.100.7")
    statuses = [login(sprayer, f"user{i}", "Summer2024!").status_code for i in range(20)]
    assert statuses[:19] == [422] * 19 and statuses[19] == 429
    resp = login(sprayer, "viewer")
    assert resp.status_code == 429 and LOCKED in resp.data
    assert login(_client(app, "198.51.100.8"), "viewer").status_code == 302  # others go on
    entry = _audit(app)[-1]
    assert (entry.entity_type, entry.entity_id) == ("login", "198.51.100.7")


def test_limits_are_settings(make_app):
    app = make_app(CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
    seed(app)
    client = _client(app)
    assert [login(client, "sales", f"wrong-{i}-xyz").status_code for i in range(3)] == [
        422, 429, 429]
    assert b"try again in 1 minute." in login(client, "sales").data


def test_limits_can_be_switched_off(make_app):
    off = make_app(CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT="", CAREBIZ_LOGIN_LIMIT_PER_ADDRESS="")
    seed(off)
    client = _client(off)
    assert {login(client, "sales", f"wrong-{i}-xyz").status_code for i in range(25)} == {422}
    assert login(client, "sales").status_code == 302


def test_a_mistyped_limit_stops_the_app(make_app):
    with pytest.raises(ValueError, match="CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT"):
        make_app(CAREBIZ_LOGIN_LIMIT_PER_ACCOUNT="five a minute")


def test_guessing_the_current_password_on_the_change_page_is_throttled(app, seeded):
    client = _client(app)
    login(client, "sales")
    statuses = [client.post("/account/password", data={
        "current_password": f"guess-{i}-xyz", "password": "new-secret-42",
        "confirm": "new-secret-42"}).status_code for i in range(6)]
    assert statuses == [422] * 4 + [429] * 2
    assert login(_client(app), "sales").status_code == 429  # the account is locked


def test_storage_is_memory_unless_configured_or_rq():
    assert storage_url({}) == "memory://"
    assert storage_url({"CAREBIZ_JOB_QUEUE": "rq",
                        "CAREBIZ_REDIS_URL": "redis://r:6379/2"}) == "redis://r:6379/2"
    assert storage_url({"CAREBIZ_RATELIMIT_STORAGE_URL": "redis://other:6379/3",
                        "CAREBIZ_JOB_QUEUE": "rq",
                        "CAREBIZ_REDIS_URL": "redis://r"}) == "redis://other:6379/3"


def test_unreachable_storage_does_not_lock_everybody_out(make_app):
    # nothing listens on port 1 of the loopback interface: every storage call fails at once
    app = make_app(CAREBIZ_RATELIMIT_STORAGE_URL="redis://127.0.0.1:1/0")
    seed(app)
    client = _client(app)
    assert login(client, "sales", "wrong-password-1").status_code == 422
    assert login(client, "sales").status_code == 302


def redis_url() -> str | None:
    url = os.environ.get("CAREBIZ_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except Exception:
        return None
    return url


@pytest.mark.redis
def test_workers_share_the_counts_through_redis(make_app):
    """Two apps stand for two gunicorn workers: failures seen by either count for both."""
    url = redis_url()
    if url is None:
        pytest.skip("no Redis server answers (set CAREBIZ_TEST_REDIS_URL)")
    first = make_app(CAREBIZ_RATELIMIT_STORAGE_URL=url)
    second = make_app(CAREBIZ_RATELIMIT_STORAGE_URL=url)
    seed(first)
    # a name and an address of this run only, so parallel or earlier runs do not interfere
    run = f"{os.getpid():x}{time.monotonic_ns():x}"
    name, address = f"probe{run}", f"2001:db8::{run[-4:]}:{run[-8:-4] or '1'}"
    statuses = [login(_client(app, address), name, f"guess-{i}").status_code
                for i, app in enumerate([first, second] * 3)]
    assert statuses == [422] * 4 + [429] * 2
    with second.app_context():
        login_throttle().succeeded(name)  # tidy up the account count


def _spray(client: Any, count: int, headers: dict[str, str] | None = None) -> list[int]:
    return [client.post("/login", headers=headers or {}, data={
        "username": f"user{i}", "password": "Summer2024!"}).status_code for i in range(count)]


def test_behind_a_trusted_proxy_each_client_address_counts_apart(make_app):
    app = make_app(CAREBIZ_TRUSTED_PROXIES="1")
    seed(app)
    proxy = _client(app, "127.0.0.1")
    assert _spray(proxy, 20, {"X-Forwarded-For": "198.51.100.7"})[-1] == 429
    resp = proxy.post("/login", headers={"X-Forwarded-For": "198.51.100.8"}, data={
        "username": "viewer", "password": PASSWORD})
    assert resp.status_code == 302  # another client behind the same proxy


def test_an_unknown_address_is_not_one_shared_counter(app, seeded):
    """A Unix-socket server reports no address: counting them all as one would let 20
    failures anywhere lock out everybody."""
    assert set(_spray(_client(app, ""), 25)) == {422}
