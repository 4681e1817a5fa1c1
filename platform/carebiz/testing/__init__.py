"""Test support for the core and for plugin authors, installed with the package.

``carebiz.testing.plugin`` is registered as a pytest plugin (entry point ``pytest11``), so any
project that installs CareBusiness gets its fixtures without a ``conftest.py``: ``make_app``,
``app``, ``session``, ``seeded``, ``admin_client``, ``client_for``, ``api_client``. The helpers
here are the plain functions behind them, for tests that build their own setups:

- :func:`seed` gives the standard two-branch business with a user per common role;
- :func:`login` and :func:`token_for` authenticate a test client;
- the ``make_*`` factories create branches, users, customers and vehicles through the real
  services (so validation, audit and events run as in production).

Tests run on SQLite by default and on PostgreSQL when ``CAREBIZ_TEST_DATABASE_URL`` names a
database the tests may wipe.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import create_engine, text

T = TypeVar("T")

#: the password every user made by :func:`seed` and :func:`make_user` has
PASSWORD = "correct-horse-1"

__all__ = ["PASSWORD", "create_schema", "login", "make_branch", "make_customer", "make_user",
           "make_vehicle", "reset_postgres", "run_async", "seed", "token_for", "valid_vin"]


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a fresh event loop in a thread of its own and return its
    result. A browser test's Playwright (sync API) keeps an event loop running in the
    worker's main thread for the rest of the session, so a later ``asyncio.run`` there fails
    with "cannot be called from a running event loop"; a thread has no loop of its own."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="run_async") as pool:
        return pool.submit(asyncio.run, coro).result()


def reset_postgres(url: str) -> None:
    """Drop everything in the database's ``public`` schema."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def app_tables(app: Flask) -> list[Any]:
    """The tables of the plugins installed in ``app``, in dependency order."""
    from carebiz.db import Base

    ext = app.extensions["carebiz"]
    return [t for t in Base.metadata.sorted_tables if t.name in ext.table_owner]


def create_schema(app: Flask) -> None:
    """Create the installed plugins' tables that do not exist yet (migrations are tested on
    their own)."""
    from carebiz.db import Base

    Base.metadata.create_all(app.extensions["carebiz"].engine, tables=app_tables(app))


def _session(app: Flask) -> Any:
    return app.extensions["carebiz"].session_factory()


def seed(app: Flask) -> dict[str, Any]:
    """Roles, two branches (codes ``A`` and ``B``) and users: ``admin``, ``manager`` (all
    branches), and a salesperson ``sales`` and a read-only ``viewer`` in branch A. Returns
    ``{"branches": {code: id}, "users": {username: id}}``."""
    from carebiz.services.roles import sync_roles

    ext = app.extensions["carebiz"]
    with app.app_context(), ext.session_factory() as sess:
        sync_roles(sess, ext.host.collect("permissions"))
        a = make_branch(sess, "A", "Branch A")
        b = make_branch(sess, "B", "Branch B")
        users = {
            "admin": make_user(sess, "admin", roles=["admin"], all_branches=True),
            "manager": make_user(sess, "manager", roles=["manager"], all_branches=True),
            "sales": make_user(sess, "sales", roles=["salesperson"], branches=["A"]),
            "viewer": make_user(sess, "viewer", roles=["read_only"], branches=["A"]),
        }
        sess.commit()
        return {"branches": {"A": a.id, "B": b.id},
                "users": {k: u.id for k, u in users.items()}}


def login(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Log ``client`` in through the login form; returns the response (302 on success)."""
    return client.post("/login", data={"username": username, "password": password})


def token_for(app: Flask, username: str) -> str:
    """A new API token secret for ``username``."""
    from carebiz.services.tokens import create_token
    from carebiz.services.users import get_user

    with app.app_context(), _session(app) as sess:
        _token, secret = create_token(sess, get_user(sess, username), "test", by_operator=True)
        sess.commit()
        return secret


# -- factories: real services, the caller's session and transaction -------------------------
def make_branch(session: Any, code: str, name: str | None = None, **values: Any) -> Any:
    """A branch (code upper-cased by the service)."""
    from carebiz.services.branches import save_branch

    return save_branch(session, None, code=code, name=name or f"Branch {code}", **values)


def make_user(session: Any, username: str, *, password: str = PASSWORD,
              roles: tuple[str, ...] | list[str] = (), branches: tuple[str, ...] | list[str] = (),
              all_branches: bool = False, **values: Any) -> Any:
    """A user with the given role names and branch codes."""
    from carebiz.services.users import create_user

    return create_user(session, username, password, roles=roles, branches=branches,
                       all_branches=all_branches, **values)


def make_customer(session: Any, name: str, branch_id: int, *, user: Any = None,
                  **data: Any) -> Any:
    """A person customer (``data`` as the customer service takes it, e.g. ``phones``); no
    duplicate warning stops it."""
    from carebiz.crm.services.parties import create_party

    return create_party(session, {"name": name, "branch_id": branch_id, **data}, user=user,
                        allow_duplicates=True)


def valid_vin(serial: int, wmi: str = "LGX") -> str:
    """A VIN with a correct ISO 3779 check digit, different for each ``serial`` from 0 to
    999,999 (the serial is the VIN's last six characters, read out as its tail)."""
    from carebiz.crm.validation import vin_check_digit

    if not 0 <= serial <= 999_999:
        raise ValueError(f"valid_vin serial {serial} is outside 0..999999")
    body = f"{wmi}CE4C00R1{serial:06d}"  # the 9th character becomes the check digit
    return body[:8] + vin_check_digit(body) + body[9:]


def make_vehicle(session: Any, serial: int, branch_id: int, *, owner_id: int | None = None,
                 user: Any = None, **data: Any) -> Any:
    """A vehicle with a valid VIN made from ``serial``."""
    from carebiz.crm.services.vehicles import create_vehicle

    values = {"vin": valid_vin(serial), "branch_id": branch_id, "make": "Volkswagen",
              "model": "Lavida", **data}
    if owner_id is not None:
        values["owner_id"] = owner_id
    return create_vehicle(session, values, user=user)
