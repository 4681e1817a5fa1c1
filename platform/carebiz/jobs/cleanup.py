"""Cleaning up after jobs: failing the ones whose process died (their lease ran out, see
:mod:`carebiz.jobs.leases`) and removing the files jobs leave in the instance folder (stored
uploads, exports, printed PDFs).

The sweep runs when ``carebiz worker`` starts and on each of its rounds, in the scheduled
``core.purge_jobs``, and when a page or the API looks at a running job whose lease has passed,
so a dead job is reported even where no worker runs (thread backend).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carebiz.db import utcnow
from carebiz.events import emit
from carebiz.jobs.leases import lease_length
from carebiz.models.job import FAILED, RUNNING, Job
from carebiz.signals import core as signals

log = logging.getLogger(__name__)


def _dead(app: Flask, now: dt.datetime) -> ColumnElement[bool]:
    """Running, and its lease has passed (or, for a job that never had one, it started longer
    than a lease ago)."""
    return and_(Job.status == RUNNING, or_(
        Job.lease_until < now,
        and_(Job.lease_until.is_(None), Job.started_at < now - lease_length(app))))


def is_dead(app: Flask, job: Job, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    if job.status != RUNNING:
        return False
    if job.lease_until is not None:
        return job.lease_until < now
    return job.started_at is not None and job.started_at < now - lease_length(app)


def sweep_dead(app: Flask, job_ids: Iterable[str] | None = None,
               now: dt.datetime | None = None) -> list[str]:
    """Fail every running job whose lease has passed (only those of ``job_ids`` if given),
    with a reason naming the process that stopped, and remove its files. Each job is failed
    by a conditional update, so a job whose runner renewed its lease meanwhile, or that
    another sweep failed first, is left alone. Returns the ids of the jobs it failed.

    On SQLite a locked file means someone is writing, perhaps the very job that looks dead
    (its heartbeats wait behind its own transaction): the sweep then does not wait for the
    lock but leaves the job to a later sweep, by which time that job has usually ended."""
    now = now or utcnow()
    ext = app.extensions["carebiz"]
    sqlite = ext.engine.dialect.name == "sqlite"
    failed: list[str] = []
    with app.app_context(), ext.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA busy_timeout = 100")
            conn.commit()
        try:
            with ext.session_factory(bind=conn) as sess:
                _sweep(app, sess, job_ids, now, failed)
        except OperationalError:
            log.info("database busy: dead jobs are looked for again later", exc_info=True)
        finally:
            if sqlite:  # give the pooled connection its normal patience back
                conn.rollback()
                conn.exec_driver_sql("PRAGMA busy_timeout = 30000")
                conn.commit()
    return failed


def _sweep(app: Flask, sess: Session, job_ids: Iterable[str] | None, now: dt.datetime,
           failed: list[str]) -> None:
    stmt = select(Job).where(_dead(app, now)).order_by(Job.started_at)
    if job_ids is not None:
        stmt = stmt.where(Job.id.in_(list(job_ids)))
    for job in sess.scalars(stmt).all():
        seen = (job.heartbeat_at or job.started_at or now).strftime("%Y-%m-%d %H:%M:%S")
        reason = _("The process running this job stopped (%(runner)s, last heard of at "
                   "%(time)s UTC); the job did not finish. Start it again.",
                   runner=job.runner or "?", time=seen)
        claimed = sess.execute(
            update(Job).where(Job.id == job.id, _dead(app, now))
            .values(status=FAILED, error=reason, finished_at=now)
            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            sess.rollback()
            continue
        emit(sess, signals.job_finished, job_id=job.id, task=job.task, status=FAILED)
        sess.commit()
        log.warning("job %s (%s) failed: its process %s stopped", job.id, job.task, job.runner)
        remove_files(app, job)
        failed.append(job.id)


def refresh_if_dead(session: Session, app: Flask, job: Job) -> Job:
    """The job as it is, after failing it if it runs on a lease that has passed (a page or
    the API looking at it finds out first where no worker sweeps)."""
    if is_dead(app, job) and sweep_dead(app, [job.id]):
        session.refresh(job)
    return job


def job_files(app: Flask, job: Job) -> list[Path]:
    """The files on disk that belong to ``job``: what its task names (e.g. the import's
    stored upload), and the file its result offers for download (exports, printed PDFs)."""
    from carebiz.jobs.runner import task_registry

    paths: list[Path] = []
    task = task_registry(app.extensions["carebiz"].host).get(job.task)
    if task is not None and getattr(task, "files", None) is not None:
        paths.extend(task.files(app, job))
    result = job.result if isinstance(job.result, dict) else {}
    name = result.get("file")
    if isinstance(name, str) and name and "/" not in name and "\\" not in name \
            and not name.startswith("."):
        paths.append(_exports(app) / name)
    return paths


def remove_files(app: Flask, job: Job) -> int:
    """Delete the files of ``job``; returns how many were there."""
    removed = 0
    try:
        paths = job_files(app, job)
    except Exception:
        log.exception("cannot tell the files of job %s", job.id)
        return 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
        except OSError:
            log.exception("cannot remove %s of job %s", path, job.id)
    return removed


def purge_files(app: Flask, older_than: dt.datetime) -> int:
    """Delete files in the exports folder (exports, printed PDFs, and what dead or purged
    jobs left there) last written before ``older_than``."""
    cutoff = older_than.timestamp()
    removed = 0
    for path in _exports(app).iterdir():
        try:
            if path.is_file() and not path.name.startswith(".") \
                    and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def _exports(app: Flask) -> Path:
    from carebiz.export.service import exports_folder

    return exports_folder(app)



def purge_jobs(ctx: Any, days: int | None = None) -> dict[str, int]:
    """The ``core.purge_jobs`` task: fail the running jobs whose process died, then delete
    finished and failed jobs older than the setting ``core.jobs_keep_days`` with their files,
    and every file of that age in the exports folder (exports, printed PDFs, leftovers of jobs
    that died while writing)."""
    from carebiz.services.settings import get

    dead = sweep_dead(ctx.app)
    host = ctx.app.extensions["carebiz"].host
    keep = int(days if days is not None else get(ctx.session, host, "core.jobs_keep_days"))
    cutoff = utcnow() - dt.timedelta(days=keep)
    old = (Job.status.in_(("finished", "failed")), Job.finished_at < cutoff)
    files = sum(remove_files(ctx.app, job) for job in ctx.session.scalars(select(Job)
                                                                         .where(*old)))
    result = ctx.session.execute(delete(Job).where(*old))
    files += purge_files(ctx.app, cutoff)
    ctx.progress(100)
    return {"deleted": result.rowcount, "dead": len(dead), "files": files}
