"""Leases of running jobs, so a job whose process died does not stay "running" for ever.

A process that runs a job holds a lease on it (``Job.lease_until``) and renews it from a
heartbeat thread every quarter of the lease (``CAREBIZ_JOB_LEASE`` seconds, 120 by default).
Nothing is told when a process is killed with SIGKILL, runs out of memory or loses its
machine; its leases simply run out, and :func:`carebiz.jobs.cleanup.sweep_dead` fails those
jobs. Renewals are written on their own connection, not in the task's transaction, and on
SQLite a renewal that finds the file locked (by the task's own writes) is skipped: the lease is
long enough to miss a few.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from typing import Any

from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError

from carebiz.db import utcnow
from carebiz.models.job import RUNNING, Job

log = logging.getLogger(__name__)


def lease_length(app: Flask) -> dt.timedelta:
    """How long a running job lives without a heartbeat (``CAREBIZ_JOB_LEASE`` seconds)."""
    try:
        seconds = float(app.config.get("CAREBIZ_JOB_LEASE") or 120)
    except (TypeError, ValueError):
        seconds = 120.0
    return dt.timedelta(seconds=max(seconds, 0.2))


def runner_name() -> str:
    """This process, as the job record names it ("host pid 1234"); read at each claim, since
    a forked worker has a pid of its own."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def renewal(app: Flask, now: dt.datetime | None = None) -> dict[str, Any]:
    """The column values of a fresh heartbeat."""
    now = now or utcnow()
    return {"heartbeat_at": now, "lease_until": now + lease_length(app)}


def write_now(app: Flask, statement: Any) -> bool:
    """Execute a small write on a connection of its own, at once or not at all: on SQLite
    the running task's uncommitted writes lock the file, and neither a progress bar nor a
    heartbeat is worth waiting for. Returns whether it was written."""
    engine = app.extensions["carebiz"].engine
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        try:
            if sqlite:
                conn.exec_driver_sql("PRAGMA busy_timeout = 100")
            conn.execute(statement)
            conn.commit()
            return True
        except SQLAlchemyError:
            conn.rollback()
            log.debug("skipped a job update: database busy or unreachable", exc_info=True)
            return False
        finally:
            if sqlite:  # give the pooled connection its normal patience back
                conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                conn.commit()


def renew(app: Flask, job_id: str) -> bool:
    return write_now(app, update(Job).where(Job.id == job_id, Job.status == RUNNING)
                     .values(**renewal(app)))


class Heartbeat:
    """Renews a running job's lease from a daemon thread until stopped (a context manager)."""

    def __init__(self, app: Flask, job_id: str):
        self.app = app
        self.job_id = job_id
        self.interval = lease_length(app).total_seconds() / 4
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"carebiz-heartbeat-{job_id[:8]}")

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                renew(self.app, self.job_id)
            except Exception:  # a heartbeat must never take its job down
                log.exception("heartbeat of job %s failed", self.job_id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
