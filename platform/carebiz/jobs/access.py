"""Who may see a job: its submitter, and administrators (superuser roles). Nobody else.

A job's result holds what its submitter could see when it ran (an export's rows, an import
report with customers' names, printed documents), read with that user's branches and row
filters; showing it to another user, even one with more rights elsewhere, would let them read
another branch's data through it. Someone else's job answers 404, so ids reveal nothing.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from carebiz.models.job import Job


def may_see(user: Any, job: Job) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return (job.created_by is not None and job.created_by == user.id) or bool(
        getattr(user, "is_superuser", False))


def visible_job(session: Session, job_id: str, user: Any) -> Job | None:
    """The job ``job_id`` if ``user`` may see it (else ``None``), failed first if its
    process died (:func:`carebiz.jobs.cleanup.refresh_if_dead`)."""
    from carebiz.jobs.cleanup import refresh_if_dead

    job = session.get(Job, job_id)
    if job is None or not may_see(user, job):
        return None
    return refresh_if_dead(session, current_app._get_current_object(),  # type: ignore[attr-defined]
                           job)
