"""``carebiz worker``: runs queued jobs and scheduled jobs.

With ``CAREBIZ_JOB_QUEUE=rq`` it is an rq ``SimpleWorker`` (no fork per job, so the app and its
connection pool are built once). Otherwise it polls the job table for queued jobs (e.g. left
by a restarted web process) and runs them in-process. In both modes it enqueues scheduled
jobs when they are due, and fails the jobs whose process died (at start and on each round).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from carebiz.db import utcnow
from carebiz.jobs.cleanup import sweep_dead
from carebiz.jobs.runner import run_job, submit
from carebiz.models.job import QUEUED, Job

log = logging.getLogger(__name__)

_worker_app: Flask | None = None


def rq_entry(job_id: str) -> str:
    """What rq calls; the app is the one the worker process built at start."""
    app = _worker_app
    if app is None:  # a worker started without `carebiz worker` (plain `rq worker`)
        from carebiz import create_app

        app = create_app()
    job = run_job(app, job_id)
    return job.status if job is not None else "missing"


def due_schedules(app: Flask, now: dt.datetime | None = None) -> list[Any]:
    """Scheduled jobs whose task has not been submitted within their interval."""
    now = now or utcnow()
    host = app.extensions["carebiz"].host
    due = []
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        for sched in host.collect("scheduled_jobs"):
            last = sess.scalar(select(func.max(Job.created_at)).where(Job.task == sched.task))
            if last is None or now - last >= sched.every:
                due.append(sched)
    return due


def run_schedules(app: Flask) -> list[str]:
    """Submit every due scheduled job; return the job ids."""
    ids = []
    for sched in due_schedules(app):
        with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
            ids.append(submit(sess, sched.task, dict(sched.params), app=app).id)
    return ids


def run_queued(app: Flask, limit: int = 50) -> int:
    """Run jobs waiting in the table (thread/inline mode)."""
    with app.app_context(), app.extensions["carebiz"].session_factory() as sess:
        ids = list(sess.scalars(select(Job.id).where(Job.status == QUEUED)
                                .order_by(Job.created_at).limit(limit)))
    for job_id in ids:
        run_job(app, job_id)
    return len(ids)


def housekeeping(app: Flask) -> None:
    """One round of the worker besides running jobs: fail the running jobs whose process
    died (their lease ran out), then submit the scheduled jobs that are due."""
    try:
        sweep_dead(app)
    except Exception:
        log.exception("sweeping dead jobs failed")
    run_schedules(app)


def work(app: Flask, *, burst: bool = False, interval: float = 30.0) -> None:
    """Run until interrupted (or, with ``burst``, until nothing is left)."""
    global _worker_app
    _worker_app = app
    backend = app.extensions["carebiz"].job_backend
    if backend.name == "rq":
        from rq import SimpleWorker

        stop = threading.Event()

        def scheduler() -> None:
            while not stop.is_set():
                try:
                    housekeeping(app)
                except Exception:
                    log.exception("scheduler tick failed")
                stop.wait(interval)

        if not burst:
            threading.Thread(target=scheduler, daemon=True, name="carebiz-scheduler").start()
        else:
            housekeeping(app)
        queue = backend.queue()
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=burst)
        finally:
            stop.set()
        return
    while True:
        housekeeping(app)  # in-process backends run what they submit (thread: in the pool)
        run_queued(app)
        if burst:
            return
        time.sleep(interval)
