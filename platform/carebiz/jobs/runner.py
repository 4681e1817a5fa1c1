"""Submitting and running jobs."""

from __future__ import annotations

import inspect
import logging
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, current_app, g
from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from carebiz.db import utcnow
from carebiz.errors import NotFound, ServiceError, ValidationFailed
from carebiz.events import emit
from carebiz.jobs.leases import Heartbeat, renewal, runner_name, write_now
from carebiz.models.job import FAILED, FINISHED, QUEUED, RUNNING, Job
from carebiz.signals import core as signals
from carebiz.text import printable

log = logging.getLogger(__name__)


class BadParameters(Exception):
    """The job's parameters do not fit its task's signature."""


class JobContext:
    """What a task function gets: its own session, the user who submitted the job (``user``,
    ``None`` for scheduled jobs), and a way to report progress that pages see while the task
    still runs (progress is committed in a separate session)."""

    def __init__(self, app: Flask, job_id: str, session: Session, user_id: int | None,
                 user: Any = None):
        self.app = app
        self.job_id = job_id
        self.session = session
        self.user_id = user_id
        self.user = user

    def progress(self, percent: float, message: str = "") -> None:
        """Best effort: an update that cannot be written at once is skipped (the final status
        is always written); it renews the job's lease on the way."""
        percent = max(0, min(100, int(percent)))
        write_now(self.app, update(Job).where(Job.id == self.job_id).values(
            progress=percent, message=message[:500], **renewal(self.app)))


def task_registry(host: Any) -> dict[str, Any]:
    return {t.name: t for t in host.collect("tasks")}


def submit(session: Session, task: str, params: dict[str, Any] | None = None,
           user_id: int | None = None, app: Flask | None = None) -> Job:
    """Create the job record, commit it, and hand its id to the configured backend."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    ext = app.extensions["carebiz"]
    if task not in task_registry(ext.host):
        raise NotFound(_("No background task named '%(name)s'.", name=task))
    params = dict(params or {})
    job = Job(id=uuid.uuid4().hex, task=task, params=params, status=QUEUED,
              created_by=user_id)
    session.add(job)
    session.commit()
    ext.job_backend.enqueue(app, job.id)
    return job


def run_job(app: Flask, job_id: str) -> Job | None:
    """Run one queued job to its end, recording the outcome. Never raises for task errors.

    Each job gets an app context of its own (so its ``g``, DB session and identity are not
    the caller's), acts as its submitter (``current_user`` in any request context the task
    opens, and the actor of its audit entries), and holds a lease renewed by a heartbeat
    while it runs, so a job whose process dies is found and failed
    (:func:`carebiz.jobs.cleanup.sweep_dead`)."""
    factory = app.extensions["carebiz"].session_factory
    with app.app_context(), factory() as sess:
        claimed = sess.execute(
            update(Job).where(Job.id == job_id, Job.status == QUEUED)
            .values(status=RUNNING, started_at=utcnow(), runner=runner_name(),
                    **renewal(app))
        ).rowcount
        sess.commit()
        job = sess.get(Job, job_id)
        if not claimed:  # missing, or another runner has it
            return job
        task = task_registry(app.extensions["carebiz"].host).get(job.task)
        work = factory()
        try:
            with Heartbeat(app, job.id):
                if task is None:
                    raise NotFound(_("Task '%(name)s' is not available; is its subsystem "
                                     "switched off?", name=job.task))
                user = _act_as(app, work, job.created_by)
                ctx = JobContext(app, job.id, work, job.created_by, user)
                try:  # wrong parameters are the submitter's mistake, not the task's
                    inspect.signature(task.run).bind(ctx, **job.params)
                except TypeError as exc:
                    raise BadParameters(str(exc)) from exc
                result = task.run(ctx, **job.params)
                work.commit()
            job.status, job.result, job.progress = FINISHED, result, 100
        except ServiceError as exc:
            work.rollback()
            job.status, job.error = FAILED, exc.message
        except BadParameters as exc:
            work.rollback()
            job.status, job.error = FAILED, _("Bad parameters: %(error)s", error=str(exc))
        except Exception:
            work.rollback()
            log.exception("job %s (%s) failed", job.id, job.task)
            job.status, job.error = FAILED, traceback.format_exc(limit=5)
        finally:
            work.close()
        if job.error:  # a message may quote the bad input; the job's row must still save
            job.error = printable(job.error)
        job.finished_at = utcnow()
        job.lease_until = None
        emit(sess, signals.job_finished, job_id=job.id, task=job.task, status=job.status)
        sess.commit()
        return job


def _act_as(app: Flask, work: Session, user_id: int | None) -> Any:
    """Make the job's submitter the identity of this (the job's own) app context: Flask-Login
    keeps the user of a context in ``g._login_user``, so ``current_user`` in a request
    context the task opens (to render a page or a document) is the submitter and never a
    former caller; the session's ``actor`` signs the audit entries of its writes. Jobs
    without a submitter (scheduled) act as nobody."""
    from carebiz.models import User

    user = work.get(User, user_id) if user_id is not None else None
    g._login_user = user if user is not None else app.login_manager.anonymous_user()
    if user is not None:
        work.info["actor"] = user
    return user


class InlineBackend:
    """Runs the job at once in the caller."""

    name = "inline"

    def enqueue(self, app: Flask, job_id: str) -> None:
        run_job(app, job_id)


class ThreadBackend:
    """Runs jobs on a small pool of threads in this process (zero configuration)."""

    name = "thread"

    def __init__(self, workers: int = 2):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="carebiz-job")

    def enqueue(self, app: Flask, job_id: str) -> None:
        self.pool.submit(run_job, app, job_id)


class RqBackend:
    """Puts the job id on an rq queue; ``carebiz worker`` runs it."""

    name = "rq"

    def __init__(self, redis_url: str, queue: str):
        self.redis_url = redis_url
        self.queue_name = queue

    def queue(self) -> Any:
        from redis import Redis
        from rq import Queue

        return Queue(self.queue_name, connection=Redis.from_url(self.redis_url))

    def enqueue(self, app: Flask, job_id: str) -> None:
        self.queue().enqueue("carebiz.jobs.worker.rq_entry", job_id, job_id=f"carebiz-{job_id}")


def make_backend(config: dict[str, Any]) -> Any:
    kind = str(config.get("CAREBIZ_JOB_QUEUE") or "thread").lower()
    if kind == "inline":
        return InlineBackend()
    if kind == "thread":
        return ThreadBackend()
    if kind == "rq":
        return RqBackend(config["CAREBIZ_REDIS_URL"], config["CAREBIZ_RQ_QUEUE"])
    raise ValidationFailed(f"CAREBIZ_JOB_QUEUE must be thread, inline or rq, not '{kind}'")
