"""Background jobs for long work: a :class:`~carebiz.models.Job` record with status, progress
and result that pages poll, run by one of three backends chosen by ``CAREBIZ_JOB_QUEUE``:

- ``thread`` (default): a small thread pool inside the web process, so the zero-configuration
  install needs nothing else;
- ``inline``: synchronously in the caller (tests, scripts);
- ``rq``: an rq queue on Redis (``CAREBIZ_REDIS_URL``), consumed by ``carebiz worker``.
"""

from carebiz.jobs.access import may_see, visible_job
from carebiz.jobs.runner import JobContext, run_job, submit, task_registry

__all__ = ["JobContext", "may_see", "run_job", "submit", "task_registry", "visible_job"]
